"""A product's code pool in the admin: stock counts and imports with live progress (the page is the product's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.codepool import BatchDetails
from domain.errors import NotFound, ValidationFailed
from domain.imports import MAX_UPLOAD_BYTES
from domain.services.imports import CodeImports
from domain.services.stock import Stock
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.forms import ImportForm

READ_SIZE = 1024 * 1024


class StockController(Controller):
    path = "/admin/products/{product_id:int}"
    include_in_schema = False
    guards = [requires(Permission.VIEW_CATALOG)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/stock")
    async def stock_partial(self, product_id: FromPath[int], stock: NamedDependency[Stock]) -> Template:
        return Template("stock/_counts.html", context={"stock": await stock.of_product(product_id)})

    @post(
        "/imports",
        guards=[requires(Permission.MANAGE_CODES)],
        request_max_body_size=MAX_UPLOAD_BYTES + READ_SIZE,
    )
    async def start_import(
        self,
        request: HTMXRequest,
        product_id: FromPath[int],
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        imports: NamedDependency[CodeImports],
        display_zone: NamedDependency[ZoneInfo],
    ) -> Template:
        details = BatchDetails.checked(
            data.source, data.unit_cost, _end_of(data.expires_on, display_zone), datetime.now(display_zone)
        )
        if data.file is not None and data.file.filename:
            name, content = data.file.filename, _read(data.file)
        elif data.codes.strip():
            name, content = "", _pasted(data.codes)
        else:
            raise ValidationFailed({"codes": "file_or_paste"})
        job = await imports.start(product_id, name, content, details, actor(request))
        return Template("stock/_import.html", context={"job": job, "product_id": product_id})

    @get("/imports/{import_id:int}")
    async def import_status(
        self, product_id: FromPath[int], import_id: FromPath[int], imports: NamedDependency[CodeImports]
    ) -> Template:
        job = await imports.get(import_id)
        if job.product_id != product_id:
            raise NotFound(f"no import #{import_id} for product #{product_id}")
        # When the import ends, the stock counts on the page refresh themselves.
        headers = {"HX-Trigger": "stock-changed"} if job.finished else {}
        return Template("stock/_import.html", context={"job": job, "product_id": product_id}, headers=headers)


async def _read(upload: UploadFile) -> AsyncIterator[bytes]:
    try:
        while piece := await upload.read(READ_SIZE):
            yield piece
    finally:
        await upload.close()


async def _pasted(text: str) -> AsyncIterator[bytes]:
    yield text.encode()


def _end_of(day: str, zone: ZoneInfo) -> datetime | None:
    if not day.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(day.strip()), time.max, zone)
    except ValueError:
        raise ValidationFailed({"expires_at": "invalid_date"}) from None
