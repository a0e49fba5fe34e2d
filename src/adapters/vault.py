"""AES-256-GCM for codes at rest (cryptography's AESGCM) and HMAC-SHA256 fingerprints.

Each sealed code records the id of the key that sealed it, so keys rotate without a flag day:
new codes use the ring's first key, old ones open with whichever key sealed them.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.keys import KeyRing
from domain.codepool import Sealed, VaultError

NONCE_BYTES = 12  # 96-bit random nonces, as GCM recommends; a key seals far fewer than 2^32 codes


class AesGcmVault:
    def __init__(self, ring: KeyRing, fingerprint_key: bytes) -> None:
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._active = ring.active
        self._fingerprint_key = fingerprint_key

    @property
    def active_key(self) -> str:
        return self._active

    def seal(self, plaintext: bytes, *, binding: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._ciphers[self._active].encrypt(nonce, plaintext, binding.encode())
        return Sealed(self._active, nonce, ciphertext)

    def open(self, sealed: Sealed, *, binding: str) -> bytes:
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise VaultError(f"no key {sealed.key_id!r} in the key ring")
        try:
            return cipher.decrypt(sealed.nonce, sealed.ciphertext, binding.encode())
        except InvalidTag:
            raise VaultError("a sealed code failed its integrity check") from None

    def fingerprint(self, number: str) -> bytes:
        return hmac.new(self._fingerprint_key, number.encode(), hashlib.sha256).digest()
