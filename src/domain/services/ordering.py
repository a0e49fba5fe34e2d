"""Buying: place an order (stock reserved), pay it through a gateway, find it again, let it expire."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domain import bookkeeping
from domain.audit import Actor, AuditEntry
from domain.catalog import normalize_sku
from domain.codepool import OutOfStock
from domain.errors import NotFound, ValidationFailed
from domain.orders import (
    OWED,
    UNPAID,
    Channel,
    Contact,
    NotForSale,
    Order,
    OrderPolicy,
    OrderQuery,
    OrderRequest,
    OrderStatus,
    SellerTerms,
    TooManyUnpaid,
    check_unpaid_cap,
)
from domain.paging import PageRequest
from domain.payments import PaymentNotice, PaymentRejected, PaymentRequest
from domain.ports import BackgroundJobs, Clock, CodeVault, PaymentGateway, Signer, UnitOfWork, UnitOfWorkFactory
from domain.risk import Action, Attempt, AttemptKind
from domain.services.redemption import order_tokens
from domain.services.risk_gate import RiskGate
from domain.services.sourced_stock import hold_stock, hold_stock_again

ORDER_PAGE = "order-page"


@dataclass(frozen=True, slots=True)
class OrderPage:
    order: Order
    tokens: list[str]


class NoSuchOrder(NotFound):
    """One answer for an unknown number, a wrong contact or a wrong page key: nothing to enumerate."""

    code = "no_such_order"


class NoSuchProduct(NotFound):
    code = "no_such_product"


@dataclass(frozen=True, slots=True)
class Ordering:
    uow: UnitOfWorkFactory
    gateway: PaymentGateway
    signer: Signer
    vault: CodeVault
    jobs: BackgroundJobs
    clock: Clock
    policy: OrderPolicy
    risk: RiskGate

    async def place(
        self, request: OrderRequest, *, seller: SellerTerms | None = None, placed_by: Actor | None = None
    ) -> Order:
        """Check the request, hold the buyer to the unpaid-units cap and reserve the stock, all or nothing.
        `seller`: placed in a reseller's shop, at its price (see Shops). `placed_by`: a staff member taking the order
        for a buyer, named on the timeline and in the audit log (see place_for_buyer)."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:  # read apart: no lock on the product row to queue behind
            product = await uow.products.by_sku(normalize_sku(request.sku))
            if product is None:
                raise NoSuchProduct(f"no product {request.sku}")
            placer = placed_by.name if placed_by else "buyer"
            order = Order.place(request, product, self.policy, now, seller=seller, placed_by=placer)
            attempt = Attempt.of_order(order, product.face_value.minor)
            decision = await self.risk.weigh(uow, attempt, solution=request.challenge)
        if decision.refused:
            await self.risk.refuse(decision)
        async with self.uow() as uow:
            await self.risk.keep(uow, decision, order)
            keys = order.holding_keys()  # held orders count too: a script cannot pile them up either
            await uow.orders.lock_buyer(keys)
            check_unpaid_cap(await uow.orders.unpaid_units(keys), order.quantity, self.policy)
            if decision.outcome is Action.REVIEW:
                order.hold_for_review(now)  # no stock held until staff approve
            else:
                await hold_stock(uow, order, now)
                order.await_payment(now)
            order = await uow.orders.add(order)
            if placed_by is not None:
                details = {"sku": product.sku, "quantity": order.quantity, "total": order.total.minor}
                await uow.audit.record(AuditEntry(now, placed_by, "order.place", order.number, details))
            await uow.commit()
        return order

    async def place_for_buyer(self, request: OrderRequest, staff: Actor) -> Order:
        """A staff member takes an order for a buyer (by phone, chat): placed as the shop places it, at the retail
        price, from the staff member's address and no device; what stops it is told as a form error for staff."""
        request = replace(request, channel=Channel.ADMIN, ip=staff.ip, device=None)
        if not request.sku.strip():
            raise ValidationFailed({"sku": "required"})
        try:
            return await self.place(request, placed_by=staff)
        except NoSuchProduct:
            raise ValidationFailed({"sku": "no_such_product"}) from None
        except NotForSale:
            raise ValidationFailed({"sku": "not_for_sale"}) from None
        except OutOfStock:
            raise ValidationFailed({"quantity": "not_enough_stock"}) from None
        except TooManyUnpaid:
            raise ValidationFailed({"contact": "buyer_holds_unpaid"}) from None

    def page_key(self, order: Order) -> str:
        """The key in the buyer's order-page link: without it, an order number alone shows nothing."""
        return self.signer.sign(ORDER_PAGE, order.number)

    def payment_url(self, order: Order, base_url: str) -> str:
        """Where the buyer pays: the gateway, told to notify us and to send the buyer back to the order page."""
        return self.gateway.checkout_url(
            PaymentRequest(
                order_number=order.number,
                amount=order.total,
                subject=order.product_name,
                notify_url=f"{base_url}/pay/{self.gateway.name}/notify",
                return_url=f"{base_url}/o/{order.number}?k={self.page_key(order)}",
            )
        )

    async def pay(self, params: dict[str, str]) -> Order:
        """A gateway's payment notice. Idempotent: repeated notices of one payment confirm it once.

        Raises PaymentRejected (and changes no order) for a bad signature, another merchant, an unknown
        order or a wrong amount. Signed notices that are refused go to the audit log; unsigned ones are
        only the caller's to log, since anyone can send them.
        """
        notice = self.gateway.verify(params)
        try:
            order, first_notice = await self._confirm(notice)
        except PaymentRejected as rejected:
            await self._audit_rejection(notice.order_number, rejected.params.get("reason", "rejected"))
            raise
        if first_notice and order.status is OrderStatus.PAID and order.attention is None:
            await self.jobs.deliver_order(order.id or 0)
        return order

    async def _confirm(self, notice: PaymentNotice) -> tuple[Order, bool]:
        """The order as the notice leaves it, and whether this payment was new (not notified before)."""
        now = self.clock.now()
        async with self.uow() as uow:
            order = await uow.orders.by_number(notice.order_number)
            if order is None:
                raise PaymentRejected("unknown order", reason="unknown_order")
            details = {"gateway": notice.gateway, "trade_no": notice.trade_no, "amount": notice.amount.minor}
            if notice.amount != order.total:
                order.record(now, "payment_rejected", details=details | {"reason": "wrong_amount"})
                await uow.orders.save(order)
                await uow.commit()
                raise PaymentRejected("wrong amount", reason="wrong_amount")
            if not await uow.orders.record_payment(order.id or 0, notice, now):
                return order, False  # the same payment, notified again
            order.record(now, "payment_received", details=details)
            again = order.status in OWED or order.status in (OrderStatus.DELIVERED, OrderStatus.REFUNDED)
            await uow.ledger.post(bookkeeping.payment(order.number, notice.amount, notice.gateway, now, extra=again))
            if again:
                order.paid_again(notice.amount, now)  # a second, different payment: staff return it
            else:
                reserved = order.status in UNPAID or not order.pooled
                if not reserved:  # 补单: the reservation ended with the order; take stock again if there is any
                    reserved = await _reserve_again(uow, order, now)
                order.confirm_payment(notice.amount, notice.gateway, now, reserved=reserved)
            await uow.orders.save(order)
            await uow.commit()
        return order, True

    async def view(self, number: str, key: str) -> OrderPage:
        """The buyer's order page: the order and its link tokens. An unknown number and a wrong key look the same."""
        if not self.signer.verify(ORDER_PAGE, number, key):
            raise NoSuchOrder("no such order")
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.by_number(number)
            if order is None:
                raise NoSuchOrder("no such order")
            return OrderPage(order, await order_tokens(uow, self.vault, order))

    async def look_up(
        self, number: str, contact: str, *, ip: str | None = None, device: str | None = None, solution: str = ""
    ) -> tuple[Order, str]:
        """Order number plus the contact used at checkout → the order and its page key.

        Unknown number, wrong contact and malformed input all raise the same NotFound: nothing to enumerate.
        The risk rules for lookups see every attempt first (and may ask for a challenge, or refuse).
        """
        try:
            wanted: Contact | None = Contact.parse(contact)
        except ValidationFailed:
            wanted = None
        attempt = Attempt(
            AttemptKind.LOOKUP, Channel.SHOP, self.clock.now(), ip, device, wanted.value if wanted else None
        )
        await self.risk.check_lookup(attempt, solution=solution)
        if wanted is None:
            raise NoSuchOrder("no such order")
        async with self.uow(read_only=True) as uow:
            order = await uow.orders.by_number(number.strip())
        if order is None or order.contact != wanted:
            raise NoSuchOrder("no such order")
        return order, self.page_key(order)

    async def expire_due(self, limit: int = 200) -> int:
        """Unpaid orders past their payment window expire and give their stock back; orders held for review that
        nobody approved or rejected within the review window are cancelled. How many orders ended."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            due = await uow.orders.due_to_expire(now, limit)
        ended = await self._cancel_unreviewed(now, limit)
        for order_id in due:
            async with self.uow() as uow:
                order = await uow.orders.get(order_id)
                if order is None or not order.is_due_to_expire(now):
                    continue  # paid or cancelled meanwhile
                order.expire(now)
                await uow.codes.release(order.holder, now)
                await uow.orders.save(order)
                await uow.commit()
                ended += 1
        return ended

    async def _cancel_unreviewed(self, now: datetime, limit: int) -> int:
        """Held orders nobody decided on in time are cancelled as a rejection is: on the timeline and in the audit
        log (as the system), and an API caller is called back."""
        window = self.policy.review_window
        async with self.uow(read_only=True) as uow:
            held = OrderQuery(status=OrderStatus.HELD, placed_before=now - window)
            waiting = (await uow.orders.search(held, PageRequest(1, limit))).items
        cancelled = 0
        for waited in waiting:
            async with self.uow() as uow:
                order = await uow.orders.get(waited.id or 0)
                if order is None or not order.is_unreviewed(now, window):
                    continue  # decided meanwhile
                order.review_lapsed(now)
                await uow.orders.save(order)
                details = {"reason": "not_reviewed_in_time"}
                await uow.audit.record(AuditEntry(now, Actor.system(), "order.reject", order.number, details))
                await uow.commit()
            cancelled += 1
            if order.calls_back:
                await self.jobs.call_back(order.id or 0)
        return cancelled

    async def _audit_rejection(self, order_number: str, reason: str) -> None:
        async with self.uow() as uow:
            await uow.audit.record(
                AuditEntry(self.clock.now(), Actor.system(), "payment.rejected", order_number[:64], {"reason": reason})
            )
            await uow.commit()


async def _reserve_again(uow: UnitOfWork, order: Order, now: datetime) -> bool:
    """All units again from the pool, or none (a partial reservation is given straight back) — unless the product
    has upstream sources: they are asked for the rest, as for an order paid in time."""
    return await hold_stock_again(uow, order, now)
