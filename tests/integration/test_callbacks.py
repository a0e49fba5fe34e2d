"""Callbacks to API callers on the real database (SQLite and PostgreSQL) and over real HTTP to a receiver on
127.0.0.1 that checks every request with the Standard Webhooks library, as a reseller's system would: each
order outcome is written as a message with the order's change, posted until a 2xx, every attempt kept."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dramatiq
import pytest
from standardwebhooks import Webhook

from adapters import bootstrap
from adapters.outbound import DnsResolver
from adapters.settings import Settings
from domain.api import NewKey
from domain.audit import Actor
from domain.errors import NotFound, ValidationFailed
from domain.orders import OrderStatus
from domain.paging import PageRequest
from domain.resellers import Reseller, ResellerDraft
from domain.services.api_orders import ApiOrder, ApiOrders
from domain.services.callbacks import CallbackNotAccepted, Callbacks
from domain.services.order_desk import OrderDesk
from domain.webhooks import MessageStatus, WebhookMessage
from tests.integration.shopping import RecordedJobs, stocked
from tests.unit.fakes import KnownHosts

CLI = Actor.cli()
# Where callbacks of tests that never send them point: loopback (allowed here), the discard port.
NOWHERE = "http://127.0.0.1:9/hooks/kaquan"


@dataclass
class Received:
    """One request the receiver got: what came, and what the Standard Webhooks library made of it."""

    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any  # the verified payload; None when verification failed
    error: str


class Receiver:
    """A reseller's webhook endpoint on 127.0.0.1. It answers the scripted statuses in turn (200 once they are
    spent) and verifies every request with `standardwebhooks` under the key's webhook secret. `endless`: each
    answer's body never ends (until the client hangs up)."""

    def __init__(self, secret: str, answers: list[int] | None = None, *, endless: bool = False) -> None:
        self.secret = secret
        self.answers = list(answers or [])
        self.endless = endless
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    payload, error = Webhook(receiver.secret).verify(body, headers), ""
                except Exception as refused:  # the library's verdict is what the test looks at
                    payload, error = None, f"{type(refused).__name__}: {refused}"
                receiver.received.append(Received(self.path, headers, body, payload, error))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("location", "/somewhere-else")
                self.send_header("content-length", str(10**12 if receiver.endless else 0))
                self.end_headers()
                with suppress(OSError):  # the client hung up: as it should
                    while receiver.endless:
                        self.wfile.write(b"x" * 65536)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/kaquan?shop=1"

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)


@dataclass
class CallbackJobs(RecordedJobs):
    called_back: list[int] = field(default_factory=list)

    async def call_back(self, order_id: int) -> None:
        self.called_back.append(order_id)


