"""Actors stay thin and idempotent: they call a service, and the database holds the truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq

from adapters.queue.runtime import services, worker_name
from adapters.settings import Settings
from domain.audit import Actor
from domain.errors import DomainError
from domain.operations import HEARTBEAT_EVERY
from domain.suppliers import MAX_SOURCES

# One run of deliver_order asks each upstream source at most three times: about an order placed there before (under
# an earlier position in the product's sources), its current price (a cost ceiling), and for a new order. Besides:
# the pool, the database, the next steps.
REQUESTS_PER_SOURCE = 3
DELIVERY_MARGIN = timedelta(seconds=60)


def delivery_time_limit_ms(supplier_timeout_seconds: float) -> int:
    """deliver_order's time limit: long enough for every upstream source of a product to take the whole supplier
    timeout on every request, plus a margin — so the limit never cuts a run that is merely slow.

    Why a limit that grows with the timeout rather than a deadline inside the sourcing loop: the loop already
    ends cleanly on its own, since each request is bounded by the supplier timeout (lookup to last byte) and there
    are at most MAX_SOURCES sources; a deadline would only stop it early, leaving the rest to the sweeper's next
    nudge — later, for no gain. The limit stays as the backstop against a hang; should it strike anyway, nothing
    is half-done: an upstream order is recorded before it is sent, and the retry asks about it before buying."""
    worst = MAX_SOURCES * REQUESTS_PER_SOURCE * supplier_timeout_seconds
    return int((worst + DELIVERY_MARGIN.total_seconds()) * 1000)


def apply_settings(settings: Settings) -> None:
    """Options that depend on the settings (the actors are declared on import, before any settings are read)."""
    deliver_order.options["time_limit"] = delivery_time_limit_ms(settings.supplier_timeout_seconds)


@dramatiq.actor(queue_name="ops", max_retries=0, max_age=int(HEARTBEAT_EVERY.total_seconds() * 2000))
async def heartbeat(sent_at: str) -> None:
    """Proves a worker is consuming the queue; the dashboard warns when beats stop arriving."""
    await services().operations.record_heartbeat(worker_name(), datetime.fromisoformat(sent_at))


@dramatiq.actor(
    queue_name="imports",
    max_retries=3,
    time_limit=int(timedelta(hours=2).total_seconds() * 1000),
    on_retry_exhausted="import_gave_up",
)
async def import_codes(import_id: int) -> None:
    """Read, seal and add an uploaded code file. Running it again restarts the same import from scratch."""
    await services().imports.run(import_id)


@dramatiq.actor(queue_name="imports", max_retries=0)
async def import_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """After the last retry: the import is marked failed, its staged rows and upload removed."""
    await services().imports.fail(int(message["args"][0]), "internal_error")


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=int(timedelta(hours=6).total_seconds() * 1000))
async def reseal_codes() -> None:
    """Re-seal everything sealed (codes, delivered units, API keys' and upstreams' secrets) under the active key;
    resumable, and harmless when two run at once."""
    await services().key_rotation.reseal_all(Actor.system())


@dramatiq.actor(
    queue_name="delivery",
    max_retries=20,
    min_backoff=500,
    max_backoff=60_000,
    time_limit=delivery_time_limit_ms(Settings.model_fields["supplier_timeout_seconds"].default),  # see apply_settings
    throws=(DomainError,),  # a rule said no: retrying cannot change that (the order shows why)
)
async def deliver_order(order_id: int) -> None:
    """Deliver a paid order; a delivered (or otherwise settled) order makes this a no-op."""
    await services().delivery.deliver(order_id)


@dramatiq.actor(
    queue_name="mail",
    max_retries=8,
    min_backoff=5_000,
    max_backoff=15 * 60_000,
    time_limit=120_000,
    on_retry_exhausted="notify_gave_up",
    throws=(DomainError,),
)
async def notify_buyer(order_id: int) -> None:
    """Mail the buyer the redemption links. Its own queue: a slow mail server never holds up delivery."""
    await services().notifications.notify(order_id)


@dramatiq.actor(queue_name="mail", max_retries=0)
async def notify_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    await services().notifications.gave_up(int(message["args"][0]))


@dramatiq.actor(
    queue_name="mail",
    max_retries=8,
    min_backoff=5_000,
    max_backoff=5 * 60_000,  # the payment window is short: tries close together
    time_limit=120_000,
    on_retry_exhausted="payment_link_gave_up",
)
async def mail_payment_link(order_id: int) -> None:
    """Mail the buyer of a shop order staff approved where to pay. Its own job: a slow mail server never holds
    the staff member's click. Sent once; a paid or expired order makes this a no-op."""
    await services().reviews.mail_payment_link(order_id)


@dramatiq.actor(queue_name="mail", max_retries=0)
async def payment_link_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    await services().reviews.payment_link_not_mailed(int(message["args"][0]))


@dramatiq.actor(
    queue_name="webhooks",
    # Backoff doubling from 5 s up to 4 h between tries (2–4 h with jitter): 22 retries span more than a day.
    max_retries=22,
    min_backoff=5_000,
    max_backoff=4 * 3600_000,
    time_limit=120_000,
    on_retry_exhausted="call_back_gave_up",
    throws=(DomainError,),
)
async def call_back(order_id: int) -> None:
    """Post the order's pending webhook messages to its API caller; raises (and is retried) until accepted."""
    await services().callbacks.send(order_id)


@dramatiq.actor(queue_name="webhooks", max_retries=0)
async def call_back_gave_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """After the last retry: the messages this message's retries were for are failed (the reseller may resend)."""
    tried_since = datetime.fromtimestamp(message["message_timestamp"] / 1000, UTC)  # when it was first sent
    await services().callbacks.gave_up(int(message["args"][0]), tried_since)
