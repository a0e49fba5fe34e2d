"""Who earns what from a delivered sale, exact to the fen.

Money flows down a chain: the supplier's cost, then the price the merchant sells to its reseller, then
each reseller's price to the next, then the last seller's price to the buyer. Each party keeps the
difference between what it sold for and what it paid, so the shares always add up to the sale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import DomainError
from domain.ledger import Account, AccountKind
from domain.money import Money

SUPPLIER = Account(AccountKind.SUPPLIER_PAYABLE)
PLATFORM = Account(AccountKind.PLATFORM_REVENUE)


class BelowCost(DomainError):
    """A level of the chain would earn less than nothing, and the merchant does not allow selling below cost."""

    code = "below_cost"


@dataclass(frozen=True, slots=True)
class Share:
    account: Account
    amount: Money


def split(
    sale: Money,
    supplier_cost: Money,
    chain: Sequence[tuple[int, Money]] = (),
    *,
    allow_below_cost: bool = False,
) -> list[Share]:
    """The shares of a sale of `sale` whose goods cost `supplier_cost`.

    `chain` lists the resellers from the merchant's own reseller down to the one that sold, each with the
    price it paid for the goods. Without a chain the merchant sold directly. Shares of zero are left out.
    """
    currency = sale.currency
    shares = [Share(SUPPLIER, supplier_cost)]
    paid_up_the_chain = [cost for _, cost in chain] + [sale]
    shares.append(Share(PLATFORM, paid_up_the_chain[0] - supplier_cost))
    for (reseller_id, cost), sold_for in zip(chain, paid_up_the_chain[1:], strict=True):
        shares.append(Share(Account(AccountKind.RESELLER_COMMISSION, reseller_id), sold_for - cost))
    if not allow_below_cost:
        for share in shares:
            if share.amount.minor < 0:
                raise BelowCost(f"{share.account.code} would earn {share.amount}", account=share.account.code)
    kept = [share for share in shares if share.amount.minor != 0]
    assert sum(share.amount.minor for share in kept) == sale.minor and all(s.amount.currency == currency for s in kept)
    return kept
