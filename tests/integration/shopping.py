"""What order tests share: a stocked product on sale, a buyer's request, a queue that only records."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from adapters.db.tables import account_balances, ledger_entries
from adapters.payments.epay import signed
from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails
from domain.ledger import Account
from domain.money import Money
from domain.orders import OrderRequest

PRICE = "19.80"


@dataclass
class RecordedJobs:
    delivered: list[int] = field(default_factory=list)
    notified: list[int] = field(default_factory=list)
    payment_links: list[int] = field(default_factory=list)

    async def deliver_order(self, order_id: int) -> None:
        self.delivered.append(order_id)

    async def notify_buyer(self, order_id: int) -> None:
        self.notified.append(order_id)

    async def mail_payment_link(self, order_id: int) -> None:
        self.payment_links.append(order_id)


async def stocked(container, sku: str = "IQ-M", count: int = 5, kind: str = "code") -> int:
    draft = ProductDraft(sku=sku, name="iQIYI monthly", face_value="30", retail_price=PRICE, delivery_kind=kind)
    product = await container.catalog.create(draft, Actor.cli())
    await container.catalog.set_on_sale(product.id, True, Actor.cli())
    if count:
        lines = [(n, f"{sku}-CODE-{n:04d}", f"PIN{n}") for n in range(count)]
        await container.stock.add_codes(product.id, lines, BatchDetails("test", Money(1500)), Actor.cli())
    return product.id


def notice(container, order, trade_no: str = "T-1", **changes: str) -> dict[str, str]:
    """The gateway's signed notice that `order` was paid (`changes` tamper with it; `key` signs with another key)."""
    params = {
        "pid": container.settings.epay_merchant_id,
        "trade_no": trade_no,
        "out_trade_no": order.number,
        "type": "alipay",
        "name": order.product_name,
        "money": order.total.amount,
        "trade_status": "TRADE_SUCCESS",
    }
    key = changes.pop("key", container.secrets.epay_key)
    return signed(params | changes, key)


def buy(quantity: int = 1, contact: str = "buyer@example.com", sku: str = "IQ-M", **kwargs) -> OrderRequest:
    return OrderRequest(sku=sku, quantity=str(quantity), contact=contact, **kwargs)


async def assert_ledger_consistent(container) -> None:
    """Every posting sums to zero, and every kept (reseller) balance equals the sum of its account's entries."""
    async with container.engine.connect() as connection:
        unbalanced = await connection.execute(
            select(ledger_entries.c.posting_id)
            .group_by(ledger_entries.c.posting_id)
            .having(func.sum(ledger_entries.c.amount_minor) != 0)
        )
        assert unbalanced.all() == []
        cached = dict(
            (await connection.execute(select(account_balances.c.account, account_balances.c.balance_minor))).all()
        )
        summed = dict(
            (
                await connection.execute(
                    select(ledger_entries.c.account, func.sum(ledger_entries.c.amount_minor)).group_by(
                        ledger_entries.c.account
                    )
                )
            ).all()
        )
    kept = {account: total for account, total in summed.items() if Account.parse(account).keeps_running_balance}
    assert {account: total for account, total in cached.items() if total or account in summed} == kept
    assert all(Account.parse(account).keeps_running_balance for account in cached), "no hot merchant rows"
