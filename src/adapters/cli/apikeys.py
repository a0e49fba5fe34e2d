"""`kaquan apikey …`: a reseller's Open API keys, as its portal manages them (same service, same audit)."""

from __future__ import annotations

from typing import Any

import click

from adapters.bootstrap import Container
from adapters.cli.running import Output, run
from domain.api import ApiKey, NewKey
from domain.audit import Actor
from domain.errors import NotFound


@click.group()
def apikey() -> None:
    """Resellers' Open API keys."""


@apikey.command("create")
@click.option("--reseller", "reseller_id", type=int, required=True, help="the reseller's id")
@click.option("--label", default="", help="which of its systems uses the key")
@click.option("--allow-ip", "allowed", multiple=True, help="an address or CIDR network it may be used from (repeat)")
@click.pass_obj
def apikey_create(out: Output, reseller_id: int, label: str, allowed: tuple[str, ...]) -> None:
    """Make a key; its signing secret and webhook secret are printed this once (only sealed copies are kept)."""
    made: NewKey = run(lambda c: c.api_keys.create(reseller_id, label, "\n".join(allowed), Actor.cli()))
    row = {**_key_row(made.key), "secret": made.secret, "webhook_secret": made.webhook_secret}
    out.emit(
        row,
        f"created API key #{made.key.id} for reseller #{reseller_id}\n"
        f"  key id:         {made.key.key_id}\n"
        f"  secret:         {made.secret}\n"
        f"  webhook secret: {made.webhook_secret}\n"
        "  (shown once: store them now; if one is lost, revoke the key and make another)",
    )


@apikey.command("list")
@click.option("--reseller", "reseller_id", type=int, required=True, help="the reseller's id")
@click.pass_obj
def apikey_list(out: Output, reseller_id: int) -> None:
    """The reseller's keys, newest first, revoked ones too. Never their secrets."""

    async def keys(c: Container) -> list[ApiKey]:
        await c.resellers.get(reseller_id)  # an unknown reseller is an error, not an empty list
        return await c.api_keys.of_reseller(reseller_id)

    rows = [_key_row(key) for key in run(keys)]
    lines = [
        f"{r['id']:>5}  {r['key_id']}  {r['status']:<7}  {','.join(r['allowed_ips']) or 'any address':<24} {r['label']}"
        for r in rows
    ]
    out.emit({"reseller": reseller_id, "keys": rows}, "\n".join(lines) or f"reseller #{reseller_id} has no API keys")


@apikey.command("revoke")
@click.option("--reseller", "reseller_id", type=int, required=True, help="the reseller's id")
@click.argument("key")
@click.pass_obj
def apikey_revoke(out: Output, reseller_id: int, key: str) -> None:
    """Revoke KEY (its number from `apikey list`, or its key id kq_…): it stops working at once."""

    async def revoke(c: Container) -> ApiKey:
        found = next((k for k in await c.api_keys.of_reseller(reseller_id) if key in (str(k.id), k.key_id)), None)
        if found is None or found.id is None:
            raise NotFound(f"reseller #{reseller_id} has no API key {key}")
        return await c.api_keys.revoke(reseller_id, found.id, Actor.cli())

    revoked: ApiKey = run(revoke)
    out.emit(_key_row(revoked), f"revoked API key {revoked.key_id} (#{revoked.id}) of reseller #{reseller_id}")


def _key_row(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "key_id": key.key_id,
        "reseller": key.reseller_id,
        "label": key.label,
        "allowed_ips": list(key.allowed_ips),
        "status": "active" if key.is_active else "revoked",
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }
