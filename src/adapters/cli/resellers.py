"""`kaquan reseller …`: resellers and their prepaid wallets."""

from __future__ import annotations

import click

from adapters.bootstrap import Container
from adapters.cli.running import Output, run
from domain.audit import Actor
from domain.errors import NotFound
from domain.money import Money
from domain.resellers import Reseller, ResellerDraft
from domain.staff import normalize_username


@click.group()
def reseller() -> None:
    """Resellers (分销商) and their prepaid wallets."""


@reseller.command("create")
@click.argument("name")
@click.option("--contact", required=True, help="email or phone")
@click.option("--credit-limit", default="0", show_default=True, help="how far the wallet may go below zero")
@click.option("--parent", "parent_id", type=int, default=None, help="the inviting reseller's id")
@click.option("--tier", "tier_name", default=None, help="its tier's name (the merchant's own resellers)")
@click.option("--login", "username", default="", help="also a login with this username, set up via a one-time link")
@click.pass_obj
def reseller_create(
    out: Output, name: str, contact: str, credit_limit: str, parent_id: int | None, tier_name: str | None, username: str
) -> None:
    """Create a reseller with an empty wallet (and its first login: the invite link is printed once)."""

    async def create(c: Container) -> tuple[Reseller, str | None]:
        tier_id = None
        if tier_name is not None:
            tier_id = next((t.id for t in await c.resellers.tiers() if t.name == tier_name.strip()), None)
            if tier_id is None:
                raise NotFound(f"no tier named {tier_name!r}")
        draft = ResellerDraft(name, contact, credit_limit, parent_id, tier_id)
        return await c.resellers.create_with_login(draft, username, Actor.cli())

    made, token = run(create)
    row = {"id": made.id, "name": made.name, "depth": made.depth, "credit_limit": made.credit_limit.amount}
    text = f"created reseller {made.name} (#{made.id}), credit limit {made.credit_limit.amount}"
    if token is not None:
        row["invite"] = f"/invite/{token}"
        text += f"\ninvite link for {normalize_username(username)} (works once): /invite/{token}"
    out.emit(row, text)


@reseller.command("topup")
@click.argument("reseller_id", type=int)
@click.argument("amount")
@click.option("--note", default="", help="e.g. the bank transfer's reference")
@click.pass_obj
def reseller_topup(out: Output, reseller_id: int, amount: str, note: str) -> None:
    """Add money the reseller paid to its wallet (a balanced ledger posting)."""
    balance: Money = run(lambda c: c.resellers.top_up(reseller_id, amount, note, Actor.cli()))
    out.emit({"reseller": reseller_id, "balance": balance.amount}, f"reseller #{reseller_id} balance {balance.amount}")
