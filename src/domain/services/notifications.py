"""Telling the buyer: a mail with the redemption links, sent by a worker, retried, never holding up delivery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from domain.errors import NotFound
from domain.operations import Nudges
from domain.orders import ContactKind, Order
from domain.ports import BackgroundJobs, Clock, CodeVault, Mail, Mailer, UnitOfWork, UnitOfWorkFactory
from domain.services.redemption import order_tokens

# A delivered order whose mail has not gone out after this long lost its message: send it again.
RESEND_AFTER = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Notifications:
    uow: UnitOfWorkFactory
    vault: CodeVault
    mailer: Mailer
    jobs: BackgroundJobs
    clock: Clock
    base_url: str
    _nudges: Nudges = field(
        default_factory=lambda: Nudges(first=RESEND_AFTER, most=timedelta(minutes=10)), compare=False, repr=False
    )

    async def notify(self, order_id: int) -> None:
        """Mail the order's links to the buyer (phone contacts: nothing to send). Raises when sending fails."""
        async with self.uow(read_only=True) as uow:
            order, links = await self._links(uow, order_id)
        if order.notification == "sent":
            return
        if not links:  # refunded, say: nothing to tell until something is delivered again
            await self._mark(order_id, "not_applicable", "notification_skipped", {"reason": "nothing_to_send"})
            return
        if order.contact.kind is not ContactKind.EMAIL:
            await self._mark(order_id, "not_applicable", "notification_skipped", {"reason": "no_email"})
            return
        await self.mailer.send(order_mail(order, links))
        await self._mark(order_id, "sent", "notification_sent", {"links": len(links)})

    async def sweep(self) -> int:
        """Mails for delivered orders still pending after RESEND_AFTER lost their message: queue them again."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            waiting = await uow.orders.waiting_for_notification(now - RESEND_AFTER, limit=500)
        return await self._nudges.send_due(waiting, now, self.jobs.notify_buyer)

    async def gave_up(self, order_id: int) -> None:
        """Every retry failed: the order says so, and staff can resend it."""
        await self._mark(order_id, "failed", "notification_failed", {})

    async def _links(self, uow: UnitOfWork, order_id: int) -> tuple[Order, list[str]]:
        order = await uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"no order #{order_id}")
        return order, [f"{self.base_url}/r/{token}" for token in await order_tokens(uow, self.vault, order)]

    async def _mark(self, order_id: int, status: str, event: str, details: dict[str, object]) -> None:
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                return
            order.notification = status
            order.record(self.clock.now(), event, details=details)
            await uow.orders.save(order)
            await uow.commit()


def order_mail(order: Order, links: list[str]) -> Mail:
    """Bilingual (中文 / English): we do not know which the buyer reads."""
    listed = "\n".join(f"  {i}. {link}" for i, link in enumerate(links, 1))
    text = (
        f"您的订单 {order.number}（{order.product_name} × {order.quantity}）已发货。\n"
        f"打开以下链接查看卡密（请勿转发）：\n{listed}\n\n"
        f"Your order {order.number} ({order.product_name} × {order.quantity}) has been delivered.\n"
        f"Open these links to see your codes (do not forward them):\n{listed}\n"
    )
    return Mail(to=order.contact.value, subject=f"订单 {order.number} 已发货 / Order delivered", text=text)
