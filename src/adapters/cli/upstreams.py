"""`kaquan upstream …` and `kaquan product sources …`: upstream suppliers (other kaquan instances, where the
merchant holds a reseller's API key) and each product's fulfilment sources — the admin's Suppliers pages, scripted."""

from __future__ import annotations

from typing import Any

import click

from adapters.bootstrap import Container
from adapters.cli.running import Output, run
from domain.audit import Actor
from domain.suppliers import Listing, Source, Upstream


@click.group()
def upstream() -> None:
    """Upstream suppliers: other kaquan instances this shop buys from over Open API v1."""


@upstream.command("add")
@click.argument("name")
@click.option("--url", "base_url", required=True, help="the upstream's address, e.g. https://upstream.example.com")
@click.option("--key-id", required=True, help="the API key id (kq_…) the upstream gave this shop as its reseller")
@click.option(
    "--secret", envvar="KAQUAN_UPSTREAM_SECRET", prompt=True, hide_input=True, help="the key's secret (or from env)"
)
@click.option(
    "--webhook-secret",
    envvar="KAQUAN_UPSTREAM_WEBHOOK_SECRET",
    default="",
    help="the key's webhook secret (whsec_…): the upstream then calls back; without it, orders there are polled",
)
@click.pass_obj
def upstream_add(out: Output, name: str, base_url: str, key_id: str, secret: str, webhook_secret: str) -> None:
    """Add an upstream; its secrets are stored encrypted. Sync its catalog next."""
    made: Upstream = run(lambda c: c.upstreams.add(name, base_url, key_id, secret, webhook_secret, Actor.cli()))
    out.emit(_upstream_row(made, 0), f"added upstream {made.name} (#{made.id}) at {made.base_url}")


@upstream.command("list")
@click.pass_obj
def upstream_list(out: Output) -> None:
    """Every upstream, with its last sync and how many of its products are listed here."""

    async def listed(c: Container) -> list[dict[str, Any]]:
        listings = await c.upstreams.listings()
        return [
            _upstream_row(u, sum(1 for item in listings if item.upstream_id == u.id)) for u in await c.upstreams.all()
        ]

    rows = run(listed)
    lines = [
        f"{r['id']:>4}  {r['name']:<20} {r['base_url']:<40} {r['key_id']}  {r['products']:>4} products"
        f"  synced {r['synced_at'] or 'never'}"
        for r in rows
    ]
    out.emit({"upstreams": rows}, "\n".join(lines) or "no upstream suppliers")


@upstream.command("sync")
@click.argument("upstream_id", type=int)
@click.pass_obj
def upstream_sync(out: Output, upstream_id: int) -> None:
    """Fetch the upstream's catalog at this shop's price there (replacing the last sync)."""
    listings: list[Listing] = run(lambda c: c.upstreams.sync(upstream_id, Actor.cli()))
    rows = [_listing_row(item) for item in listings]
    lines = [
        f"{r['sku']:<20} {r['price']:>10} {r['currency']}  {r['delivery']:<8} "
        f"{'in stock' if r['in_stock'] else 'out of stock':<12} {r['name']}"
        for r in rows
    ]
    out.emit({"upstream": upstream_id, "products": rows}, "\n".join([f"synced {len(rows)} products", *lines]))


@click.command("sources")
@click.argument("sku")
@click.option(
    "--source",
    "given",
    multiple=True,
    metavar="pool|UPSTREAM:SKU[:CEILING]",
    help="in order (repeat): the own code pool, or an upstream (its id or name), its SKU there and an optional "
    "cost ceiling, e.g. --source pool --source alpha:IQ-M:17.00",
)
@click.pass_obj
def product_sources(out: Output, sku: str, given: tuple[str, ...]) -> None:
    """Show the product's fulfilment sources, or set them (each --source in order)."""

    async def sources(c: Container) -> tuple[list[Source], dict[int | None, str]]:
        product = await c.catalog.by_sku(sku)
        names = {u.id: u.name for u in await c.upstreams.all()}
        if not given:
            return await c.upstreams.sources(product.id or 0), names
        rows = [_source_row(text, names) for text in given]
        return await c.upstreams.set_sources(product.id or 0, rows, Actor.cli()), names

    found, names = run(sources)
    rows = [
        {
            "position": s.position,
            "source": "pool" if s.is_pool else names.get(s.upstream_id, str(s.upstream_id)),
            "upstream": s.upstream_id,
            "upstream_sku": s.upstream_sku or None,
            "cost_ceiling": s.cost_ceiling.amount if s.cost_ceiling else None,
        }
        for s in found
    ]
    lines = [
        f"{r['position']}. {r['source']}"
        + (f" {r['upstream_sku']}" if r["upstream_sku"] else "")
        + (f" (ceiling {r['cost_ceiling']})" if r["cost_ceiling"] else "")
        for r in rows
    ]
    out.emit({"sku": sku.upper(), "sources": rows}, "\n".join(lines) or "own code pool only")


def _source_row(text: str, names: dict[int | None, str]) -> tuple[str, str, str]:
    """`pool`, or `UPSTREAM:SKU[:CEILING]` with the upstream by id or by name, as Upstreams.set_sources takes it."""
    if text.strip().lower() == "pool":
        return ("pool", "", "")
    which, _, rest = text.partition(":")
    upstream_sku, _, ceiling = rest.partition(":")
    by_name = {name: upstream_id for upstream_id, name in names.items()}
    if not which.strip().isdecimal():
        if which.strip() not in by_name:
            raise click.BadParameter(f"no upstream named {which!r}", param_hint="--source")
        which = str(by_name[which.strip()])
    return (which, upstream_sku, ceiling)


def _upstream_row(u: Upstream, products: int) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "base_url": u.base_url,
        "key_id": u.key_id,
        "webhooks": u.webhook_secret is not None,
        "synced_at": u.synced_at.isoformat() if u.synced_at else None,
        "products": products,
    }


def _listing_row(item: Listing) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "name": item.name,
        "price": item.price.amount,
        "currency": item.price.currency,
        "delivery": item.delivery_kind,
        "in_stock": item.in_stock,
        "available": item.available,
    }
