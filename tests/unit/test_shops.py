"""A reseller's shop settings: the address, its look, and the price buyers pay."""

from __future__ import annotations

import pytest

from domain.errors import ValidationFailed
from domain.money import Money
from domain.shops import LOGO_MAX_BYTES, RESERVED_SLUGS, Shop, ShopDraft, logo_type

SHOP = Shop(reseller_id=3, name="Shop A")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def test_a_shop_opens_at_a_valid_address_with_its_settings_normalised():
    shop = SHOP.configured(ShopDraft(True, " Card-Corner ", " Open 24 h ", "#1D4ED8", "12.5"))
    assert (shop.slug, shop.notice, shop.theme, shop.markup_bp, shop.is_open) == (
        "card-corner",
        "Open 24 h",
        "#1d4ed8",
        1250,
        True,
    )
    assert not SHOP.configured(ShopDraft(False, "", markup="0")).is_open, "switched off, no address needed"


@pytest.mark.parametrize(
    ("draft", "errors"),
    [
        (ShopDraft(True, ""), {"slug": "required"}),
        (ShopDraft(True, "ab"), {"slug": "invalid_slug"}),
        (ShopDraft(True, "-shop"), {"slug": "invalid_slug"}),
        (ShopDraft(True, "shop_a"), {"slug": "invalid_slug"}),
        (ShopDraft(True, "admin"), {"slug": "reserved_slug"}),
        (ShopDraft(True, "shop-a", "x" * 501), {"notice": "too_long"}),
        (ShopDraft(True, "shop-a", theme="red"), {"theme": "invalid_colour"}),
        (ShopDraft(True, "shop-a", markup="-5"), {"markup": "invalid_percent"}),
        (ShopDraft(True, "admin", theme="#12", markup="x"), {"slug": "reserved_slug", "theme": "invalid_colour",
                                                              "markup": "invalid_percent"}),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_field_by_field(draft, errors):
    with pytest.raises(ValidationFailed) as caught:
        SHOP.configured(draft)
    assert caught.value.errors == errors


def test_every_reserved_word_is_refused_even_in_capitals():
    for word in RESERVED_SLUGS:
        if len(word) >= 3:
            with pytest.raises(ValidationFailed):
                SHOP.configured(ShopDraft(True, word.upper()))


def test_buyers_pay_the_resellers_own_price_or_its_markup_over_cost():
    shop = SHOP.configured(ShopDraft(True, "shop-a", markup="20"))
    assert shop.price(Money(2645), None) == Money(3174)  # 26.45 × 1.2
    assert shop.price(Money(2645), Money(2999)) == Money(2999)


def test_a_logo_is_a_small_raster_image_recognised_by_its_bytes():
    assert logo_type(PNG) == "image/png"
    assert logo_type(b"\xff\xd8\xff\xe0" + b"\0" * 16) == "image/jpeg"
    assert logo_type(b"GIF89a" + b"\0" * 16) == "image/gif"
    for data, problem in (
        (b"", "required"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "unsupported_image"),
        (b"%PDF-1.7", "unsupported_image"),
        (PNG + b"\0" * LOGO_MAX_BYTES, "file_too_large"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            logo_type(data)
        assert caught.value.errors == {"logo": problem}