class ShiftedClock:
    """The system clock, shifted: what the sweeper sees some time from now."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class Caller:
    """A reseller with money and an API key, and the services it meets, with their queue recorded."""

    reseller: Reseller
    key: NewKey
    jobs: CallbackJobs
    api_orders: ApiOrders
    callbacks: Callbacks
    order_desk: OrderDesk

    async def order(self, callback_url: str, out_trade_no: str = "T-1", quantity: int = 1) -> ApiOrder:
        body = {"sku": "IQ-M", "quantity": quantity, "out_trade_no": out_trade_no, "callback_url": callback_url}
        placed, _ = await self.api_orders.place(self.key.key, self.reseller, body, Actor.api(self.key.key.key_id, None))
        return placed

    async def messages(self) -> list[WebhookMessage]:
        return (await self.callbacks.messages(self.reseller.id or 0, PageRequest(1, 50))).items

    async def attempts(self, message: WebhookMessage) -> list[tuple[int | None, str]]:
        _, attempts = await self.callbacks.message(self.reseller.id or 0, message.id or 0)
        return [(attempt.status_code, attempt.error) for attempt in attempts]


@pytest.fixture
def settings(migrated_url: str, tmp_path: Path) -> Settings:
    """As the merchant of a closed network would set it: callbacks may go to 127.0.0.1 (the test receiver)."""
    return Settings(var_dir=tmp_path / "var", database_url=migrated_url, allow_private_callbacks=True, _env_file=None)


async def new_caller(container, name: str = "Hooks") -> Caller:
    reseller = await container.resellers.create(ResellerDraft(name, f"{name.lower()}@example.com"), CLI)
    await container.resellers.top_up(reseller.id, "500", "bank transfer", CLI)
    key = await container.api_keys.create(reseller.id, "order server", "", CLI)
    jobs = CallbackJobs()
    callbacks = replace(container.callbacks, jobs=jobs)
    api_orders = replace(
        container.api_orders,
        jobs=jobs,
        payments=replace(container.balance_payments, jobs=jobs),
        delivery=replace(container.delivery, jobs=jobs),
        callbacks=callbacks,
    )
    return Caller(reseller, key, jobs, api_orders, callbacks, replace(container.order_desk, jobs=jobs))


@pytest.fixture
async def caller(container) -> Caller:
    await stocked(container, count=5)
    return await new_caller(container)


async def test_a_delivered_api_order_owes_its_caller_exactly_one_message(caller):
    placed = await caller.order(NOWHERE)
    assert placed.order.status is OrderStatus.DELIVERED and len(placed.codes) == 1
    again = await caller.order(NOWHERE)  # the same request: the same order
    assert again.order.number == placed.order.number
    [message] = await caller.messages()
    assert (message.event, message.status, message.attempts) == ("order.delivered", MessageStatus.PENDING, 0)
    assert message.url == NOWHERE and message.order_id == placed.order.id
    assert message.created_at == placed.order.updated_at, "written with the delivery"
    assert message.payload["data"]["order_no"] == placed.order.number
    assert message.payload["data"]["status"] == "delivered"
    assert placed.codes[0].code.number not in json.dumps(message.payload), "codes are fetched, never pushed"
    assert caller.jobs.called_back == [placed.order.id]


async def test_the_message_stands_or_falls_with_the_orders_change(caller):
    placed = await caller.order(NOWHERE)
    async with caller.order_desk.uow() as uow:
        order = await uow.orders.get(placed.order.id)
        order.end(OrderStatus.REFUNDED, datetime.now(UTC), "rolled back", "owner")
        await uow.orders.save(order)
        # left without commit: the refund never happened, so neither may its announcement
    assert [m.event for m in await caller.messages()] == ["order.delivered"]


async def test_an_order_without_callback_url_owes_no_message(caller):
    placed, _ = await caller.api_orders.place(
        caller.key.key, caller.reseller, {"sku": "IQ-M", "out_trade_no": "T-quiet"}, Actor.api("k", None)
    )
    assert placed.order.status is OrderStatus.DELIVERED
    assert await caller.messages() == [] and caller.jobs.called_back == []


async def test_a_refused_callback_is_tried_again_and_every_attempt_is_kept(caller):
    with Receiver(caller.key.webhook_secret, answers=[500]).running() as receiver:
        placed = await caller.order(receiver.url)
        with pytest.raises(CallbackNotAccepted):
            await caller.callbacks.send(placed.order.id)
        [message] = await caller.messages()
        assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
        assert await caller.attempts(message) == [(500, "Internal Server Error")]

        await caller.callbacks.send(placed.order.id)
        [message] = await caller.messages()
        assert (message.status, message.attempts) == (MessageStatus.DELIVERED, 2)
        assert message.delivered_at is not None
        assert await caller.attempts(message) == [(500, "Internal Server Error"), (200, "")]

        await caller.callbacks.send(placed.order.id)  # a late copy of the queue message: nothing left to send
    first, second = receiver.received
    assert first.error == second.error == "", "both verified by the Standard Webhooks library"
    assert first.path == second.path == "/hooks/kaquan?shop=1"
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message.msg_id
    assert first.body == second.body == message.body
    assert first.headers["content-type"] == "application/json"
    assert second.payload["type"] == "order.delivered"
    assert second.payload["data"]["out_trade_no"] == "T-1" and second.payload["data"]["order_no"] == placed.order.number


async def test_a_redirect_is_not_an_acceptance_and_is_not_followed(caller):
    with Receiver(caller.key.webhook_secret, answers=[302]).running() as receiver:
        placed = await caller.order(receiver.url)
        with pytest.raises(CallbackNotAccepted):
            await caller.callbacks.send(placed.order.id)
    [message] = await caller.messages()
    assert message.status is MessageStatus.PENDING
    assert [status for status, _ in await caller.attempts(message)] == [302]
    assert [r.path for r in receiver.received] == ["/hooks/kaquan?shop=1"]


async def test_a_refund_is_announced_after_the_delivery(caller):
    with Receiver(caller.key.webhook_secret).running() as receiver:
        placed = await caller.order(receiver.url)
        await caller.callbacks.send(placed.order.id)
        await caller.order_desk.refund(placed.order.id, "the caller asked", CLI)
        assert caller.jobs.called_back == [placed.order.id, placed.order.id]
        newest, _ = await caller.messages()
        assert (newest.event, newest.status) == ("order.refunded", MessageStatus.PENDING)
        await caller.callbacks.send(placed.order.id)
    assert [r.payload["type"] for r in receiver.received] == ["order.delivered", "order.refunded"]
    assert receiver.received[1].payload["data"]["status"] == "refunded"
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 2, "two events, two ids"


async def test_a_caller_sees_its_events_in_order(caller):
    """The refund waits while the delivery's message is refused: a caller never learns of a refund first."""
    with Receiver(caller.key.webhook_secret, answers=[503]).running() as receiver:
        placed = await caller.order(receiver.url)
        await caller.order_desk.refund(placed.order.id, "the caller asked", CLI)
        with pytest.raises(CallbackNotAccepted):
            await caller.callbacks.send(placed.order.id)
        assert [r.payload["type"] for r in receiver.received] == ["order.delivered"]
        await caller.callbacks.send(placed.order.id)
    assert [r.payload["type"] for r in receiver.received] == ["order.delivered", "order.delivered", "order.refunded"]


