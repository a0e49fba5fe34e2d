"""`kaquan`: everything an operator scripts, on the same services as the web app.

Plain text by default, JSON with --json; errors go to stderr with a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from adapters import bootstrap
from adapters.cli import demo
from adapters.cli.apikeys import apikey
from adapters.cli.resellers import reseller
from adapters.cli.running import Output, run
from adapters.cli.upstreams import product_sources, upstream
from adapters.db import migrate
from adapters.keys import rotate_code_keys
from adapters.settings import Settings
from domain.audit import Actor
from domain.catalog import DeliveryKind, Product, ProductDraft, ProductQuery
from domain.codepool import BatchDetails
from domain.imports import CodeImport
from domain.paging import Page, PageRequest
from domain.staff import Role, StaffMember


@click.group()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.pass_context
def cli(ctx: click.Context, as_json: bool) -> None:
    """kaquan (卡券): sell and deliver digital rights."""
    ctx.obj = Output(as_json)


cli.add_command(reseller)
cli.add_command(apikey)
cli.add_command(upstream)


@cli.command()
@click.option("--host", default=None, help="default: KAQUAN_HOST (127.0.0.1)")
@click.option("--port", type=int, default=None, help="default: KAQUAN_PORT (8000)")
def serve(host: str | None, port: int | None) -> None:
    """Serve the web app (with an in-process worker unless KAQUAN_REDIS_URL is set)."""
    import uvicorn

    settings = Settings()
    # By import string: the adapters package never imports the web layer.
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=True,
        log_config=None,  # adapters.logging owns logging
        access_log=False,  # the app writes its own access log, with request ids
    )


@cli.command()
@click.option("--processes", type=int, default=None, help="default: KAQUAN_WORKER_PROCESSES")
@click.option("--threads", type=int, default=None, help="default: KAQUAN_WORKER_THREADS")
def worker(processes: int | None, threads: int | None) -> None:
    """Run Dramatiq worker processes on the Redis broker."""
    settings = Settings()
    if not settings.redis_url:
        raise click.ClickException("KAQUAN_REDIS_URL is not set: without Redis, `kaquan serve` runs the worker itself")
    # A fresh interpreter: Dramatiq reads its idle-poll interval from the environment when it is imported.
    command = [
        sys.executable, "-m", "dramatiq", "adapters.queue.worker",
        "--processes", str(processes or settings.worker_processes),
        "--threads", str(threads or settings.worker_threads),
    ]  # fmt: skip
    environment = {**os.environ, "dramatiq_worker_timeout": str(settings.worker_idle_poll_ms)}
    os.execve(sys.executable, command, environment)  # noqa: S606 — our own interpreter, fixed arguments


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(out: Output, revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = Settings()
    migrate.upgrade(settings.effective_database_url, revision)
    out.emit({"upgraded_to": revision}, f"database upgraded to {revision}")


@db.command("downgrade")
@click.argument("revision")
@click.pass_obj
def db_downgrade(out: Output, revision: str) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(Settings().effective_database_url, revision)
    out.emit({"downgraded_to": revision}, f"database downgraded to {revision}")


@cli.group()
def user() -> None:
    """Staff accounts."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "display_name", default="", help="display name (default: the username)")
@click.option("--password", envvar="KAQUAN_NEW_PASSWORD", prompt=True, hide_input=True, confirmation_prompt=True)
@click.pass_obj
def user_create(out: Output, username: str, role: str, display_name: str, password: str) -> None:
    """Create a staff account that can log in at once."""
    member: StaffMember = run(lambda c: c.staff_admin.create(username, display_name, role, password, Actor.cli()))
    out.emit(
        {"id": member.id, "username": member.username, "role": member.role},
        f"created {member.role} {member.username} (#{member.id})",
    )


@user.command("list")
@click.pass_obj
def user_list(out: Output) -> None:
    """All staff accounts."""
    team: list[StaffMember] = run(lambda c: c.staff_admin.team())
    rows = [{"id": m.id, "username": m.username, "role": m.role, "status": m.status} for m in team]
    out.emit(
        {"staff": rows},
        "\n".join(f"{r['id']:>4}  {r['username']:<32} {r['role']:<9} {r['status']}" for r in rows),
    )


@cli.group()
def product() -> None:
    """The product catalog."""


product.add_command(product_sources)


