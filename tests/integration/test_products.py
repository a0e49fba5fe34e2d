"""The product repository on real SQLite and PostgreSQL: round trips, uniqueness, search."""

from __future__ import annotations

import pytest

from domain.audit import Actor
from domain.catalog import DeliveryKind, ProductDraft, ProductQuery, SkuTaken
from domain.money import Money
from domain.paging import PageRequest


def draft(sku: str, name: str, **changes) -> ProductDraft:
    return ProductDraft(**{"sku": sku, "name": name, "face_value": "30", "retail_price": "19.80", **changes})


async def test_a_product_round_trips_exactly(container):
    created = await container.catalog.create(
        draft("IQY-M", "爱奇艺黄金会员 月卡", brand="爱奇艺", category="视频", delivery_kind="voucher",
              usage_instructions="打开 App → 兑换", on_sale=True),
        Actor.cli(),
    )  # fmt: skip
    loaded = await container.catalog.get(created.id)
    assert loaded == created
    assert loaded.retail_price == Money(1980) and loaded.delivery_kind is DeliveryKind.VOUCHER and loaded.on_sale


async def test_a_duplicate_sku_is_refused_by_the_database(container):
    await container.catalog.create(draft("DUP", "one"), Actor.cli())
    with pytest.raises(SkuTaken):
        await container.catalog.create(draft("dup", "two"), Actor.cli())


async def test_search_is_case_insensitive_literal_and_filtered(container):
    catalog = container.catalog
    await catalog.create(draft("STEAM-100", "Steam Wallet 100", category="game", on_sale=True), Actor.cli())
    await catalog.create(draft("STEAM-50", "Steam Wallet 50", category="game"), Actor.cli())
    await catalog.create(draft("QQ-M", "QQ音乐 100% 绿钻", category="music", delivery_kind="topup"), Actor.cli())
    search = catalog.search

    async def skus(**query) -> list[str]:
        return [p.sku for p in (await search(ProductQuery(**query), PageRequest())).items]

    assert await skus(text="steam wallet") == ["STEAM-50", "STEAM-100"]
    assert await skus(text="100%") == ["QQ-M"], "% is searched for literally"
    assert await skus(text="_") == [], "_ is searched for literally"
    assert await skus(text="音乐") == ["QQ-M"]
    assert await skus(category="game", on_sale=True) == ["STEAM-100"]
    assert await skus(delivery_kind=DeliveryKind.TOPUP) == ["QQ-M"]
    page = await search(ProductQuery(), PageRequest(number=2, size=2))
    assert page.total == 3 and [p.sku for p in page.items] == ["STEAM-100"]
    assert await catalog.categories() == ["game", "music"]
