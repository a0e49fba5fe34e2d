"""Webhooks from the running app: an order placed over the signed Open API with a callback_url is called back by
the app's own worker, signed so that the Standard Webhooks library verifies it, and tried again with backoff when
the reseller's system fails — for more than a day, by the actor's own retry schedule."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dramatiq.common
import httpx
import pytest
from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF

from adapters import bootstrap
from adapters.settings import Settings
from domain.api import sign, signing_string
from domain.services.callbacks import RETRY_LOST_AFTER
from tests.e2e.server import Server, running_app
from tests.integration.test_callbacks import Received, Receiver

SKU = "HOOK-1"


@dataclass
class ApiCaller:
    """A reseller's system: its key, and the app it calls."""

    server: Server
    key_id: str
    secret: str
    webhook_secret: str

    def order(self, out_trade_no: str, callback_url: str) -> httpx.Response:
        body = json.dumps({"sku": SKU, "quantity": 1, "out_trade_no": out_trade_no, "callback_url": callback_url})
        timestamp, nonce, path = str(int(time.time())), secrets.token_hex(12), "/api/v1/orders"
        signature = sign(self.secret, signing_string(timestamp, nonce, "POST", path, body.encode()))
        headers = {"X-Api-Key": self.key_id, "X-Timestamp": timestamp, "X-Nonce": nonce, "X-Signature": signature}
        return httpx.post(self.server.url + path, content=body, headers=headers | {"content-type": "application/json"})


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The embedded default (SQLite, in-process worker); callbacks may go to 127.0.0.1, where the receiver is."""
    with running_app(tmp_path_factory.mktemp("webhooks"), KAQUAN_ALLOW_PRIVATE_CALLBACKS="true") as server:
        yield server


@pytest.fixture(scope="module")
def caller(running: Server) -> ApiCaller:
    """A stocked product, and a reseller with money and a key, all made with the `kaquan` command."""

    def kaquan(*args: str) -> dict:
        done = running.kaquan("--json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    kaquan("product", "create", SKU, "--name", "Hook card", "--face-value", "10", "--price", "9.50", "--on-sale")
    codes = running.log.parent / "codes.txt"
    codes.write_text("".join(f"HOOK-{n:08d}\n" for n in range(10)))
    kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    reseller = kaquan("reseller", "create", "Hook Traders", "--contact", "hooks@example.com")
    kaquan("reseller", "topup", str(reseller["id"]), "200")
    key = kaquan("apikey", "create", "--reseller", str(reseller["id"]), "--label", "order server")
    return ApiCaller(running, key["key_id"], key["secret"], key["webhook_secret"])


def wait_for_callbacks(receiver: Receiver, count: int, log: Path, seconds: float = 60) -> list[Received]:
    """The first `count` requests the receiver got; the server's log when they do not come in time."""
    deadline = time.monotonic() + seconds
    while len(receiver.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(receiver.received) >= count, f"{len(receiver.received)} of {count} callbacks:\n{log.read_text()}"
    return receiver.received[:count]


def test_the_worker_calls_the_reseller_back_with_a_verifiable_webhook(caller):
    with Receiver(caller.webhook_secret).running() as receiver:
        placed = caller.order("HOOK-T-1", receiver.url)
        assert placed.status_code == 201, placed.text
        [received] = wait_for_callbacks(receiver, 1, caller.server.log)
    assert received.error == "", "verified by the Standard Webhooks library"
    assert received.path == "/hooks/kaquan?shop=1"
    assert received.payload["type"] == "order.delivered"
    assert received.payload["data"]["order_no"] == placed.json()["order_no"]
    assert received.payload["data"]["out_trade_no"] == "HOOK-T-1"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"].startswith("msg_")


def test_a_failing_receiver_gets_the_same_webhook_again_after_a_backoff(caller):
    with Receiver(caller.webhook_secret, answers=[500]).running() as receiver:
        placed = caller.order("HOOK-T-2", receiver.url)
        assert placed.status_code == 201, placed.text
        refused, accepted = wait_for_callbacks(receiver, 2, caller.server.log)
    assert refused.error == accepted.error == ""
    assert refused.headers["webhook-id"] == accepted.headers["webhook-id"] and refused.body == accepted.body
    assert int(accepted.headers["webhook-timestamp"]) > int(refused.headers["webhook-timestamp"]), "after a backoff"
    assert accepted.payload["data"]["order_no"] == placed.json()["order_no"]


def test_the_retry_schedule_spans_more_than_a_day(tmp_path, monkeypatch):
    """The actor's own options, and dramatiq's backoff with the shortest jitter it can draw: the last try comes
    more than 24 h after the first. No wait between two tries is as long as the sweeper's patience, so a message
    that is only waiting for its retry is never taken for a lost one."""
    broker = bootstrap.install_broker(Settings(var_dir=tmp_path / "var", _env_file=None))
    actor = broker.get_actor("call_back")
    options = actor.options
    assert actor.queue_name == "webhooks" and options["on_retry_exhausted"] == "call_back_gave_up"
    monkeypatch.setattr(dramatiq.common, "uniform", lambda low, high: low)  # the shortest of every jittered wait
    max_backoff = min(options["max_backoff"], DEFAULT_MAX_BACKOFF)
    waits = [
        dramatiq.common.compute_backoff(retry, factor=options["min_backoff"], max_backoff=max_backoff)[1]
        for retry in range(options["max_retries"])
    ]
    assert timedelta(milliseconds=sum(waits)) >= timedelta(hours=24)
    longest = timedelta(milliseconds=max_backoff + options["time_limit"])
    assert longest < RETRY_LOST_AFTER
