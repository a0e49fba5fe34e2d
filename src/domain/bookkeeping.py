"""What an order's money events post on the ledger: a payment received, a sale split, a refund undone.

Buyer money enters through a gateway (or a wallet, see BalancePayments) into buyer clearing; each
delivery moves the delivered units' price out of clearing to the supplier, the platform and the
resellers (splits); a refund reverses all of it. The ledger, not the orders, is where money is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.ledger import Account, AccountKind, Posting, not_yet_reversed
from domain.money import Money
from domain.splits import split

CLEARING = Account(AccountKind.BUYER_CLEARING)
GATEWAY = Account(AccountKind.GATEWAY_RECEIPTS)
UNDONE_BY_REFUND = frozenset({"payment", "purchase", "sale"})


def payment(order_number: str, amount: Money, gateway: str, now: datetime, *, extra: bool = False) -> Posting:
    """Money a gateway received for the order (an `extra` one was not asked for and is owed back)."""
    return Posting.of(
        now,
        "extra_payment" if extra else "payment",
        [(GATEWAY, Money(-amount.minor, amount.currency)), (CLEARING, amount)],
        memo=gateway,
        reference=order_number,
    )


def sale(
    order_number: str,
    price: Money,
    supplier_cost: Money,
    now: datetime,
    actor: str,
    chain: Sequence[tuple[int, Money]] = (),
) -> Posting:
    """Delivered units leave clearing and are shared out. Facts are booked as they are: a sale below cost
    books a loss (pricing is where selling below cost is prevented)."""
    shares = split(price, supplier_cost, chain, allow_below_cost=True)
    return Posting.of(
        now,
        "sale",
        [(CLEARING, Money(-price.minor, price.currency)), *((share.account, share.amount) for share in shares)],
        actor=actor,
        reference=order_number,
    )


def refund(postings: Sequence[Posting], now: datetime, actor: str) -> list[Posting]:
    """The reversals a refund posts: every payment, wallet purchase and sale of the order not undone yet."""
    return [
        p.reversal(now, actor, f"refund: undoes #{p.id} ({p.kind})")
        for p in not_yet_reversed(postings, UNDONE_BY_REFUND)
    ]


def extra_payments_returned(postings: Sequence[Posting], now: datetime, actor: str, reason: str) -> list[Posting]:
    """Extra payments the merchant gave back through the gateway."""
    return [p.reversal(now, actor, reason) for p in not_yet_reversed(postings, frozenset({"extra_payment"}))]
