"""The production path: PostgreSQL, Redis-backed sessions and counters, and separate `kaquan worker` processes."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from adapters.keys import KeyRing
from tests.e2e.client import Browser
from tests.e2e.server import KAQUAN, OWNER_PASSWORD, Server, running_app
from tests.services import throwaway_postgres, throwaway_redis_namespace


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with throwaway_postgres() as database_url, throwaway_redis_namespace() as (redis_url, namespace):
        secrets = {
            "KAQUAN_ENV": "production",
            "KAQUAN_SECRET_KEY": "e2e-secret-key-" + "x" * 40,
            "KAQUAN_CODE_KEYS": KeyRing.generate_entry("k1"),
            "KAQUAN_FINGERPRINT_KEY": KeyRing.generate_entry("f").split(":")[1],
            "KAQUAN_EPAY_KEY": "production-merchant-key",
            "KAQUAN_EPAY_URL": "https://pay.example.com/submit.php",
            "KAQUAN_PUBLIC_URL": "https://shop.example.com",
        }
        with running_app(
            tmp_path_factory.mktemp("prod"),
            KAQUAN_DATABASE_URL=database_url,
            KAQUAN_REDIS_URL=redis_url,
            KAQUAN_REDIS_NAMESPACE=namespace,
            **secrets,
        ) as server:
            yield server


def test_production_mode_refuses_to_start_without_its_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAQUAN_")}
    env |= {"KAQUAN_ENV": "production", "KAQUAN_VAR_DIR": str(tmp_path)}
    done = subprocess.run([*KAQUAN, "setup", "--no-demo"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "KAQUAN_SECRET_KEY" in done.stderr and "KAQUAN_CODE_KEYS" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "keys").exists()


def test_sign_in_sessions_and_readiness_on_postgres_and_redis(production_server):
    browser = Browser(production_server.url, **{"Accept-Language": "en"})
    assert browser.login("owner", OWNER_PASSWORD).status_code == 303
    assert "Welcome, Owner" in browser.get("/admin").text
    cookie = next(c for c in browser.http.cookies.jar if c.name == "kaquan_session")
    assert cookie.secure, "production session cookies are Secure"
    ready = browser.get("/readyz").json()
    assert ready == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_the_worker_process_consumes_the_queue(production_server):
    browser = Browser(production_server.url, **{"Accept-Language": "en"})
    browser.login("owner", OWNER_PASSWORD)
    deadline = time.monotonic() + 30
    while "Running: the queue is being consumed." not in browser.get("/admin").text:
        assert time.monotonic() < deadline, "no heartbeat from the kaquan worker process"
        time.sleep(0.5)


def test_the_login_throttle_is_shared_through_redis(production_server):
    production_server.add_staff("target", "clerk", "target's password")
    codes = [Browser(production_server.url).login("target", f"guess {n}", htmx=True).status_code for n in range(6)]
    assert codes == [401] * 5 + [429]


def test_production_has_no_sandbox_gateway_and_sends_buyers_to_the_real_one(production_server):
    assert httpx.get(f"{production_server.url}/sandbox/pay/submit.php?pid=1000").status_code == 404
    made = production_server.kaquan(
        "product", "create", "PROD-1", "--name", "Card", "--face-value", "10", "--price", "9.50", "--kind", "manual",
        "--on-sale",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    buyer = Browser(production_server.url)
    buyer.get("/p/PROD-1")
    placed = buyer.post("/p/PROD-1/orders", {"contact": "buyer@example.com", "quantity": "1"})
    assert placed.status_code == 303
    assert placed.headers["location"].startswith("https://pay.example.com/submit.php?pid=1000&")
    assert "notify_url=https%3A%2F%2Fshop.example.com%2Fpay%2Fepay%2Fnotify" in placed.headers["location"]
    assert "form-action 'self' https://pay.example.com" in placed.headers["content-security-policy"]
