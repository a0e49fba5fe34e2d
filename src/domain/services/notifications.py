"""Telling the buyer: a mail with the redemption links, sent by a worker, retried, never holding up delivery; and,
for an order staff took for a buyer, a mail with where to pay."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from domain.audit import Actor, AuditEntry
from domain.errors import DomainError, NotFound
from domain.operations import Nudges
from domain.orders import ContactKind, Order, OrderStatus
from domain.ports import BackgroundJobs, Clock, CodeVault, Mail, Mailer, UnitOfWork, UnitOfWorkFactory
from domain.services.redemption import order_tokens

# A delivered order whose mail has not gone out after this long lost its message: send it again.
RESEND_AFTER = timedelta(seconds=30)


class NothingToPay(DomainError):
    """Only an order waiting for its payment has a payment link worth sending."""

    code = "nothing_to_pay"


class NoEmail(DomainError):
    code = "no_email_contact"


class MailNotSent(DomainError):
    """The mail server did not take the mail (the cause is chained for the log); nothing was recorded."""

    code = "mail_not_sent"


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

    async def mail_payment_link(self, order_id: int, payment_url: str, order_url: str, actor: Actor) -> Order:
        """Mail the buyer of an order waiting for payment where to pay and where to follow the order, sent at once
        for the staff member who asked (on the timeline and in the audit log once the mail server took it)."""
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"no order #{order_id}")
        now = self.clock.now()
        if order.status is not OrderStatus.AWAITING_PAYMENT or order.is_due_to_expire(now):
            raise NothingToPay(f"order {order.number} is {order.status}")
        if order.contact.kind is not ContactKind.EMAIL:
            raise NoEmail(f"order {order.number} has a phone contact")
        try:
            await self.mailer.send(payment_mail(order, payment_url, order_url, order.expires_at - now))
        except Exception as failure:  # whatever the mail server said, staff see one clear answer and may retry
            raise MailNotSent("the mail server did not take the mail") from failure
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"no order #{order_id}")
            order.record(now, "payment_link_sent", actor.name)
            await uow.orders.save(order)
            await uow.audit.record(AuditEntry(now, actor, "order.mail_payment_link", order.number))
            await uow.commit()
        return order

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


def payment_mail(order: Order, payment_url: str, order_url: str, left: timedelta) -> Mail:
    """Bilingual, like the delivery mail. The window is told in minutes: the buyer's time zone is unknown."""
    minutes = max(1, int(left.total_seconds()) // 60)
    plural = "" if minutes == 1 else "s"
    what = f"{order.product_name} × {order.quantity}, {order.total.amount} {order.total.currency}"
    text = (
        f"您的订单 {order.number}（{what}）等待付款，请在 {minutes} 分钟内付款：\n  {payment_url}\n"
        f"查看订单：\n  {order_url}\n\n"
        f"Your order {order.number} ({what}) is waiting for payment. Please pay within {minutes} minute{plural}:\n"
        f"  {payment_url}\nFollow your order here:\n  {order_url}\n"
    )
    return Mail(to=order.contact.value, subject=f"订单 {order.number} 待付款 / Order awaiting payment", text=text)