@product.command("create")
@click.argument("sku")
@click.option("--name", required=True)
@click.option("--face-value", required=True, help="e.g. 30 or 30.00")
@click.option("--price", "retail_price", required=True, help="retail price, e.g. 19.80")
@click.option("--kind", "delivery_kind", type=click.Choice([k.value for k in DeliveryKind]), default="code")
@click.option("--brand", default="")
@click.option("--category", default="")
@click.option("--instructions", "usage_instructions", default="", help="shown to buyers with their code")
@click.option("--on-sale", is_flag=True, help="put it on sale at once")
@click.pass_obj
def product_create(out: Output, sku: str, **fields: Any) -> None:
    """Create a product."""
    draft = ProductDraft(sku=sku, **fields)
    created: Product = run(lambda c: c.catalog.create(draft, Actor.cli()))
    out.emit(_product_row(created), f"created {created.sku} (#{created.id})")


@product.command("list")
@click.option("--search", "text", default="", help="in SKU, name and brand")
@click.option("--category", default="")
@click.option("--limit", type=int, default=200, show_default=True)
@click.pass_obj
def product_list(out: Output, text: str, category: str, limit: int) -> None:
    """Products, newest first."""
    found: Page[Product] = run(lambda c: c.catalog.search(ProductQuery(text, category), PageRequest(1, limit)))
    rows = [_product_row(p) for p in found.items]
    lines = [
        f"{r['sku']:<20} {r['retail_price']:>10} {r['delivery_kind']:<8} {'on' if r['on_sale'] else 'off':<4}"
        f" {r['name']}"
        for r in rows
    ]
    out.emit({"products": rows, "total": found.total}, "\n".join(lines) or "no products")


def _product_row(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "sku": product.sku,
        "name": product.name,
        "brand": product.brand,
        "category": product.category,
        "face_value": product.face_value.amount,
        "retail_price": product.retail_price.amount,
        "delivery_kind": product.delivery_kind.value,
        "on_sale": product.on_sale,
    }


@cli.group()
def codes() -> None:
    """The code pool (卡密池)."""


@codes.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--product", "sku", required=True, help="the product's SKU")
@click.option("--source", required=True, help="supplier or channel the codes came from")
@click.option("--unit-cost", default="0", show_default=True, help="what each code cost, e.g. 8.50")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last day the codes are valid")
@click.pass_obj
def codes_import(out: Output, file: Path, sku: str, source: str, unit_cost: str, expires: datetime | None) -> None:
    """Import codes from a CSV, TXT or XLSX FILE (card number, then optional PIN); runs here, now."""

    async def work(container: bootstrap.Container) -> CodeImport | None:
        product = await container.catalog.by_sku(sku)
        zone = ZoneInfo(container.settings.display_timezone)
        expires_at = datetime.combine(expires.date(), time.max, zone) if expires else None
        details = BatchDetails.checked(source, unit_cost, expires_at, datetime.now(zone))
        job = await container.imports.start(product.id or 0, file.name, _read_file(file), details, Actor.cli())
        return await container.imports.run(job.id or 0)

    job: CodeImport = run(work)
    p = job.progress
    result = {
        "import": job.id,
        "status": job.status,
        "error": job.error,
        "batch": job.batch_id,
        "rows": p.rows_read,
        "imported": p.imported,
        "duplicates_in_file": p.duplicates_in_file,
        "duplicates_in_pool": p.duplicates_in_pool,
        "rejected": p.rejected_count,
        "rejected_lines": [{"line": line, "problem": problem} for line, problem in p.rejected],
    }
    if job.error:
        if out.as_json:
            out.emit(result, "")
        raise click.ClickException(f"import failed: {job.error}")
    lines = [
        f"imported {p.imported} codes into batch #{job.batch_id}" if p.imported else "no new codes: nothing imported",
        f"duplicates in the file: {p.duplicates_in_file}, already in the pool: {p.duplicates_in_pool}",
        f"rejected: {p.rejected_count}",
        *(f"  line {line}: {problem}" for line, problem in p.rejected[:20]),
    ]
    out.emit(result, "\n".join(lines))


@codes.command("generate")
@click.option("--product", "sku", required=True, help="a voucher product's SKU")
@click.option("--count", type=click.IntRange(1, 1_000_000), required=True)
@click.option("--length", type=click.IntRange(8, 32), default=12, show_default=True)
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None, help="last day the codes are valid")
@click.pass_obj
def codes_generate(out: Output, sku: str, count: int, length: int, expires: datetime | None) -> None:
    """Generate own voucher codes (unique, with a check character); runs here, now."""

    async def work(container: bootstrap.Container) -> CodeImport | None:
        product = await container.catalog.by_sku(sku)
        zone = ZoneInfo(container.settings.display_timezone)
        expires_at = datetime.combine(expires.date(), time.max, zone) if expires else None
        details = BatchDetails.checked("generated", "0", expires_at, datetime.now(zone))
        job = await container.imports.generate(product.id or 0, count, length, details, Actor.cli())
        return await container.imports.run(job.id or 0)

    job: CodeImport = run(work)
    out.emit(
        {"import": job.id, "status": job.status, "batch": job.batch_id, "generated": job.progress.imported},
        f"generated {job.progress.imported} voucher codes into batch #{job.batch_id}",
    )


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while piece := await asyncio.to_thread(handle.read, 1024 * 1024):
            yield piece


