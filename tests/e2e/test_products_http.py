"""Product pages over HTTP: who may see and change the catalog, forms with errors in place, search."""

from __future__ import annotations

import re

import pytest

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server

PRODUCT = {
    "sku": "e2e-card",
    "name": "E2E 礼品卡",
    "brand": "Brand",
    "category": "e2e",
    "face_value": "50",
    "retail_price": "45.5",
    "delivery_kind": "code",
    "usage_instructions": "Redeem in the app.",
}


@pytest.fixture
def owner(app_server: Server) -> Browser:
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    browser.login("owner", OWNER_PASSWORD)
    return browser


def product_id(browser: Browser, sku: str) -> str:
    page = browser.get(f"/admin/products?q={sku}").text
    return re.search(r'id="product-(\d+)"', page).group(1)


def test_an_owner_creates_edits_and_takes_a_product_off_sale(owner):
    created = owner.post("/admin/products", {**PRODUCT, "on_sale": "on"})
    assert created.status_code == 303 and created.headers["location"] == "/admin/products"
    listing = owner.get("/admin/products").text
    assert "Product E2E-CARD created." in listing and "¥45.50" in listing and "E2E 礼品卡" in listing
    pid = product_id(owner, "E2E-CARD")
    form = owner.get(f"/admin/products/{pid}/edit").text
    assert 'value="45.50"' in form and "readonly" in form
    revised = owner.post(f"/admin/products/{pid}", {**PRODUCT, "sku": "IGNORED", "retail_price": "44"}, htmx=True)
    assert revised.headers["hx-redirect"] == "/admin/products"
    assert "¥44.00" in owner.get("/admin/products?q=e2e-card").text
    row = owner.post(f"/admin/products/{pid}/on-sale", {"on_sale": "0"}, htmx=True)
    assert row.status_code == 200 and "Off sale" in row.text
    assert "product.off_sale" in owner.get("/admin/audit").text


def test_invalid_product_input_names_each_field_and_creates_nothing(owner):
    bad = {**PRODUCT, "sku": "no spaces", "retail_price": "1.999", "name": ""}
    response = owner.post("/admin/products", bad, htmx=True)
    assert response.status_code == 422
    for field in ("sku", "name", "retail_price"):
        assert f'data-field="{field}"' in response.text
    assert "No products match." in owner.get("/admin/products?q=no%20spaces").text


def test_search_and_filters_answer_with_the_table_for_htmx(owner):
    for n in range(3):
        owner.post("/admin/products", {**PRODUCT, "sku": f"filter-{n}", "category": "filters", "name": f"Filter {n}"})
    partial = owner.http.get(
        "/admin/products?q=filter-1&category=filters",
        headers={"HX-Request": "true", "HX-Target": "product-table", "Cookie": f"kaquan_session={owner.session}"},
    )
    assert partial.status_code == 200 and "<html" not in partial.text
    assert "FILTER-1" in partial.text and "FILTER-2" not in partial.text


def test_clerks_see_the_catalog_but_cannot_change_it(app_server, owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "clerk-view"})
    app_server.add_staff("clerk.view", "clerk", "clerk view password")
    clerk = Browser(app_server.url, **{"Accept-Language": "en"})
    clerk.login("clerk.view", "clerk view password")
    listing = clerk.get("/admin/products")
    assert listing.status_code == 200 and "CLERK-VIEW" in listing.text and "New product" not in listing.text
    assert clerk.get("/admin/products/new").status_code == 403
    assert clerk.post("/admin/products", {**PRODUCT, "sku": "sneaky"}, htmx=True).status_code == 403
    pid = product_id(owner, "CLERK-VIEW")
    assert clerk.post(f"/admin/products/{pid}/on-sale", {"on_sale": "1"}, htmx=True).status_code == 403


def test_an_unknown_product_is_not_found(owner):
    assert owner.get("/admin/products/999999/edit").status_code == 404
