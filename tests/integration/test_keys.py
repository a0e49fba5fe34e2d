"""Secrets: generated once in dev mode (0600), required in production, key rings validated."""

from __future__ import annotations

import base64
import stat

import pytest

from adapters.keys import KeyRing, MissingSecrets, load_secrets, rotate_code_keys
from adapters.settings import Settings


def settings(tmp_path, **values) -> Settings:
    return Settings(var_dir=tmp_path, _env_file=None, **values)


def test_dev_mode_generates_missing_secrets_once_with_private_permissions(tmp_path):
    first = load_secrets(settings(tmp_path))
    second = load_secrets(settings(tmp_path))
    assert first == second
    assert len(first.code_keys.keys[first.code_keys.active]) == 32 and len(first.fingerprint_key) == 32
    keys_dir = tmp_path / "keys"
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for name in ("secret_key", "code_keys", "fingerprint_key", "epay_key"):
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in keys_dir.iterdir()) == ["code_keys", "epay_key", "fingerprint_key", "secret_key"]


def test_production_refuses_to_start_and_names_what_is_missing(tmp_path):
    ring = KeyRing.generate_entry("k1")
    with pytest.raises(MissingSecrets) as caught:
        load_secrets(settings(tmp_path, env="production", code_keys=ring))
    assert "KAQUAN_SECRET_KEY" in str(caught.value) and "KAQUAN_FINGERPRINT_KEY" in str(caught.value)
    assert "KAQUAN_EPAY_KEY" in str(caught.value)
    assert "KAQUAN_CODE_KEYS" not in str(caught.value)
    assert not (tmp_path / "keys").exists(), "production never writes secrets to disk"


def test_production_takes_secrets_from_the_environment(tmp_path, monkeypatch):
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    monkeypatch.setenv("KAQUAN_ENV", "production")
    monkeypatch.setenv("KAQUAN_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("KAQUAN_CODE_KEYS", f"k2:{key},k1:{KeyRing.generate_entry('x').split(':')[1]}")
    monkeypatch.setenv("KAQUAN_FINGERPRINT_KEY", key)
    monkeypatch.setenv("KAQUAN_EPAY_KEY", "merchant-key")
    loaded = load_secrets(Settings(var_dir=tmp_path, _env_file=None))
    assert loaded.code_keys.active == "k2" and set(loaded.code_keys.keys) == {"k1", "k2"}
    assert loaded.fingerprint_key == bytes(range(32)) and loaded.epay_key == "merchant-key"


@pytest.mark.parametrize(
    "ring",
    ["", "nokey", ":abc", "k1:" + base64.urlsafe_b64encode(b"short").decode(), "k1:{k},k1:{k}"],
)
def test_malformed_key_rings_are_refused(ring):
    entry = KeyRing.generate_entry("k1").split(":")[1]
    with pytest.raises(ValueError):
        KeyRing.parse(ring.format(k=entry))


def test_a_weak_secret_key_is_refused(tmp_path):
    with pytest.raises(MissingSecrets):
        load_secrets(settings(tmp_path, secret_key="too-short"))


def test_rotation_with_the_ring_in_the_environment_writes_nothing(tmp_path):
    given = KeyRing.parse(KeyRing.generate_entry("k1") + "," + KeyRing.generate_entry("k7"))
    ring, path = rotate_code_keys(settings(tmp_path, code_keys=given.text()))
    assert path is None and ring.active == "k8" and ring.keys["k1"] == given.keys["k1"]
    assert KeyRing.parse(ring.text()) == ring
    assert not (tmp_path / "keys" / "code_keys").exists()
