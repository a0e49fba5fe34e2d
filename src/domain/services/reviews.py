"""The review queue: orders the merchant's risk rules held, waiting for staff. Approved, an order goes on as if
it had never been held — its stock reserved and its payment window started (a shop buyer with an email address is
mailed where to pay), or a reseller's wallet charged and delivery begun; rejected, it is cancelled
(OrderDesk.reject), and so is one nobody decided on within the review window (Ordering.expire_due). Every
decision goes to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from domain.audit import Actor, AuditEntry
from domain.errors import NotFound
from domain.orders import WALLET_CHANNELS, Channel, ContactKind, Order, OrderPolicy, OrderQuery, OrderStatus
from domain.paging import Page, PageRequest
from domain.ports import BackgroundJobs, Clock, UnitOfWorkFactory
from domain.services.balance_payments import BalancePayments
from domain.services.notifications import NoEmail, NothingToPay, Notifications
from domain.services.ordering import Ordering
from domain.services.sourced_stock import hold_stock

LINK_MAILED = "payment_link_sent"  # the timeline event Notifications.mail_payment_link records


@dataclass(frozen=True, slots=True)
class Reviews:
    uow: UnitOfWorkFactory
    payments: BalancePayments
    jobs: BackgroundJobs
    clock: Clock
    policy: OrderPolicy
    ordering: Ordering  # the links a buyer is mailed: the payment gateway's and the order page's
    notifications: Notifications
    base_url: str

    async def queue(self, page: PageRequest) -> Page[Order]:
        """The held orders, the highest risk score first (the scores the merchant gave its rules), then oldest."""
        async with self.uow(read_only=True) as uow:
            return await uow.orders.search(OrderQuery(status=OrderStatus.HELD, riskiest_first=True), page)

    async def approve(self, order_id: int, actor: Actor) -> Order:
        """On to payment; raises (and the order stays held) when its stock or the reseller's balance is short.
        A shop buyer with an email address is mailed the payment link by a worker: the mail server never holds
        the staff member's click (a phone contact follows the order on its page)."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"no order #{order_id}")
            order.approve(now, actor.name, self.policy.payment_window)
            if order.channel in WALLET_CHANNELS:
                await self.payments.approve(uow, order, actor)
            else:
                await hold_stock(uow, order, now)
                order.await_payment(now)
                await uow.orders.save(order)
            details = {"score": order.risk_score, "status": order.status.value}
            await uow.audit.record(AuditEntry(now, actor, "order.approve", order.number, details))
            await uow.commit()
        if order.status is OrderStatus.PAID:
            await self.jobs.deliver_order(order.id or 0)
        elif order.channel is Channel.SHOP and order.contact.kind is ContactKind.EMAIL:
            await self.jobs.mail_payment_link(order.id or 0)
        return order

    async def mail_payment_link(self, order_id: int) -> None:
        """The worker's half of approving a shop order: its buyer is mailed where to pay and where to follow the
        order (on the timeline once the mail server took it). Sent once; nothing to send once the order was paid,
        expired or cancelled. Raises MailNotSent while the mail server refuses: the queue tries again."""
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
            mailed = order is not None and any(
                event.kind == LINK_MAILED and event.actor == Actor.system().name
                for event in await uow.orders.events(order_id)
            )
        if order is None or mailed:
            return
        base = self.base_url
        payment = urljoin(f"{base}/", self.ordering.payment_url(order, base))  # the dev sandbox is a path here
        page = f"{base}/o/{order.number}?k={self.ordering.page_key(order)}"
        try:
            await self.notifications.mail_payment_link(order_id, payment, page, Actor.system())
        except (NothingToPay, NoEmail):
            return

    async def payment_link_not_mailed(self, order_id: int) -> None:
        """Every try failed: the order's timeline says so (the buyer still finds the payment on the order page)."""
        async with self.uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                return
            order.record(self.clock.now(), "payment_link_not_mailed")
            await uow.orders.save(order)
            await uow.commit()
