"""Codes sealed with AES-GCM: bound to their row, readable after key rotation, fingerprints keyed."""

from __future__ import annotations

import base64
import secrets
from dataclasses import replace

import pytest

from adapters.keys import KeyRing
from adapters.vault import AesGcmVault
from domain.codepool import CardSecret, VaultError, binding

SECRET = CardSecret.of("ABCD-1234-EFGH-5678", "PIN-0042")


def ring(*ids: str) -> KeyRing:
    return KeyRing.parse(",".join(KeyRing.generate_entry(key_id) for key_id in ids))


@pytest.fixture
def vault() -> AesGcmVault:
    return AesGcmVault(ring("k1"), secrets.token_bytes(32))


def test_a_sealed_code_opens_with_its_binding_and_hides_the_plaintext(vault):
    where = binding(7, vault.fingerprint(SECRET.number))
    sealed = vault.seal(SECRET.plaintext(), binding=where)
    assert sealed.key_id == "k1" and len(sealed.nonce) == 12
    assert SECRET.number.encode() not in sealed.ciphertext and b"PIN-0042" not in sealed.ciphertext
    assert CardSecret.from_plaintext(vault.open(sealed, binding=where)) == SECRET


def test_the_same_code_sealed_twice_differs(vault):
    where = binding(7, vault.fingerprint(SECRET.number))
    assert vault.seal(SECRET.plaintext(), binding=where) != vault.seal(SECRET.plaintext(), binding=where)


def test_a_ciphertext_moved_to_another_row_or_altered_does_not_open(vault):
    sealed = vault.seal(SECRET.plaintext(), binding=binding(7, vault.fingerprint(SECRET.number)))
    with pytest.raises(VaultError):
        vault.open(sealed, binding=binding(8, vault.fingerprint(SECRET.number)))
    with pytest.raises(VaultError):
        vault.open(sealed, binding=binding(7, vault.fingerprint("OTHER")))
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(VaultError):
        vault.open(replace(sealed, ciphertext=flipped), binding=binding(7, vault.fingerprint(SECRET.number)))


def test_after_rotation_new_codes_use_the_new_key_and_old_ones_still_open():
    old_ring = ring("k1")
    fingerprint_key = secrets.token_bytes(32)
    before = AesGcmVault(old_ring, fingerprint_key)
    where = binding(1, before.fingerprint(SECRET.number))
    old = before.seal(SECRET.plaintext(), binding=where)
    rotated = KeyRing.parse(KeyRing.generate_entry("k2") + "," + "k1:" + _b64(old_ring.keys["k1"]))
    after = AesGcmVault(rotated, fingerprint_key)
    assert after.seal(b"x", binding=where).key_id == "k2"
    assert after.open(old, binding=where) == SECRET.plaintext()
    with pytest.raises(VaultError):
        AesGcmVault(ring("k3"), fingerprint_key).open(old, binding=where)


def test_fingerprints_are_stable_and_depend_on_the_key():
    key = secrets.token_bytes(32)
    assert AesGcmVault(ring("a"), key).fingerprint("X") == AesGcmVault(ring("b"), key).fingerprint("X")
    assert AesGcmVault(ring("a"), key).fingerprint("X") != AesGcmVault(ring("a"), secrets.token_bytes(32)).fingerprint(
        "X"
    )
    assert len(AesGcmVault(ring("a"), key).fingerprint("X")) == 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