async def test_the_callback_goes_to_the_address_that_was_checked(caller):
    """The host is looked up once, checked, and called at that address, named in the Host header. A second
    lookup (which a rebinding DNS could answer with an internal address) would not even find this name."""
    hosts = KnownHosts({"hooks.reseller.test": ["127.0.0.1"]})
    callbacks = replace(caller.callbacks, resolver=hosts)
    caller = replace(caller, callbacks=callbacks, api_orders=replace(caller.api_orders, callbacks=callbacks))
    with Receiver(caller.key.webhook_secret).running() as receiver:
        url = receiver.url.replace("127.0.0.1", "hooks.reseller.test")
        placed = await caller.order(url)
        await caller.callbacks.send(placed.order.id)
    [received] = receiver.received
    assert received.headers["host"] == urlsplit(url).netloc and received.error == ""
    assert [m.status for m in await caller.messages()] == [MessageStatus.DELIVERED]


async def test_an_answers_body_is_not_read(caller):
    """A receiver that answers without end does not hold the worker: the status is all that counts."""
    with Receiver(caller.key.webhook_secret, endless=True).running() as receiver:
        placed = await caller.order(receiver.url, "T-endless")
        async with asyncio.timeout(30):  # a guard against a hang, not a measure
            await caller.callbacks.send(placed.order.id)
    assert [m.status for m in await caller.messages()] == [MessageStatus.DELIVERED]


@pytest.mark.parametrize(("host", "found"), [("127.0.0.1", ["127.0.0.1"]), ("::1", ["::1"]), ("[::1]", ["::1"]),
                                             ("", [])])  # fmt: skip
async def test_an_address_resolves_to_itself(host, found):
    assert await DnsResolver().resolve(host) == found


async def test_a_name_resolves_to_its_addresses():
    assert "127.0.0.1" in await DnsResolver().resolve("localhost")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://[::1]:8080/hook", "http://localhost/hook"]
)
async def test_internal_callback_urls_are_refused_unless_the_merchant_allows_them(container, url):
    strict = replace(container.callbacks, allow_private=False)
    with pytest.raises(ValidationFailed) as refused:
        await strict.check_url(url)
    assert refused.value.errors == {"callback_url": "private_address"}
    await container.callbacks.check_url(url)  # this container's merchant allows them


def test_internal_callbacks_are_refused_by_default():
    assert Settings(_env_file=None).allow_private_callbacks is False


async def test_an_order_with_a_refused_callback_url_is_not_placed(container, caller):
    strict = replace(caller.api_orders, callbacks=replace(caller.callbacks, allow_private=False))
    with pytest.raises(ValidationFailed) as refused:
        await replace(caller, api_orders=strict).order("http://10.1.2.3/hook")
    assert refused.value.errors == {"callback_url": "private_address"}
    assert (await container.resellers.balance(caller.reseller.id)).minor == 50000
    assert await caller.messages() == []


async def test_an_address_refused_at_send_time_is_an_attempt_that_went_nowhere(caller):
    with Receiver(caller.key.webhook_secret).running() as receiver:
        placed = await caller.order(receiver.url)  # allowed then; the merchant changed its mind since
        with pytest.raises(CallbackNotAccepted):
            await replace(caller.callbacks, allow_private=False).send(placed.order.id)
    [message] = await caller.messages()
    assert await caller.attempts(message) == [(None, "private_address")]
    assert message.status is MessageStatus.PENDING and receiver.received == []


async def test_the_sweeper_queues_messages_that_lost_their_queue_message(caller):
    placed = await caller.order(NOWHERE)
    caller.jobs.called_back.clear()
    assert await caller.callbacks.sweep() == 0, "fresh: its queue message is on its way"
    later = replace(caller.callbacks, clock=ShiftedClock(timedelta(seconds=31)))
    assert await later.sweep() == 1 and caller.jobs.called_back == [placed.order.id]
    assert await later.sweep() == 0, "not again at every sweep: a lagging queue is not flooded with copies"
    much_later = replace(later, clock=ShiftedClock(timedelta(minutes=5)))
    assert await much_later.sweep() == 1, "but again while it stays untried"