@cli.group()
def keys() -> None:
    """The encryption key ring (codes, delivered units, API keys' and upstreams' secrets)."""


@keys.command("rotate")
@click.pass_obj
def keys_rotate(out: Output) -> None:
    """Add a new code key in front of the ring. After the restart the workers re-seal in the background."""
    ring, path = rotate_code_keys(Settings())
    if path is None:
        out.emit(
            {"active": ring.active, "KAQUAN_CODE_KEYS": ring.text()},
            f"new key {ring.active}. Set this everywhere the app runs and restart; the workers then re-seal"
            f" everything sealed in the background (or run `kaquan keys reseal`):\nKAQUAN_CODE_KEYS={ring.text()}",
        )
    else:
        out.emit(
            {"active": ring.active, "file": str(path)},
            f"new key {ring.active} written to {path}. Restart the app; the workers then re-seal everything sealed"
            " in the background (or run `kaquan keys reseal`).",
        )


@keys.command("reseal")
@click.pass_obj
def keys_reseal(out: Output) -> None:
    """Re-seal everything sealed (codes, delivered units, API keys' and upstreams' secrets) under the active key;
    resumable: run it again after any interruption."""
    shown = ""

    def report(kind: str, done: int) -> None:
        nonlocal shown
        if not out.as_json:
            click.echo(
                ("\n" if shown and kind != shown else "\r") + f"{done} {_words(kind)} re-sealed", nl=False, err=True
            )
            shown = kind

    async def work(container: bootstrap.Container) -> tuple[dict[str, int], dict[str, int]]:
        done = await container.key_rotation.reseal_all(Actor.cli(), report)
        return done, await container.key_rotation.status()

    done, status = run(work)
    counts = ", ".join(f"{count} {_words(kind)}" for kind, count in done.items())
    out.emit({"resealed": done, "sealed_by_key": status}, f"\nre-sealed {counts}; sealed values by key: {status}")


def _words(kind: str) -> str:
    return kind.replace("_", " ").replace("api ", "API ")


@keys.command("status")
@click.pass_obj
def keys_status(out: Output) -> None:
    """How many sealed values (codes, delivered units, API keys' and upstreams' secrets, running imports) each key
    seals; an old key can leave the ring once it seals none."""

    async def work(container: bootstrap.Container) -> tuple[str, dict[str, int]]:
        return container.secrets.code_keys.active, await container.key_rotation.status()

    active, status = run(work)
    status = {active: 0, **status} if active not in status else status
    lines = [f"{key_id:<8} {count:>10}{'  (active)' if key_id == active else ''}" for key_id, count in status.items()]
    out.emit(
        {"active": active, "sealed_by_key": status}, "\n".join(lines) or f"nothing sealed yet; active key {active}"
    )


@cli.command()
@click.option("--demo/--no-demo", "with_demo", default=True, help="load demo data (dev mode only)")
@click.pass_obj
def setup(out: Output, with_demo: bool) -> None:
    """First run: migrate, create the owner (KAQUAN_ADMIN_PASSWORD or a generated password), load demo data."""
    settings = Settings()
    migrate.upgrade(settings.effective_database_url)
    password = settings.admin_password.get_secret_value() if settings.admin_password else None
    owner = run(lambda c: c.staff_admin.ensure_first_owner(password))
    if owner is None:
        out.emit({"owner": None}, "staff accounts exist already; no owner created")
    elif owner.generated_password:
        out.emit(
            {"owner": owner.username, "password": owner.generated_password},
            f"\n  owner login: {owner.username}\n  password:    {owner.generated_password}\n"
            "  (shown once; log in and keep it safe)\n",
        )
    else:
        out.emit({"owner": owner.username}, f"owner {owner.username} created with KAQUAN_ADMIN_PASSWORD")
    if with_demo:
        _load_demo(out, settings)


@cli.group(name="demo")
def demo_group() -> None:
    """Demo data, so a newcomer can try every capability (dev mode only)."""


@demo_group.command("load")
@click.pass_obj
def demo_load(out: Output) -> None:
    """Load demo data (idempotent)."""
    _load_demo(out, Settings())


def _load_demo(out: Output, settings: Settings) -> None:
    if settings.is_production:
        raise click.ClickException("demo data is for dev mode only")
    loaded: list[str] = run(demo.load)
    out.emit({"demo": loaded}, "\n".join(f"demo: {line}" for line in loaded) or "demo: already loaded")
