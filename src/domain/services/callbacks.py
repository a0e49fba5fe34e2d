"""Calling API callers back: each order outcome's webhook message (written with the order's change) is posted
to the caller's callback_url, signed per Standard Webhooks, until it gets a 2xx — the queue retries with backoff
for more than a day — and every attempt is kept for the reseller to see (and to send again).

Delivery is at least once: a receiver deduplicates by `webhook-id`, as the specification asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from domain.audit import Actor, AuditEntry
from domain.errors import NotFound, ValidationFailed
from domain.operations import Nudges
from domain.paging import Page, PageRequest
from domain.ports import (
    AddressResolver,
    BackgroundJobs,
    Clock,
    CodeVault,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookSender,
)
from domain.services.api_keys import webhook_binding
from domain.services.outbound import checked_address
from domain.webhooks import MessageStatus, WebhookAttempt, WebhookMessage

# A message never tried this long after it was written lost its queue message; one that is retrying is
# left to the queue's backoff (at most MAX_BACKOFF between tries) for this long before it counts as lost.
NEW_MESSAGE_LOST_AFTER = timedelta(seconds=30)
RETRY_LOST_AFTER = timedelta(hours=5)
# A lost order is queued again at once, then (while its messages stay stalled) after 1 min, 2, 4 … at most every
# 10 min: the sweeper runs every few seconds, and a lagging queue must not pile up copies of one order.
RESEND_FIRST, RESEND_MOST = NEW_MESSAGE_LOST_AFTER * 2, timedelta(minutes=10)


class CallbackNotAccepted(Exception):
    """A callback got no 2xx: the queue tries again later (not a DomainError, which would stop the retries)."""


@dataclass(frozen=True, slots=True)
class Callbacks:
    uow: UnitOfWorkFactory
    vault: CodeVault
    sender: WebhookSender
    resolver: AddressResolver
    jobs: BackgroundJobs
    clock: Clock
    allow_private: bool  # tests and closed networks call back to loopback or private addresses
    _nudges: Nudges = field(
        default_factory=lambda: Nudges(first=RESEND_FIRST, most=RESEND_MOST), compare=False, repr=False
    )

    async def check_url(self, url: str) -> str:
        """A callback URL must resolve, and (unless the merchant allows it) only to public addresses. Returns the
        address to call: the one checked, not whatever a second lookup would answer."""
        return await checked_address(self.resolver, url, allow_private=self.allow_private, field="callback_url")

    async def send(self, order_id: int) -> None:
        """Post the order's pending messages, oldest first; raises CallbackNotAccepted at the first refused one
        (the rest wait for the retry, so a caller sees an order's events in order)."""
        async with self.uow(read_only=True) as uow:
            pending = await uow.webhooks.pending_of_order(order_id)
            keys = {m.api_key_id: await uow.api_keys.get(m.api_key_id) for m in pending}
        for message in pending:
            key = keys[message.api_key_id]
            if key is None:
                continue
            secret = self.vault.open(key.webhook_secret, binding=webhook_binding(key.key_id)).decode()
            attempt = await self._attempt(message, secret)
            if not attempt.succeeded:
                raise CallbackNotAccepted(f"{message.msg_id}: {attempt.status_code or attempt.error}")

    async def gave_up(self, order_id: int, tried_since: datetime) -> None:
        """The queue's retries that began at `tried_since` are spent (more than a day): the order's messages they
        were for are failed. One written since (a refund after the delivery, say) has its own retries left."""
        async with self.uow() as uow:
            for message in await uow.webhooks.pending_of_order(order_id):
                if message.created_at <= tried_since:
                    await uow.webhooks.save(replace(message, status=MessageStatus.FAILED))
            await uow.commit()

    async def sweep(self) -> int:
        """Orders whose messages lost their queue message (worker killed, Redis restarted) are queued again;
        returns how many."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            stalled = await uow.webhooks.stalled(now - NEW_MESSAGE_LOST_AFTER, now - RETRY_LOST_AFTER, limit=200)
        return await self._nudges.send_due(list(dict.fromkeys(stalled)), now, self.jobs.call_back)

    async def messages(self, reseller_id: int, page: PageRequest) -> Page[WebhookMessage]:
        async with self.uow(read_only=True) as uow:
            return await uow.webhooks.of_reseller(reseller_id, page)

    async def message(self, reseller_id: int, message_id: int) -> tuple[WebhookMessage, list[WebhookAttempt]]:
        async with self.uow(read_only=True) as uow:
            message = await self._own(uow, reseller_id, message_id)
            return message, await uow.webhooks.attempts(message_id)

    async def resend(self, reseller_id: int, message_id: int, actor: Actor) -> WebhookMessage:
        """Send a message again (failed, or delivered and lost on the caller's side): pending, queued now."""
        async with self.uow() as uow:
            message = replace(await self._own(uow, reseller_id, message_id), status=MessageStatus.PENDING)
            await uow.webhooks.save(message)
            details = {"reseller": reseller_id, "order": message.order_id, "event": message.event}
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "webhook.resend", message.msg_id, details))
            await uow.commit()
        await self.jobs.call_back(message.order_id)
        return message

    async def _attempt(self, message: WebhookMessage, secret: str) -> WebhookAttempt:
        now = self.clock.now()
        try:
            address = await self.check_url(message.url)  # again at send time: DNS may have changed since the order
        except ValidationFailed as refused:
            answer_code, error, took = None, refused.errors["callback_url"], 0
        else:
            answer = await self.sender.post(message.url, address, message.headers(secret, now), message.body)
            answer_code, error, took = answer.status_code, answer.error, answer.duration_ms
        attempt = WebhookAttempt(message.id or 0, now, answer_code, error, took)
        async with self.uow() as uow:
            current = await uow.webhooks.get(message.id or 0)  # locked: attempts are counted one at a time
            if current is not None:
                delivered = attempt.succeeded or current.status is MessageStatus.DELIVERED
                await uow.webhooks.save(
                    replace(
                        current,
                        attempts=current.attempts + 1,
                        last_attempt_at=now,
                        status=MessageStatus.DELIVERED if delivered else current.status,
                        delivered_at=current.delivered_at or (now if attempt.succeeded else None),
                    )
                )
                await uow.webhooks.add_attempt(attempt)
                await uow.commit()
        return attempt

    @staticmethod
    async def _own(uow: UnitOfWork, reseller_id: int, message_id: int) -> WebhookMessage:
        message = await uow.webhooks.get(message_id)
        key = await uow.api_keys.get(message.api_key_id) if message else None
        if message is None or key is None or key.reseller_id != reseller_id:
            raise NotFound(f"no webhook message #{message_id}")
        return message
