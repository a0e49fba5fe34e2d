"""The reseller portal over HTTP: a reseller's login set up by the merchant, its statement equal to the ledger
(page, CSV, XLSX), its catalog, sub-resellers with logins and prices, and the two sides kept apart."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import httpx
import openpyxl
import pytest

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server

SKU = "PORTAL-MONTH"
PASSWORD = "a reseller's password"


def signed_in_owner(server: Server) -> Browser:
    owner = Browser(server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    return owner


def accept_invite(server: Server, invite_url: str, username: str) -> Browser:
    """As the invited person does: open the link, choose a password, sign in; returns their browser."""
    browser = Browser(server.url, **{"Accept-Language": "en"})
    path = httpx.URL(invite_url).raw_path.decode()
    assert browser.get(path).status_code == 200
    accepted = browser.post(path, {"password": PASSWORD, "password_again": PASSWORD})
    assert accepted.status_code == 303, accepted.text
    signed_in = browser.login(username, PASSWORD)
    assert signed_in.headers["location"] == "/portal", "a reseller's login lands in its portal"
    return browser


def invite_link(page: str) -> str:
    return re.search(r'value="(https?://[^"]+/invite/[^"]+)"', page).group(1)


def new_reseller(server: Server, owner: Browser, name: str, username: str) -> tuple[int, Browser]:
    """A reseller of the merchant with a login, as the owner creates it in the admin; signed in."""
    made = owner.post(
        "/admin/resellers", {"name": name, "contact": f"{username}@example.com", "username": username}, htmx=True
    )
    assert made.status_code == 200, made.text
    reseller_id = int(re.search(r'href="/admin/resellers/(\d+)"', made.text).group(1))
    return reseller_id, accept_invite(server, invite_link(made.text), username)


def invite_sub(server: Server, parent: Browser, name: str, username: str, markup: str = "10") -> tuple[int, Browser]:
    """A sub-reseller with a login, as its parent invites it in the portal; signed in."""
    form = {"name": name, "contact": f"{username}@example.com", "markup": markup, "username": username}
    made = parent.post("/portal/resellers", form, htmx=True)
    assert made.status_code == 200, made.text
    assert name in made.text and 'hx-swap-oob="true"' in made.text, "the list comes up to date with the invite"
    child_id = int(re.search(r'href="/portal/resellers/(\d+)"', made.text).group(1))
    return child_id, accept_invite(server, invite_link(made.text), username)


def on_sale_product(server: Server, sku: str, price: str) -> int:
    made = server.kaquan("--json", "product", "create", sku, "--name", f"{sku} 会员", "--face-value", "30",
                         "--price", price, "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return int(json.loads(made.stdout)["id"])


def shown_days(page: str) -> tuple[date, date]:
    """The statement's days as the page's form shows them (today is the shop's today, not this machine's)."""
    start = re.search(r'name="start" value="([\d-]+)"', page).group(1)
    end = re.search(r'name="end" value="([\d-]+)"', page).group(1)
    return date.fromisoformat(start), date.fromisoformat(end)


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def owner(app_server: Server) -> Browser:
    return signed_in_owner(app_server)


@pytest.fixture(scope="module")
def product_id(app_server: Server) -> int:
    return on_sale_product(app_server, SKU, "19.80")


@pytest.fixture(scope="module")
def reseller(app_server: Server, owner: Browser) -> tuple[int, Browser]:
    return new_reseller(app_server, owner, "Portal Shop", "portal-shop")


def test_a_top_up_shows_in_the_portal_statement_and_its_files_equal_the_ledger(app_server, owner, reseller):
    reseller_id, browser = reseller
    for amount, note in (("100", "bank 2611-1"), ("20.5", "bank 2611-2")):
        topped = owner.post(f"/admin/resellers/{reseller_id}/top-ups", {"amount": amount, "note": note}, htmx=True)
        assert topped.status_code == 200
    page = browser.get("/portal").text
    assert 'id="balance" class="price">¥120.50' in page and "bank 2611-2" in page
    first, today = shown_days(page)
    query = f"account=wallet&start={first}&end={today}"

    exported = csv_rows(browser.get(f"/portal/statement.csv?{query}"))
    assert exported[0] == ["at", "kind", "reference", "memo", "amount", "balance"]
    assert exported[1][1:] == ["opening", "", "", "", "0.00"] and exported[-1][1:] == ["closing", "", "", "", "120.50"]
    assert [(r[1], r[3], r[4], r[5]) for r in exported[2:-1]] == [
        ("top_up", "bank 2611-1", "100.00", "100.00"),
        ("top_up", "bank 2611-2", "20.50", "120.50"),
    ]
    ledger = csv_rows(owner.get(f"/admin/resellers/{reseller_id}/statement.csv?{query}"))
    assert exported == ledger, "the portal reads the reseller's own account, exactly as the ledger holds it"

    workbook = browser.get(f"/portal/statement.xlsx?{query}")
    assert workbook.status_code == 200 and "attachment" in workbook.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == exported[0] and len(rows) == len(exported)
    for cells, text in zip(rows[1:], exported[1:], strict=True):
        assert [str(cell or "") for cell in cells[:4]] == text[:4]
        amounts = [Decimal(str(cell)) if cell is not None else None for cell in cells[4:]]
        assert amounts == [Decimal(t) if t else None for t in text[4:]], "numbers in the workbook, equal to the fen"

    later = today + timedelta(days=1)
    ahead = csv_rows(browser.get(f"/portal/statement.csv?account=wallet&start={later}&end={later}"))
    assert [r[1:] for r in ahead[1:]] == [["opening", "", "", "", "120.50"], ["closing", "", "", "", "120.50"]]
    earnings = csv_rows(browser.get(f"/portal/statement.csv?account=earnings&start={first}&end={today}"))
    assert [r[1] for r in earnings[1:]] == ["opening", "closing"] and earnings[-1][5] == "0.00"
    assert browser.get("/portal?account=savings").status_code == 422
    assert browser.get(f"/portal/statement.csv?start={today}&end={first - timedelta(days=1)}").status_code == 422
    assert browser.get("/portal/statement.pdf").status_code == 404


def test_the_catalog_shows_the_resellers_cost_and_how_it_was_reached(app_server, reseller, product_id):
    _, browser = reseller
    page = browser.get("/portal/catalog")
    assert page.status_code == 200
    row = re.search(rf'<tr data-sku="{SKU}">(.*?)</tr>', page.text, re.S).group(1)
    assert "¥19.80" in row and re.search(r'class="explain">[^<]*19\.80</span>', row), "the cost, and how it came about"


def test_a_reseller_invites_a_sub_reseller_and_prices_it_at_or_above_its_own_cost(app_server, reseller, product_id):
    _, browser = reseller
    missing = browser.post("/portal/resellers", {"name": "Sub", "contact": "sub@example.com"}, htmx=True)
    assert missing.status_code == 422 and 'data-field="username"' in missing.text
    bad = browser.post("/portal/resellers", {"name": "", "contact": "nobody", "username": "sub-x"}, htmx=True)
    assert bad.status_code == 422 and 'data-field="contact"' in bad.text and 'data-field="name"' in bad.text
    child_id, child = invite_sub(app_server, browser, "Sub One", "sub-one", markup="10")

    listed = browser.get("/portal/resellers").text
    assert f'href="/portal/resellers/{child_id}"' in listed and "¥0.00" in listed
    page = browser.get(f"/portal/resellers/{child_id}").text
    row = re.search(rf'<tr id="price-{product_id}".*?</tr>', page, re.S).group(0)
    assert "¥19.80" in row and "¥21.78" in row, "without a price of its own: the parent's cost plus 10 %"

    prices = f"/portal/resellers/{child_id}/prices/{product_id}"
    below = browser.post(prices, {"price": "19.79"}, htmx=True)
    assert below.status_code == 422 and 'data-field="price"' in below.text and "below your own cost" in below.text
    assert browser.post(prices, {"price": "abc"}, htmx=True).status_code == 422
    saved = browser.post(prices, {"price": "20.50"}, htmx=True)
    assert saved.status_code == 200 and f'id="price-{product_id}"' in saved.text and 'value="20.50"' in saved.text
    child_catalog = child.get("/portal/catalog").text
    assert re.search(rf'<tr data-sku="{SKU}">.*?¥20\.50', child_catalog, re.S), "the sub-reseller pays the set price"
    cleared = browser.post(prices, {"price": ""}, htmx=True)
    assert cleared.status_code == 200 and "¥21.78" in cleared.text

    terms = browser.post(f"/portal/resellers/{child_id}/terms", {"status": "active", "markup": "5"}, htmx=True)
    assert terms.status_code == 200 and terms.headers["hx-redirect"] == f"/portal/resellers/{child_id}"
    assert "¥20.79" in browser.get(f"/portal/resellers/{child_id}").text, "19.80 plus 5 %"
    bad_terms = browser.post(f"/portal/resellers/{child_id}/terms", {"status": "boss", "markup": "-1"}, htmx=True)
    assert bad_terms.status_code == 422 and 'data-field="status"' in bad_terms.text


def test_sub_resellers_nest_only_as_deep_as_the_merchant_allows(app_server, owner):
    _, top = new_reseller(app_server, owner, "Deep Top", "deep-top")
    _, second = invite_sub(app_server, top, "Deep Two", "deep-two")
    _, third = invite_sub(app_server, second, "Deep Three", "deep-three")
    too_deep = third.post(
        "/portal/resellers",
        {"name": "Deep Four", "contact": "deep-four@example.com", "markup": "0", "username": "deep-four"},
        htmx=True,
    )
    assert too_deep.status_code == 422 and "nested that deep" in too_deep.text
    assert "Deep Four" not in owner.get("/admin/resellers").text, "nothing was written"


def test_the_portal_and_the_admin_are_kept_apart(app_server, reseller):
    _, browser = reseller
    assert browser.get("/admin").status_code == 403
    assert browser.get("/admin/resellers").status_code == 403
    app_server.add_staff("portal-ops", "operator", "operator's password")
    operator = Browser(app_server.url)
    operator.login("portal-ops", "operator's password")
    for path in ("/portal", "/portal/orders", "/portal/catalog", "/portal/resellers", "/portal/statement.csv"):
        assert operator.get(path).status_code == 403, path
    owner = signed_in_owner(app_server)
    assert owner.get("/portal").status_code == 403


def test_the_orders_page_filters_and_refuses_a_bad_date(reseller):
    _, browser = reseller
    page = browser.get("/portal/orders?status=delivered&number=1&contact=x")
    assert page.status_code == 200 and "No orders match" in page.text
    refused = browser.get("/portal/orders?placed_from=yesterday")
    assert refused.status_code == 422
    assert browser.get("/portal/orders/999999999").status_code == 404