async def test_the_sweeper_leaves_a_retrying_message_to_the_queues_backoff(caller):
    with Receiver(caller.key.webhook_secret, answers=[500]).running() as receiver:
        placed = await caller.order(receiver.url)
        with pytest.raises(CallbackNotAccepted):
            await caller.callbacks.send(placed.order.id)
    caller.jobs.called_back.clear()
    assert await replace(caller.callbacks, clock=ShiftedClock(timedelta(hours=4))).sweep() == 0
    assert await replace(caller.callbacks, clock=ShiftedClock(timedelta(hours=6))).sweep() == 1, "lost since"
    assert caller.jobs.called_back == [placed.order.id]


async def test_when_the_queue_gives_up_the_message_fails_and_can_be_sent_again(caller):
    placed = await caller.order(NOWHERE)
    await caller.callbacks.gave_up(placed.order.id, datetime.now(UTC))
    [message] = await caller.messages()
    assert message.status is MessageStatus.FAILED
    caller.jobs.called_back.clear()
    resent = await caller.callbacks.resend(caller.reseller.id, message.id, Actor.cli())
    assert resent.status is MessageStatus.PENDING and resent.msg_id == message.msg_id
    assert caller.jobs.called_back == [placed.order.id]
    assert [m.status for m in await caller.messages()] == [MessageStatus.PENDING]


async def test_giving_up_fails_only_the_messages_the_spent_retries_were_for(caller):
    """The delivery's retries ran out; the refund came later and has retries of its own left."""
    placed = await caller.order(NOWHERE)
    retries_began = datetime.now(UTC)
    await caller.order_desk.refund(placed.order.id, "the caller asked", CLI)
    await caller.callbacks.gave_up(placed.order.id, retries_began)
    statuses = {m.event: m.status for m in await caller.messages()}
    assert statuses == {"order.delivered": MessageStatus.FAILED, "order.refunded": MessageStatus.PENDING}


async def test_another_resellers_messages_are_not_found(container, caller):
    placed = await caller.order(NOWHERE)
    other = await new_caller(container, "Other")
    [message] = await caller.messages()
    with pytest.raises(NotFound):
        await other.callbacks.resend(other.reseller.id, message.id, Actor.cli())
    with pytest.raises(NotFound):
        await other.callbacks.message(other.reseller.id, message.id)
    assert await other.messages() == [] and other.jobs.called_back == []
    assert [m.status for m in await caller.messages()] == [MessageStatus.PENDING]
    assert placed.order.seller_id == caller.reseller.id


async def wait_for_status(caller: Caller, status: MessageStatus) -> WebhookMessage:
    """The caller's one message once it has the status (at the worker's pace; at most 30 s)."""
    async with asyncio.timeout(30):
        while (message := (await caller.messages())[0]).status is not status:
            await asyncio.sleep(0.05)
    return message


async def test_the_actor_retries_with_backoff_and_gives_up_after_its_last_retry(settings, caller):
    """The real actors on the in-process broker; the message's own options shorten the backoff to milliseconds
    (the schedule itself is checked in tests/e2e/test_webhooks_delivery.py)."""
    broker = bootstrap.install_broker(settings)
    call_back = broker.get_actor("call_back")
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        with Receiver(caller.key.webhook_secret, answers=[500, 502, 503]).running() as receiver:
            spent = await caller.order(receiver.url, "T-spent")
            call_back.send_with_options(args=(spent.order.id,), max_retries=2, min_backoff=10, max_backoff=20)
            failed = await wait_for_status(caller, MessageStatus.FAILED)
            assert await caller.attempts(failed) == [
                (500, "Internal Server Error"), (502, "Bad Gateway"), (503, "Service Unavailable")
            ]  # fmt: skip

            receiver.answers = [500]
            await caller.callbacks.resend(caller.reseller.id, failed.id, CLI)
            call_back.send_with_options(args=(spent.order.id,), max_retries=2, min_backoff=10, max_backoff=20)
            delivered = await wait_for_status(caller, MessageStatus.DELIVERED)
            assert [status for status, _ in await caller.attempts(delivered)][3:] == [500, 200]
    finally:
        await asyncio.to_thread(worker.stop)
    assert {r.headers["webhook-id"] for r in receiver.received} == {failed.msg_id}
    assert all(r.error == "" for r in receiver.received) and len(receiver.received) == 5
