"""A product's code pool in the admin: stock counts and imports with live progress (the page is the product's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Stream, Template

from adapters.codefiles import csv_export, xlsx_export
from domain.codepool import BatchDetails, CodeAction
from domain.errors import NotFound, ValidationFailed
from domain.imports import MAX_UPLOAD_BYTES
from domain.paging import PageRequest
from domain.services.auth import SignIn
from domain.services.codes import Codes, CodeView
from domain.services.imports import CodeImports
from domain.services.stock import Stock
from domain.staff import Permission
from web.auth import actor, client_ip, requires
from web.controllers.auth import go
from web.controllers.forms import ExportForm, Form, GenerateForm, ImportForm
from web.controllers.params import PageNumber, RowId
from web.i18n import locale_of, translate

READ_SIZE = 1024 * 1024
CODES_PER_PAGE = 50
NO_STORE = {"Cache-Control": "no-store"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class StockController(Controller):
    path = "/admin/products/{product_id:int}"
    include_in_schema = False
    guards = [requires(Permission.VIEW_CATALOG)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/stock")
    async def stock_partial(self, product_id: RowId, stock: NamedDependency[Stock]) -> Template:
        return Template("stock/_counts.html", context={"stock": await stock.of_product(product_id)})

    @post(
        "/imports",
        guards=[requires(Permission.MANAGE_CODES)],
        request_max_body_size=MAX_UPLOAD_BYTES + READ_SIZE,
    )
    async def start_import(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        imports: NamedDependency[CodeImports],
        display_zone: NamedDependency[ZoneInfo],
    ) -> Template:
        details = _batch_details(data.source, data.unit_cost, data.expires_on, display_zone)
        try:
            if data.file is not None and data.file.filename:
                name, content = data.file.filename, _read(data.file)
            elif data.codes.strip():
                name, content = "", _pasted(data.codes)
            else:
                raise ValidationFailed({"codes": "file_or_paste"})
            job = await imports.start(product_id, name, content, details, actor(request))
        finally:
            if data.file is not None:
                await data.file.close()  # also when the import was refused before reading it
        return Template("stock/_import.html", context={"job": job, "product_id": product_id})

    @post("/vouchers", guards=[requires(Permission.MANAGE_CODES)], status_code=200)
    async def generate_vouchers(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Form[GenerateForm],
        imports: NamedDependency[CodeImports],
        display_zone: NamedDependency[ZoneInfo],
    ) -> Template:
        details = _batch_details(data.source, data.unit_cost, data.expires_on, display_zone)
        count, length = _whole(data.count, "count", "generate_count"), _whole(data.length, "length", "voucher_length")
        job = await imports.generate(product_id, count, length, details, actor(request))
        return Template("stock/_import.html", context={"job": job, "product_id": product_id})

    @get("/imports/{import_id:int}")
    async def import_status(
        self, product_id: RowId, import_id: RowId, imports: NamedDependency[CodeImports]
    ) -> Template:
        job = await imports.get(import_id)
        if job.product_id != product_id:
            raise NotFound(f"no import #{import_id} for product #{product_id}")
        # When the import ends, the stock counts on the page refresh themselves.
        headers = {"HX-Trigger": "stock-changed"} if job.finished else {}
        return Template("stock/_import.html", context={"job": job, "product_id": product_id}, headers=headers)

    @get("/batches/{batch_id:int}")
    async def batch(
        self,
        request: HTMXRequest,
        product_id: RowId,
        batch_id: RowId,
        codes: NamedDependency[Codes],
        stock: NamedDependency[Stock],
        page: PageNumber = 1,
    ) -> Template:
        context = {
            "stock": await stock.of_product(product_id),
            "batch": await codes.batch(product_id, batch_id),
            "codes": await codes.of_batch(product_id, batch_id, PageRequest(page, CODES_PER_PAGE)),
        }
        return Template("stock/batch.html", context=context)

    @post("/batches/{batch_id:int}/{action:str}", guards=[requires(Permission.MANAGE_CODES)], status_code=200)
    async def batch_action(
        self,
        request: HTMXRequest,
        product_id: RowId,
        batch_id: RowId,
        action: FromPath[str],
        codes: NamedDependency[Codes],
    ) -> Response[Any]:
        changed = await codes.apply(product_id, _action(action), actor(request), batch_id=batch_id)
        flash(request, translate(locale_of(request), f"codes.{action}_done", count=changed), "success")
        return go(request, f"/admin/products/{product_id}/batches/{batch_id}")

    @post("/codes/{code_id:int}/{action:str}", guards=[requires(Permission.MANAGE_CODES)], status_code=200)
    async def code_action(
        self,
        request: HTMXRequest,
        product_id: RowId,
        code_id: RowId,
        action: FromPath[str],
        codes: NamedDependency[Codes],
    ) -> Template:
        await codes.apply(product_id, _action(action), actor(request), code_id=code_id)
        return Template("stock/_code_row.html", context={"view": await codes.view(product_id, code_id)})

    @post("/codes/{code_id:int}/reveal", guards=[requires(Permission.REVEAL_CODES)], status_code=200)
    async def reveal(
        self, request: HTMXRequest, product_id: RowId, code_id: RowId, codes: NamedDependency[Codes]
    ) -> Template:
        code, secret = await codes.reveal(product_id, code_id, actor(request))
        context = {"view": CodeView(code, secret.masked), "secret": secret}
        return Template("stock/_code_row.html", context=context, headers=NO_STORE)

    @post("/batches/{batch_id:int}/export", guards=[requires(Permission.EXPORT_CODES)], status_code=200)
    async def export(
        self,
        request: HTMXRequest,
        product_id: RowId,
        batch_id: RowId,
        data: Form[ExportForm],
        codes: NamedDependency[Codes],
        sign_in: NamedDependency[SignIn],
    ) -> Response[Any]:
        """The batch's unsold codes as a file, after the owner types the password again."""
        await sign_in.confirm(request.user, data.password, client_ip(request))
        secrets = await codes.export(product_id, batch_id, actor(request))
        name = f"batch-{batch_id}-unsold.{'xlsx' if data.format == 'xlsx' else 'csv'}"
        headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
        if data.format == "xlsx":
            return Response(await xlsx_export(secrets), media_type=XLSX_TYPE, headers=headers)
        return Stream(csv_export(secrets), media_type="text/csv", headers=headers)


def _action(name: str) -> CodeAction:
    try:
        return CodeAction(name)
    except ValueError:
        raise NotFound(f"no action {name!r}") from None


async def _read(upload: UploadFile) -> AsyncIterator[bytes]:
    while piece := await upload.read(READ_SIZE):
        yield piece


async def _pasted(text: str) -> AsyncIterator[bytes]:
    yield text.encode()


def _whole(text: str, field: str, problem: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationFailed({field: problem}) from None


def _batch_details(source: str, unit_cost: str, expires_on: str, zone: ZoneInfo) -> BatchDetails:
    """Expiry is a day in the shop's time zone: codes are good until its last second."""
    return BatchDetails.checked(source, unit_cost, _end_of(expires_on, zone), datetime.now(zone))


def _end_of(day: str, zone: ZoneInfo) -> datetime | None:
    if not day.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(day.strip()), time.max, zone)
    except ValueError:
        raise ValidationFailed({"expires_at": "invalid_date"}) from None
