"""argon2id password hashing (argon2-cffi), run off the event loop because it is deliberately slow."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        # argon2-cffi's defaults follow RFC 9106's second recommended option (argon2id, 64 MiB, t=3).
        self._hasher = hasher or PasswordHasher()

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def hash_now(self, password: str) -> str:
        """Synchronous hashing for start-up, before any event loop runs."""
        return self._hasher.hash(password)
