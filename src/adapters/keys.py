"""Secrets the app cannot run without: the session/CSRF secret and the code-encryption key ring.

Production takes them from the environment and refuses to start without them; dev mode generates
missing ones once into <var_dir>/keys (mode 0600) and says so.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from adapters.settings import Settings

log = structlog.get_logger(__name__)

KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")  # stored with every sealed code


class MissingSecrets(RuntimeError):
    """Production mode without the secrets it needs; the message names each missing variable."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    """AES-256 keys by id. The first key encrypts new codes; every key can still decrypt."""

    keys: dict[str, bytes]
    active: str

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep or not key_id:
                raise ValueError("each key ring entry is 'id:base64key'")
            if not _KEY_ID.match(key_id):
                raise ValueError(f"key id {key_id!r}: 1–16 letters, digits, dash or underscore")
            key = _unb64(encoded)
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes, got {len(key)}")
            if key_id in keys:
                raise ValueError(f"key id {key_id!r} appears twice")
            keys[key_id] = key
        if not keys:
            raise ValueError("the key ring is empty")
        return cls(keys, next(iter(keys)))

    @staticmethod
    def generate_entry(key_id: str) -> str:
        return f"{key_id}:{_b64(secrets.token_bytes(KEY_BYTES))}"

    def text(self) -> str:
        """The ring as `KAQUAN_CODE_KEYS` takes it, the active key first."""
        ordered = [self.active, *(key_id for key_id in self.keys if key_id != self.active)]
        return ",".join(f"{key_id}:{_b64(self.keys[key_id])}" for key_id in ordered)

    def with_new_key(self) -> KeyRing:
        """A fresh key in front (it seals from now on); every older key stays to open what it sealed."""
        numbers = [int(key_id[1:]) for key_id in self.keys if key_id[:1] == "k" and key_id[1:].isdigit()]
        new_id = f"k{max(numbers, default=0) + 1}"
        return KeyRing({new_id: secrets.token_bytes(KEY_BYTES), **self.keys}, new_id)


@dataclass(frozen=True, slots=True)
class Secrets:
    secret_key: str
    code_keys: KeyRing
    fingerprint_key: bytes
    epay_key: str


def load_secrets(settings: Settings) -> Secrets:
    """The app's secrets from settings, generating dev-mode defaults once; fails loudly in production."""
    given = {
        "KAQUAN_SECRET_KEY": settings.secret_key,
        "KAQUAN_CODE_KEYS": settings.code_keys,
        "KAQUAN_FINGERPRINT_KEY": settings.fingerprint_key,
        "KAQUAN_EPAY_KEY": settings.epay_key,
    }
    missing = [name for name, value in given.items() if value is None]
    if missing and settings.is_production:
        raise MissingSecrets("production mode (KAQUAN_ENV=production) refuses to start without: " + ", ".join(missing))
    values = {name: value.get_secret_value() for name, value in given.items() if value is not None}
    if missing:
        store = settings.var_dir / "keys"
        generators = {
            "KAQUAN_SECRET_KEY": lambda: _b64(secrets.token_bytes(KEY_BYTES)),
            "KAQUAN_CODE_KEYS": lambda: KeyRing.generate_entry("k1"),
            "KAQUAN_FINGERPRINT_KEY": lambda: _b64(secrets.token_bytes(KEY_BYTES)),
            # The sandbox gateway signs with the same key: dev mode pays itself.
            "KAQUAN_EPAY_KEY": lambda: secrets.token_hex(16),
        }
        for name in missing:
            values[name] = _dev_secret(store, name, generators[name])
    fingerprint = _unb64(values["KAQUAN_FINGERPRINT_KEY"])
    if len(fingerprint) < KEY_BYTES or len(values["KAQUAN_SECRET_KEY"]) < 32:
        raise MissingSecrets("KAQUAN_SECRET_KEY and KAQUAN_FINGERPRINT_KEY must hold at least 32 bytes")
    return Secrets(
        values["KAQUAN_SECRET_KEY"], KeyRing.parse(values["KAQUAN_CODE_KEYS"]), fingerprint, values["KAQUAN_EPAY_KEY"]
    )


def rotate_code_keys(settings: Settings) -> tuple[KeyRing, Path | None]:
    """Add a new code key in front of the ring. Dev mode rewrites <var_dir>/keys/code_keys and says where;
    with the ring in the environment, the caller must publish the returned ring itself (None)."""
    ring = load_secrets(settings).code_keys.with_new_key()
    if settings.code_keys is not None:
        return ring, None
    path = settings.var_dir / "keys" / "code_keys"
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(ring.text() + "\n")
    os.replace(draft, path)
    return ring, path


def _dev_secret(store: Path, name: str, generate: Callable[[], str]) -> str:
    path = store / name.removeprefix("KAQUAN_").lower()
    if not path.exists():
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written aside, then linked into place: two processes starting at once agree on one value.
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate() + "\n")
        try:
            os.link(draft, path)
            log.warning(
                "generated a dev-mode secret; set it in the environment for production",
                secret=name,
                file=str(path),
            )
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
