"""A reseller buys for itself in its portal, over HTTP: at its cost, from its wallet, delivered within seconds;
a purchase its balance does not cover changes nothing; the merchant's order desk shows who bought it."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server
from tests.e2e.test_orders_http import wait_for

SKU = "E2E-WALLET"
PASSWORD = "reseller's own password"


@pytest.fixture(scope="module")
def reseller(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Browser:
    """A stocked product (retail 19.80) and a reseller with 50.00 in its wallet, signed in to its portal."""
    made = app_server.kaquan(
        "product", "create", SKU, "--name", "E2E 钱包卡", "--face-value", "30", "--price", "19.80", "--on-sale"
    )
    assert made.returncode == 0, made.stderr
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("".join(f"WALLET-CODE-{n:04d}-WXYZ,PIN{n}\n" for n in range(5)))
    assert app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e").returncode == 0
    created = app_server.kaquan(
        "--json", "reseller", "create", "Wallet Shop", "--contact", "wallet@example.com", "--login", "wallet-shop"
    )
    assert created.returncode == 0, created.stderr
    row = json.loads(created.stdout)
    assert app_server.kaquan("reseller", "topup", str(row["id"]), "50", "--note", "e2e").returncode == 0
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    browser.get(row["invite"])
    accepted = browser.post(row["invite"], {"password": PASSWORD, "password_again": PASSWORD}, htmx=True)
    assert accepted.status_code == 200, accepted.text
    assert browser.login("wallet-shop", PASSWORD, htmx=True).headers["hx-redirect"] == "/portal"
    browser.reseller_id = row["id"]
    return browser


def test_a_reseller_buys_at_its_cost_from_its_wallet_and_opens_the_codes(app_server, reseller):
    page = reseller.get(f"/portal/buy?sku={SKU}").text
    assert 'id="unit-cost">¥19.80' in page and "retail 19.80" in page
    bought = reseller.post(f"/portal/buy?sku={SKU}", {"quantity": "2"}, htmx=True)
    assert bought.status_code == 200, bought.text
    order_page = bought.headers["hx-redirect"]
    delivered = wait_for(reseller, order_page, "delivered")
    assert len(re.findall(r"/r/[A-Za-z0-9_-]{20,}", delivered)) == 2
    assert 'id="balance" class="price">¥10.40' in reseller.get("/portal").text
    # The statement files show the purchase as a debit, a number that adds up — not text.
    rows = list(csv.reader(io.StringIO(reseller.get("/portal/statement.csv").content.decode("utf-8-sig"))))
    assert [(r[1], r[4], r[5]) for r in rows[2:-1]] == [("top_up", "50.00", "50.00"), ("purchase", "-39.60", "10.40")]
    sheet = load_workbook(io.BytesIO(reseller.get("/portal/statement.xlsx").content)).active
    amounts = [row[4] for row in sheet.iter_rows(min_row=3, max_row=4, values_only=True)]
    assert amounts == [50, -39.6] and all(isinstance(a, int | float) for a in amounts)
    number = re.search(r"/o/(\d+)\?k=", order_page).group(1)
    owner = Browser(app_server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    listed = owner.get(f"/admin/orders?number={number}").text
    order_id = re.search(r'href="/admin/orders/(\d+)"', listed).group(1)
    detail = owner.get(f"/admin/orders/{order_id}").text
    assert "Reseller portal" in detail and f'href="/admin/resellers/{reseller.reseller_id}">Wallet Shop' in detail


def test_a_purchase_the_balance_does_not_cover_changes_nothing(app_server, reseller):
    before = reseller.get("/portal").text
    refused = reseller.post(f"/portal/buy?sku={SKU}", {"quantity": "3"}, htmx=True)  # 59.40 > 10.40
    assert refused.status_code == 409 and "balance" in refused.text.lower()
    assert reseller.post(f"/portal/buy?sku={SKU}", {"quantity": "0"}, htmx=True).status_code == 422
    assert reseller.get("/portal/buy?sku=NO-SUCH-SKU").status_code == 404
    after = reseller.get("/portal").text
    balance = re.compile(r'id="balance" class="price">[^<]+')
    assert balance.search(before).group(0) == balance.search(after).group(0)


def test_staff_cannot_buy_through_the_portal(app_server, reseller):
    owner = Browser(app_server.url)
    owner.login("owner", OWNER_PASSWORD)
    assert owner.get(f"/portal/buy?sku={SKU}").status_code == 403
