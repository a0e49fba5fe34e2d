"""Webhook messages and their attempts in SQL (messages are written by the orders repository, with the
order's change)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import api_keys, webhook_attempts, webhook_messages
from domain.paging import Page, PageRequest
from domain.webhooks import MessageStatus, WebhookAttempt, WebhookMessage


class SqlWebhooks:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self._db = connection
        self._lock = lock

    async def get(self, message_id: int) -> WebhookMessage | None:
        query = select(webhook_messages).where(webhook_messages.c.id == message_id)
        row = (await self._db.execute(query.with_for_update() if self._lock else query)).mappings().first()
        return _message(row) if row else None

    async def pending_of_order(self, order_id: int) -> list[WebhookMessage]:
        rows = await self._db.execute(
            select(webhook_messages)
            .where(webhook_messages.c.order_id == order_id, webhook_messages.c.status == MessageStatus.PENDING.value)
            .order_by(webhook_messages.c.id)
        )
        return [_message(row) for row in rows.mappings()]

    async def save(self, message: WebhookMessage) -> None:
        await self._db.execute(
            update(webhook_messages)
            .where(webhook_messages.c.id == message.id)
            .values(
                status=message.status.value,
                attempts=message.attempts,
                last_attempt_at=message.last_attempt_at,
                delivered_at=message.delivered_at,
            )
        )

    async def add_attempt(self, attempt: WebhookAttempt) -> None:
        await self._db.execute(
            insert(webhook_attempts).values(
                message_id=attempt.message_id,
                at=attempt.at,
                status_code=attempt.status_code,
                error=attempt.error[:200],
                duration_ms=attempt.duration_ms,
            )
        )

    async def attempts(self, message_id: int) -> list[WebhookAttempt]:
        rows = await self._db.execute(
            select(webhook_attempts).where(webhook_attempts.c.message_id == message_id).order_by(webhook_attempts.c.id)
        )
        return [WebhookAttempt(r.message_id, r.at, r.status_code, r.error, r.duration_ms) for r in rows]

    async def of_reseller(self, reseller_id: int, page: PageRequest) -> Page[WebhookMessage]:
        mine = webhook_messages.c.api_key_id.in_(select(api_keys.c.id).where(api_keys.c.reseller_id == reseller_id))
        total = (await self._db.execute(select(func.count()).select_from(webhook_messages).where(mine))).scalar_one()
        rows = await self._db.execute(
            select(webhook_messages)
            .where(mine)
            .order_by(webhook_messages.c.id.desc())
            .limit(page.size)
            .offset(page.offset)
        )
        return Page([_message(row) for row in rows.mappings()], total, page)

    async def stalled(self, new_before: datetime, retried_before: datetime, limit: int) -> list[int]:
        m = webhook_messages.c
        never_tried = (m.attempts == 0) & (m.created_at < new_before)
        long_quiet = (m.attempts > 0) & (m.last_attempt_at < retried_before)
        rows = await self._db.execute(
            select(m.order_id)
            .where(m.status == MessageStatus.PENDING.value, or_(never_tried, long_quiet))
            .order_by(m.id)
            .limit(limit)
        )
        return list(rows.scalars())


def _message(row: RowMapping) -> WebhookMessage:
    return WebhookMessage(
        id=row["id"],
        msg_id=row["msg_id"],
        order_id=row["order_id"],
        api_key_id=row["api_key_id"],
        event=row["event"],
        url=row["url"],
        payload=dict(row["payload"]),
        created_at=row["created_at"],
        status=MessageStatus(row["status"]),
        attempts=row["attempts"],
        last_attempt_at=row["last_attempt_at"],
        delivered_at=row["delivered_at"],
    )
