"""The merchant's risk desk over HTTP: rules refused in place, created, tried on past orders in a dry run, edited
and switched off; block-list entries checked, added and removed (and a listed buyer refused, in the decision log);
readers may read and only owners and operators may change anything."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server

SKU = "RISK-CARD"
RULE = {
    "name": "Bulk buyers",
    "reason": "resellers buy in bulk, buyers do not",
    "action": "review",
    "type": "order_cap",
    "measure": "units",
    "limit": "2",
}


@pytest.fixture(scope="module")
def product(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    made = app_server.kaquan("product", "create", SKU, "--name", "Risk card", "--face-value", "30", "--price", "20",
                             "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("卡号,密码\n" + "".join(f"RISK-CODE-{n:04d}-ABCD,PIN{n}\n" for n in range(20)))
    loaded = app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr
    return SKU


def owner(app_server: Server) -> Browser:
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    browser.login("owner", OWNER_PASSWORD)
    return browser


def checkout(app_server: Server, ip: str, contact: str, quantity: int) -> httpx.Response:
    buyer = Browser(app_server.url, **{"Accept-Language": "en", "X-Forwarded-For": ip})
    buyer.get(f"/p/{SKU}")
    return buyer.post(f"/p/{SKU}/orders", {"contact": contact, "quantity": str(quantity)}, htmx=True)


def order_number(placed: httpx.Response) -> str:
    assert placed.status_code == 200, placed.text
    return httpx.URL(placed.headers["hx-redirect"]).params["out_trade_no"]


def text(response: httpx.Response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def test_a_rule_is_refused_in_place_tried_created_edited_and_switched_off(app_server, product):
    small = order_number(checkout(app_server, "203.0.113.61", "one@example.com", 1))
    bulk = order_number(checkout(app_server, "203.0.113.62", "bulk@example.com", 3))
    browser = owner(app_server)
    page = browser.get("/admin/risk")
    assert page.status_code == 200 and 'href="/admin/risk"' in page.text and "No rules yet" in page.text
    form = browser.get("/admin/risk/rules/new").text
    assert 'name="window_minutes"' in form and 'name="last" value="500"' in form
    hours = browser.get("/admin/risk/rules/params?type=hours&amount_over=50").text
    assert 'name="start"' in hours and 'name="amount_over" value="50"' in hours and 'name="key"' not in hours

    refused = browser.post("/admin/risk/rules", RULE | {"name": "", "limit": "lots"}, htmx=True)
    assert refused.status_code == 422
    assert 'data-field="name"' in refused.text and 'data-field="limit"' in refused.text
    assert "Enter a whole number." in refused.text
    assert "No rules yet" in browser.get("/admin/risk").text, "nothing saved"

    tried = browser.post("/admin/risk/rules/dry-run", RULE | {"last": "50"}, htmx=True)
    assert tried.status_code == 200, tried.text
    assert re.search(r"Would have caught 1 of the last \d+ orders\.", text(tried))
    assert bulk in tried.text and small not in tried.text
    assert "This order: 3 units (limit 2 units)" in text(tried)
    assert browser.post("/admin/risk/rules/dry-run", RULE | {"last": "0"}, htmx=True).status_code == 422
    assert "No rules yet" in browser.get("/admin/risk").text, "a dry run saves nothing"

    made = browser.post("/admin/risk/rules", RULE | {"channels": ["shop", "api"]}, htmx=True)
    assert (made.status_code, made.headers.get("hx-redirect")) == (200, "/admin/risk"), made.text
    listed = browser.get("/admin/risk")
    assert "One order of more than 2 units" in text(listed) and "Orders · API, Shop" in text(listed)
    rule_id = re.search(r'href="/admin/risk/rules/(\d+)/edit"', listed.text).group(1)
    edit = browser.get(f"/admin/risk/rules/{rule_id}/edit").text
    assert 'name="limit" value="2"' in edit and 'value="shop" checked' in edit

    saved = browser.post(f"/admin/risk/rules/{rule_id}", RULE | {"limit": "5"}, htmx=True)
    assert saved.status_code == 200 and saved.headers.get("hx-redirect") == "/admin/risk"
    assert "One order of more than 5 units" in text(browser.get("/admin/risk"))
    off = browser.post(f"/admin/risk/rules/{rule_id}/enabled", {"enabled": "0"}, htmx=True)
    assert off.status_code == 200 and f'id="rule-{rule_id}"' in off.text and ">Off<" in off.text
    audit = browser.get("/admin/audit").text
    assert all(action in audit for action in ("risk.rule_create", "risk.rule_edit", "risk.rule_disable"))
    assert browser.post("/admin/risk/rules/999999", RULE, htmx=True).status_code == 404


def test_a_block_list_entry_is_checked_added_refuses_a_buyer_and_is_removed(app_server, product):
    browser = owner(app_server)
    bad = browser.post("/admin/risk/lists", {"list": "block", "kind": "ip", "value": "198.51.100.300"}, htmx=True)
    assert bad.status_code == 422 and 'data-field="value"' in bad.text
    assert "Enter an IP address or a network" in bad.text
    added = browser.post(
        "/admin/risk/lists", {"list": "block", "kind": "ip", "value": "198.51.100.7/24", "note": "abuse"}, htmx=True
    )
    assert added.status_code == 200 and 'id="list-block"' in added.text
    assert "198.51.100.0/24" in added.text and "owner" in added.text
    again = browser.post("/admin/risk/lists", {"list": "block", "kind": "ip", "value": "198.51.100.0/24"}, htmx=True)
    assert again.status_code == 422 and "This list already names it." in again.text

    assert checkout(app_server, "198.51.100.9", "listed@example.com", 1).status_code >= 400
    log = browser.get("/admin/risk/decisions?outcome=block")
    assert "On the block list (IP address or network)" in text(log) and "198.51.100.9" in log.text
    assert "l***@example.com" not in log.text and "listed@example.com" in log.text, "the owner sees contacts"
    assert "198.51.100.9" not in browser.get("/admin/risk/decisions?outcome=review").text

    entry_id = re.search(r'hx-post="/admin/risk/lists/(\d+)/remove"', added.text).group(1)
    removed = browser.post(f"/admin/risk/lists/{entry_id}/remove", htmx=True)
    assert removed.status_code == 200 and "198.51.100.0/24" not in removed.text
    assert "198.51.100.0/24" not in browser.get("/admin/risk/lists").text
    assert browser.post(f"/admin/risk/lists/{entry_id}/remove", htmx=True).status_code == 404
    audit = browser.get("/admin/audit").text
    assert "risk.list_add" in audit and "risk.list_remove" in audit


def test_support_reads_the_risk_desk_but_changes_nothing_and_clerks_see_none_of_it(app_server, product):
    app_server.add_staff("risk-support", "support", "support's password!")
    app_server.add_staff("risk-clerk", "clerk", "clerk's password!")
    support = Browser(app_server.url, **{"Accept-Language": "en"})
    support.login("risk-support", "support's password!")
    for path in ("/admin/risk", "/admin/risk/lists", "/admin/risk/decisions"):
        assert support.get(path).status_code == 200, path
    assert "New rule" not in support.get("/admin/risk").text
    assert support.get("/admin/risk/rules/new").status_code == 403
    for path, form in (
        ("/admin/risk/rules", RULE),
        ("/admin/risk/rules/dry-run", RULE),
        ("/admin/risk/lists", {"list": "block", "kind": "ip", "value": "192.0.2.1"}),
    ):
        assert support.post(path, form, htmx=True).status_code == 403, path
    assert "192.0.2.1" not in owner(app_server).get("/admin/risk/lists").text

    clerk = Browser(app_server.url, **{"Accept-Language": "en"})
    clerk.login("risk-clerk", "clerk's password!")
    assert clerk.get("/admin/risk").status_code == 403
    assert 'href="/admin/risk"' not in clerk.get("/admin").text
