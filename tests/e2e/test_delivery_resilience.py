"""Paid orders are never lost: a worker killed in the middle of a delivery, or a delivery message that
vanished with Redis, only delays delivery — the sweeper queues it again and it happens exactly once.

Runs the production topology (PostgreSQL, Redis, a separate `kaquan worker`) with a fast sweeper."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from adapters.payments.epay import signed
from tests.e2e.client import Browser
from tests.e2e.server import Server, running_app
from tests.services import throwaway_postgres, throwaway_redis_namespace

SKU = "RESILIENT-1"
EPAY_KEY = "e2e-merchant-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with (
        throwaway_postgres() as database_url,
        throwaway_redis_namespace() as (redis_url, namespace),
        running_app(
            tmp_path_factory.mktemp("resilience"),
            KAQUAN_DATABASE_URL=database_url,
            KAQUAN_REDIS_URL=redis_url,
            KAQUAN_REDIS_NAMESPACE=namespace,
            KAQUAN_EPAY_KEY=EPAY_KEY,
            KAQUAN_ORDER_SWEEP_SECONDS="1",
        ) as running,
    ):
        made = running.kaquan("product", "create", SKU, "--name", "Card", "--face-value", "10", "--price", "9.50",
                              "--on-sale")  # fmt: skip
        assert made.returncode == 0, made.stderr
        codes = running.log.parent / "codes.txt"
        codes.write_text("".join(f"RES-{n:08d}\n" for n in range(20)))
        loaded = running.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
        assert loaded.returncode == 0, loaded.stderr
        yield running


def database(server: Server) -> psycopg.Connection:
    url = make_url(server.env["KAQUAN_DATABASE_URL"]).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def place_and_pay(server: Server, quantity: int, contact: str) -> str:
    browser = Browser(server.url, **{"X-Forwarded-For": f"198.51.100.{quantity}"})
    browser.get(f"/p/{SKU}")
    placed = browser.post(f"/p/{SKU}/orders", {"contact": contact, "quantity": str(quantity)}, htmx=True)
    payment = httpx.URL(placed.headers["hx-redirect"]).params
    notice = {"pid": "1000", "trade_no": f"T{payment['out_trade_no']}", "out_trade_no": payment["out_trade_no"],
              "money": payment["money"], "name": payment["name"], "trade_status": "TRADE_SUCCESS"}  # fmt: skip
    answer = httpx.post(f"{server.url}/pay/epay/notify", data=signed(notice, EPAY_KEY))
    assert answer.text == "success"
    return payment["out_trade_no"]


def wait_until_delivered(db: psycopg.Connection, number: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.execute("SELECT status FROM orders WHERE number = %s", (number,)).fetchone()[0] == "delivered":
            return
        time.sleep(0.2)
    raise AssertionError(f"order {number} was not delivered")


def assert_delivered_once(db: psycopg.Connection, number: str, quantity: int) -> None:
    units = db.execute(
        "SELECT d.unit, d.code_id FROM deliveries d JOIN orders o ON o.id = d.order_id WHERE o.number = %s",
        (number,),
    ).fetchall()
    assert sorted(unit for unit, _ in units) == list(range(1, quantity + 1))
    sold = db.execute("SELECT count(*) FROM codes WHERE holder = %s AND state = 'sold'", (f"order:{number}",))
    assert sold.fetchone()[0] == quantity == len({code for _, code in units})
    reserved = db.execute("SELECT count(*) FROM codes WHERE holder = %s AND state = 'reserved'", (f"order:{number}",))
    assert reserved.fetchone()[0] == 0


def test_a_worker_killed_mid_delivery_delays_it_but_delivers_exactly_once(server):
    server.stop_worker()
    number = place_and_pay(server, 2, "killed@example.com")
    with database(server) as db, database(server) as blocker:
        # Hold the order's row so the worker's delivery transaction stops half-way, waiting for it.
        blocker.execute("BEGIN")
        blocker.execute("SELECT id FROM orders WHERE number = %s FOR UPDATE", (number,))
        server.start_worker()
        deadline = time.monotonic() + 30
        while not _someone_waits_for_a_lock(db, blocker):
            assert time.monotonic() < deadline, "the worker never started delivering"
            time.sleep(0.1)
        server.kill_worker()  # mid-delivery: its transaction dies with it
        blocker.execute("ROLLBACK")
        assert db.execute("SELECT status FROM orders WHERE number = %s", (number,)).fetchone()[0] == "paid"
        server.start_worker()
        wait_until_delivered(db, number)
        assert_delivered_once(db, number, 2)
        time.sleep(2)  # late duplicates (sweeper, redelivered messages) change nothing
        assert_delivered_once(db, number, 2)


def test_a_delivery_message_lost_with_redis_is_sent_again_by_the_sweeper(server):
    server.stop_worker()
    number = place_and_pay(server, 3, "lost@example.com")
    broker = redis.Redis.from_url(server.env["KAQUAN_REDIS_URL"])
    queued = list(broker.scan_iter(match=f"{server.env['KAQUAN_REDIS_NAMESPACE']}:dramatiq*"))
    assert queued, "the delivery message was queued"
    broker.delete(*queued)  # as a Redis restart without persistence would
    server.start_worker()
    with database(server) as db:
        wait_until_delivered(db, number)
        assert_delivered_once(db, number, 3)


def _someone_waits_for_a_lock(db: psycopg.Connection, blocker: psycopg.Connection) -> bool:
    waiting = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        " AND pid <> %s",
        (blocker.info.backend_pid,),
    ).fetchone()[0]
    return waiting > 0
