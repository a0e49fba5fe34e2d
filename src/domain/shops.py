"""A reseller's one-click shop at /s/<slug>: its address, look, notice, and the price it asks of buyers."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from domain.errors import ValidationFailed
from domain.money import Money
from domain.pricing import MARKUP_MAX, marked_up, parse_percent

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,30}[a-z0-9])$")
# Words a shop address must not take: they are, or may become, our own paths, or they would mislead buyers.
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "auth", "checkout", "docs", "help", "kaquan", "login", "logout", "lookup",
        "merchant", "new", "official", "order", "orders", "pay", "payment", "portal", "r", "redeem", "s",
        "sandbox", "settings", "shop", "static", "support", "www",
    }
)  # fmt: skip
NOTICE_MAX = 500
THEME = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_THEME = "#b91c1c"
DEFAULT_MARKUP_BP = 2000
LOGO_MAX_BYTES = 200 * 1024
# Raster images only, recognised by their first bytes (never by the name or the browser's word): an SVG
# could carry script.
LOGO_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


@dataclass(frozen=True, slots=True)
class ShopDraft:
    """The settings form, as typed."""

    enabled: bool
    slug: str
    notice: str = ""
    theme: str = DEFAULT_THEME
    markup: str = "20"


@dataclass(frozen=True, slots=True)
class Shop:
    reseller_id: int
    name: str
    slug: str | None = None
    enabled: bool = False
    notice: str = ""
    theme: str = DEFAULT_THEME
    markup_bp: int = DEFAULT_MARKUP_BP
    logo_type: str | None = None

    @property
    def is_open(self) -> bool:
        return self.enabled and self.slug is not None

    def configured(self, draft: ShopDraft) -> Shop:
        """These settings, checked: a valid, unreserved address (required to open the shop), a colour, a
        notice of reasonable length, a markup between 0 and 1000 %."""
        errors: dict[str, str] = {}
        slug = draft.slug.strip().lower() or None
        if slug is None:
            if draft.enabled:
                errors["slug"] = "required"
        elif not SLUG.match(slug):
            errors["slug"] = "invalid_slug"
        elif slug in RESERVED_SLUGS:
            errors["slug"] = "reserved_slug"
        notice = draft.notice.strip()
        if len(notice) > NOTICE_MAX:
            errors["notice"] = "too_long"
        theme = draft.theme.strip()
        if not THEME.match(theme):
            errors["theme"] = "invalid_colour"
        markup = 0
        try:
            markup = parse_percent(draft.markup, "markup", most=MARKUP_MAX)
        except ValidationFailed as problem:
            errors.update(problem.errors)
        if errors:
            raise ValidationFailed(errors)
        return replace(self, slug=slug, enabled=draft.enabled, notice=notice, theme=theme.lower(), markup_bp=markup)

    def price(self, cost: Money, own_price: Money | None) -> Money:
        """What buyers pay: the price the reseller chose, else its markup over what it pays."""
        return own_price if own_price is not None else marked_up(cost, self.markup_bp)


def logo_type(data: bytes) -> str:
    """The image's media type, or ValidationFailed: PNG, JPEG or GIF, at most LOGO_MAX_BYTES."""
    if not data:
        raise ValidationFailed({"logo": "required"})
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationFailed({"logo": "file_too_large"})
    for signature, media_type in LOGO_SIGNATURES.items():
        if data.startswith(signature):
            return media_type
    raise ValidationFailed({"logo": "unsupported_image"})


@dataclass(frozen=True, slots=True)
class ShopItem:
    """A product as a shop shows it: the buyer's price, and whether any is left."""

    sku: str
    name: str
    brand: str
    face_value: Money
    price: Money
    available: int | None  # None: not counted (delivered by hand or by a supplier)

    @property
    def sold_out(self) -> bool:
        return self.available == 0
