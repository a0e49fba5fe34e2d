"""The buyer's redemption page: what a link delivers, masked until the buyer asks to see it (and that is logged)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.audit import Actor, AuditEntry
from domain.catalog import Product
from domain.codepool import CardSecret
from domain.errors import NotFound
from domain.orders import Order, OrderStatus
from domain.ports import Clock, CodeVault, UnitOfWork, UnitOfWorkFactory
from domain.redemption import DeliveredUnit, content_binding, token_binding, token_hash


@dataclass(frozen=True, slots=True)
class Redeemable:
    order: Order
    product: Product
    unit: DeliveredUnit
    secret: CardSecret | None  # None once the order was refunded: the link shows nothing any more
    expires_at: datetime | None

    @property
    def withdrawn(self) -> bool:
        return self.secret is None


@dataclass(frozen=True, slots=True)
class Redemption:
    uow: UnitOfWorkFactory
    vault: CodeVault
    clock: Clock

    async def view(self, token: str) -> Redeemable:
        """The unit behind a link; an unknown token raises NotFound. The page shows the code masked."""
        async with self.uow(read_only=True) as uow:
            return await self._load(uow, token)

    async def reveal(self, token: str, ip: str | None) -> Redeemable:
        """The same, for showing the code in full: counted on the unit and written to the order and audit log."""
        found = await self.view(token)
        if found.withdrawn:
            return found
        now = self.clock.now()
        async with self.uow() as uow:
            await uow.deliveries.count_reveal(found.unit.id or 0)
            found.order.record(now, "revealed", "buyer", {"unit": found.unit.unit, "ip": ip})
            await uow.orders.add_events(found.order.id or 0, found.order.new_events)
            await uow.audit.record(
                AuditEntry(now, Actor.anonymous(ip), "code.reveal", found.order.number, {"unit": found.unit.unit})
            )
            await uow.commit()
        return found

    async def _load(self, uow: UnitOfWork, token: str) -> Redeemable:
        unit = await uow.deliveries.by_token_hash(token_hash(token)) if token else None
        order = await uow.orders.get(unit.order_id) if unit else None
        product = await uow.products.get(order.product_id) if order else None
        if unit is None or order is None or product is None:
            raise NotFound("no such link")
        if order.status is OrderStatus.REFUNDED:
            return Redeemable(order, product, unit, None, None)
        secret, expires_at = await open_unit(uow, self.vault, order, unit)
        return Redeemable(order, product, unit, secret, expires_at)


async def open_unit(
    uow: UnitOfWork, vault: CodeVault, order: Order, unit: DeliveredUnit
) -> tuple[CardSecret, datetime | None]:
    """What a delivered unit holds, in plain text, and when its batch expires: a pool code, or what staff typed."""
    if unit.code_id is None:
        assert unit.content is not None
        plaintext = vault.open(unit.content, binding=content_binding(order.number, unit.unit))
        return CardSecret.from_plaintext(plaintext), None
    code = await uow.codes.get(unit.code_id)
    if code is None:
        raise NotFound("no such link")
    batch = await uow.codes.batch(code.batch_id)
    return CardSecret.from_plaintext(vault.open(code.sealed, binding=code.binding)), batch.expires_at if batch else None


async def order_tokens(uow: UnitOfWork, vault: CodeVault, order: Order) -> list[str]:
    """The order's link tokens, unit by unit: none while nothing is delivered, and none once refunded."""
    if order.status is OrderStatus.REFUNDED or not order.delivered_units:
        return []
    units = await uow.deliveries.of_order(order.id or 0)
    return [vault.open(unit.token, binding=token_binding(order.number, unit.unit)).decode() for unit in units]
