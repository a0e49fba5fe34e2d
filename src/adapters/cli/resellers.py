"""`kaquan reseller …`: resellers and their prepaid wallets."""

from __future__ import annotations

import click

from adapters.cli.running import Output, run
from domain.audit import Actor
from domain.money import Money
from domain.resellers import Reseller, ResellerDraft


@click.group()
def reseller() -> None:
    """Resellers (分销商) and their prepaid wallets."""


@reseller.command("create")
@click.argument("name")
@click.option("--contact", required=True, help="email or phone")
@click.option("--credit-limit", default="0", show_default=True, help="how far the wallet may go below zero")
@click.option("--parent", "parent_id", type=int, default=None, help="the inviting reseller's id")
@click.pass_obj
def reseller_create(out: Output, name: str, contact: str, credit_limit: str, parent_id: int | None) -> None:
    """Create a reseller with an empty wallet."""
    draft = ResellerDraft(name, contact, credit_limit, parent_id)
    made: Reseller = run(lambda c: c.resellers.create(draft, Actor.cli()))
    row = {"id": made.id, "name": made.name, "depth": made.depth, "credit_limit": made.credit_limit.amount}
    out.emit(row, f"created reseller {made.name} (#{made.id}), credit limit {made.credit_limit.amount}")


@reseller.command("topup")
@click.argument("reseller_id", type=int)
@click.argument("amount")
@click.option("--note", default="", help="e.g. the bank transfer's reference")
@click.pass_obj
def reseller_topup(out: Output, reseller_id: int, amount: str, note: str) -> None:
    """Add money the reseller paid to its wallet (a balanced ledger posting)."""
    balance: Money = run(lambda c: c.resellers.top_up(reseller_id, amount, note, Actor.cli()))
    out.emit({"reseller": reseller_id, "balance": balance.amount}, f"reseller #{reseller_id} balance {balance.amount}")
