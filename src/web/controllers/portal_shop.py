"""A reseller's one-click shop, as the reseller sets it up: address and look, logo, and the products it sells
at its own prices. The buyers' side is web.controllers.reseller_shop."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.plugins.flash import flash
from litestar.response import Template

from domain.errors import ValidationFailed
from domain.services.shops import Shops
from domain.shops import LOGO_MAX_BYTES, ShopDraft
from web.auth import actor, base_url
from web.controllers.auth import go
from web.controllers.forms import Form, LogoForm, ShopSettingsForm
from web.controllers.portal import PORTAL_GUARDS, reseller_of
from web.i18n import locale_of, translate

# Bodies a little past the logo's limit still reach the domain, which names the problem; far bigger ones are
# refused by the framework (413) before they are read.
LOGO_BODY_MAX = 4 * LOGO_MAX_BYTES
HERE = "/portal/shop"


class PortalShopController(Controller):
    path = HERE
    include_in_schema = False
    guards = PORTAL_GUARDS

    @get("/")
    async def shop(self, request: Request[Any, Any, Any], shops: NamedDependency[Shops]) -> Template:
        reseller_id = reseller_of(request)
        context = {
            "shop": await shops.settings(reseller_id),
            "choices": await shops.choices(reseller_id),
            "base_url": base_url(request),
            "logo_max_kb": LOGO_MAX_BYTES // 1024,
        }
        return Template("portal/shop.html", context=context)

    @post("/", status_code=200)
    async def configure(
        self, request: Request[Any, Any, Any], data: Form[ShopSettingsForm], shops: NamedDependency[Shops]
    ) -> Response[Any]:
        draft = ShopDraft(bool(data.enabled), data.slug, data.notice, data.theme, data.markup)
        await shops.configure(reseller_of(request), draft, actor(request))
        return _saved(request, "portal_shop.saved")

    @post("/logo", status_code=200, request_max_body_size=LOGO_BODY_MAX)
    async def set_logo(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[LogoForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        shops: NamedDependency[Shops],
    ) -> Response[Any]:
        image = await _capped(data.logo)
        await shops.set_logo(reseller_of(request), image, actor(request))
        return _saved(request, "portal_shop.logo_saved")

    @post("/logo/remove", status_code=200)
    async def remove_logo(self, request: Request[Any, Any, Any], shops: NamedDependency[Shops]) -> Response[Any]:
        await shops.set_logo(reseller_of(request), None, actor(request))
        return _saved(request, "portal_shop.logo_removed")

    @get("/logo")
    async def logo(self, request: Request[Any, Any, Any], shops: NamedDependency[Shops]) -> Response[bytes]:
        """The logo as the portal previews it (the shop may not be open yet); never cached, it may just have
        changed."""
        media_type, image = await shops.own_logo(reseller_of(request))
        return Response(image, media_type=media_type, headers={"Cache-Control": "private, no-store"})

    @post("/products", status_code=200)
    async def choose(self, request: Request[Any, Any, Any], shops: NamedDependency[Shops]) -> Response[Any]:
        """Exactly the ticked products, each at its own price or (left empty) the shop's markup.

        A price below cost is named by its product here: the shared error box only knows fixed field names.
        """
        reseller_id = reseller_of(request)
        form = await request.form()
        prices = {product_id: str(form.get(f"price_{product_id}", "")) for product_id in _ids(form.getall("chosen"))}
        try:
            await shops.choose(reseller_id, prices, actor(request))
        except ValidationFailed as problem:
            names = {f"price_{c.offer.product.id}": c.offer.product.name for c in await shops.choices(reseller_id)}
            context = {"errors": problem.errors, "names": names}
            return Template("portal/_shop_errors.html", context=context, status_code=422)
        return _saved(request, "portal_shop.products_saved")


def _saved(request: Request[Any, Any, Any], message: str) -> Response[Any]:
    flash(request, translate(locale_of(request), message), "success")
    return go(request, HERE)


async def _capped(upload: UploadFile | None) -> bytes:
    """At most one byte past the limit: enough for the domain to refuse a big file without holding all of it."""
    if upload is None:
        return b""
    try:
        return await upload.read(LOGO_MAX_BYTES + 1)
    finally:
        await upload.close()


def _ids(values: list[Any]) -> list[int]:
    """The ticked product ids, in the table's order; anything but a row id is a bad choice, not a database error."""
    texts = [str(value) for value in values]
    if not all(text.isdecimal() and len(text) <= 19 and 0 < int(text) < 2**63 for text in texts):
        raise ValidationFailed({"products": "invalid_choice"})
    return list(dict.fromkeys(int(text) for text in texts))
