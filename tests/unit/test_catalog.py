"""Products: validation of every field at once, revisions, on/off sale, search."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.audit import Actor
from domain.catalog import DeliveryKind, Product, ProductDraft, ProductQuery, SkuTaken
from domain.errors import NotFound, ValidationFailed
from domain.money import Money
from domain.paging import PageRequest
from tests.unit.fakes import FixedClock


def draft(**changes) -> ProductDraft:
    values = {
        "sku": "iqy-m1",
        "name": " 爱奇艺黄金会员 月卡 ",
        "face_value": "30",
        "retail_price": "19.80",
        "brand": "iQIYI",
    }
    return ProductDraft(**{**values, **changes})


async def test_a_product_is_created_normalised_and_audited(world):
    product = await world.catalog.create(draft(), Actor.cli())
    assert (product.sku, product.name) == ("IQY-M1", "爱奇艺黄金会员 月卡")
    assert product.retail_price == Money(1980) and product.face_value == Money(3000)
    assert product.delivery_kind is DeliveryKind.CODE and not product.on_sale
    assert world.db.committed.audit[-1].action == "product.create"


def test_every_invalid_field_is_reported_together():
    with pytest.raises(ValidationFailed) as caught:
        Product.create(
            draft(sku="a b", name="", face_value="-1", retail_price="0", delivery_kind="teleport", brand="x" * 61),
            FixedClock().now(),
        )
    assert caught.value.errors == {
        "sku": "invalid_sku",
        "name": "required",
        "brand": "too_long",
        "delivery_kind": "invalid_choice",
        "face_value": "invalid_amount",
        "retail_price": "must_be_positive",
    }


async def test_skus_are_unique(world):
    await world.catalog.create(draft(), Actor.cli())
    with pytest.raises(SkuTaken) as caught:
        await world.catalog.create(draft(sku="IQY-M1"), Actor.cli())
    assert caught.value.errors == {"sku": "sku_taken"}


async def test_a_revision_keeps_the_sku_and_creation_time(world):
    product = await world.catalog.create(draft(), Actor.cli())
    world.clock.advance(timedelta(hours=1))
    revised = await world.catalog.revise(product.id, draft(sku="OTHER", retail_price="18"), Actor.cli())
    assert revised.sku == "IQY-M1" and revised.retail_price == Money(1800)
    assert revised.created_at == product.created_at < revised.updated_at


async def test_going_on_and_off_sale_is_audited(world):
    product = await world.catalog.create(draft(), Actor.cli())
    assert (await world.catalog.set_on_sale(product.id, True, Actor.cli())).on_sale
    assert not (await world.catalog.set_on_sale(product.id, False, Actor.cli())).on_sale
    assert world.db.audit_actions[-2:] == ["product.on_sale", "product.off_sale"]


async def test_unknown_products_are_not_found(world):
    with pytest.raises(NotFound):
        await world.catalog.get(7)


async def test_search_filters_and_pages(world):
    for n in range(30):
        await world.catalog.create(
            draft(sku=f"SKU-{n:02d}", name=f"Card {n}", category="video" if n % 2 else "music"), Actor.cli()
        )
    page = await world.catalog.search(ProductQuery(category="video"), PageRequest(number=2, size=10))
    assert page.total == 15 and page.pages == 2 and len(page.items) == 5 and not page.has_next
    found = await world.catalog.search(ProductQuery(text="card 2"), PageRequest())
    assert {p.sku for p in found.items} == {"SKU-02", *(f"SKU-{n}" for n in range(20, 30))}
    assert await world.catalog.categories() == ["music", "video"]
