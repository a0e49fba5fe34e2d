"""Reseller prices and terms in the merchant admin over HTTP: tiers, a product's price rules with previews that
say how each price was reached, bad input refused in place, roles respected, and a reseller's first login."""

from __future__ import annotations

import json
import re
from html import unescape

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD

PREVIEW = re.compile(
    r'<tr class="preview preview-(\w+)">\s*<td>([^<]*)</td>\s*<td class="num">(\d+)</td>\s*'
    r'<td class="num unit">([^<]*)</td>\s*<td><span class="explain">([^<]*)</span></td>'
)
INVITE = re.compile(r'value="[^"]*(/invite/[\w-]+)"')


def owner(app_server) -> Browser:
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    browser.login("owner", OWNER_PASSWORD)
    return browser


def product(app_server, sku: str, price: str = "30") -> int:
    made = app_server.kaquan("--json", "product", "create", sku, "--name", sku, "--face-value", price,
                             "--price", price, "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)["id"]


def tier(browser: Browser, name: str) -> int:
    made = browser.post("/admin/tiers", {"name": name}, htmx=True)
    assert made.status_code == 200 and made.headers["hx-redirect"] == "/admin/resellers#tiers", made.text
    found = re.search(rf'<option value="(\d+)">{name}</option>', browser.get("/admin/resellers").text)
    assert found, f"tier {name} is not offered"
    return int(found.group(1))


def reseller(browser: Browser, name: str, **fields: str) -> int:
    contact = f"{name.replace(' ', '.')}@example.com"
    made = browser.post("/admin/resellers", {"name": name, "contact": contact, **fields}, htmx=True)
    assert made.status_code == 200, made.text
    return int(re.search(r"/admin/resellers/(\d+)", made.headers.get("hx-redirect") or made.text).group(1))


def previews(browser: Browser, product_id: int) -> list[tuple[str, ...]]:
    page = browser.get(f"/admin/products/{product_id}/prices")
    assert page.status_code == 200
    return [tuple(unescape(cell) for cell in row) for row in PREVIEW.findall(page.text)]


def test_the_owner_sets_tier_discounts_breaks_a_floor_and_a_reseller_price_and_sees_how_each_price_comes(app_server):
    browser = owner(app_server)
    gold = tier(browser, "gold")
    product_id = product(app_server, "PRICED-CARD")
    shop_g = reseller(browser, "Shop G", tier_id=str(gold))
    shop_p = reseller(browser, "Shop P")
    prices = f"/admin/products/{product_id}/prices"
    assert previews(browser, product_id) == [("retail", "Retail", "1", "¥30.00", "retail 30.00"),
                                             ("tier", "Tier gold", "1", "¥30.00", "retail 30.00")]  # fmt: skip

    for path, form in (
        (f"{prices}/tiers/{gold}", {"price": "", "discount": "10"}),
        (f"{prices}/breaks", {"min_quantity": ["10", "50", "", ""], "discount": ["2", "15", "", ""]}),
        (f"{prices}/floor", {"floor": "26"}),
        (f"{prices}/resellers", {"reseller_id": str(shop_p), "price": "28.00"}),
    ):
        saved = browser.post(path, form, htmx=True)
        assert (saved.status_code, saved.headers.get("hx-redirect")) == (200, prices), saved.text

    assert previews(browser, product_id) == [
        ("retail", "Retail", "1", "¥30.00", "retail 30.00"),
        ("tier", "Tier gold", "1", "¥27.00", "retail 30.00 → tier gold −10 % 27.00"),
        ("tier", "Tier gold", "10", "¥26.46", "retail 30.00 → tier gold −10 % 27.00 → break 10+ −2 % 26.46"),
        ("tier", "Tier gold", "50", "¥26.00",
         "retail 30.00 → tier gold −10 % 27.00 → break 50+ −15 % 22.95 → floor 26.00"),
        ("reseller", "Reseller Shop P", "1", "¥28.00", f"retail 30.00 → own price #{shop_p} 28.00"),
        ("reseller", "Reseller Shop P", "10", "¥27.44",
         f"retail 30.00 → own price #{shop_p} 28.00 → break 10+ −2 % 27.44"),
        ("reseller", "Reseller Shop P", "50", "¥26.00",
         f"retail 30.00 → own price #{shop_p} 28.00 → break 50+ −15 % 23.80 → floor 26.00"),
    ]  # fmt: skip
    page = browser.get(prices).text
    assert 'name="floor" value="26.00"' in page and 'name="discount" value="10"' in page
    assert 'name="min_quantity" value="50"' in page and page.count('name="min_quantity"') == 2 + 3  # room for more

    # Only gold may sell it now: Shop G's catalog shows its cost and how; Shop P's does not list the product.
    assert browser.post(f"{prices}/audience", {"tier_ids": str(gold)}, htmx=True).status_code == 200
    shop_g_page = browser.get(f"/admin/resellers/{shop_g}").text
    assert '<dd id="tier">gold</dd>' in shop_g_page
    row = re.search(r"<code>PRICED-CARD</code>.*?</tr>", shop_g_page, re.S).group(0)
    assert "¥27.00" in row and "retail 30.00 → tier gold −10 % 27.00" in row
    assert "PRICED-CARD" not in browser.get(f"/admin/resellers/{shop_p}").text
    everyone_named = {"tier_ids": str(gold), "reseller_ids": str(shop_p)}
    assert browser.post(f"{prices}/audience", everyone_named, htmx=True).is_success
    assert "PRICED-CARD" in browser.get(f"/admin/resellers/{shop_p}").text

    # Emptying a rule takes it away: Shop P is back on retail, breaks and floor still apply.
    assert browser.post(f"{prices}/resellers", {"reseller_id": str(shop_p), "price": ""}, htmx=True).is_success
    assert not [p for p in previews(browser, product_id) if p[0] == "reseller"]
    audit = browser.get("/admin/audit").text
    assert all(action in audit for action in ("price.tier", "price.breaks", "price.floor", "price.audience"))


def test_bad_prices_are_refused_in_place_and_change_nothing(app_server):
    browser = owner(app_server)
    silver = tier(browser, "silver")
    product_id = product(app_server, "GUARDED-CARD")
    parent = reseller(browser, "Guard Top")
    child = reseller(browser, "Guard Sub", parent_id=str(parent))
    prices = f"/admin/products/{product_id}/prices"
    assert browser.post(f"{prices}/tiers/{silver}", {"discount": "5"}, htmx=True).status_code == 200
    before = previews(browser, product_id)

    for path, form, field, message in (
        (f"{prices}/tiers/{silver}", {"discount": "150"}, "discount", "Enter a percentage such as 12.5."),
        (f"{prices}/tiers/{silver}", {"price": "20", "discount": "5"}, "price",
         "Enter a price or a discount, not both."),
        (f"{prices}/tiers/{silver}", {"price": "abc"}, "price", "An amount like 19.80"),
        (f"{prices}/breaks", {"min_quantity": ["10", "10"], "discount": ["2", "3"]}, "min_quantity",
         "Each quantity can have one break only."),
        (f"{prices}/breaks", {"min_quantity": ["1"], "discount": ["2"]}, "min_quantity", "Enter a whole number."),
        (f"{prices}/breaks", {"min_quantity": [str(q) for q in range(2, 13)], "discount": ["1"] * 11},
         "min_quantity", "At most 10 quantity breaks."),
        (f"{prices}/floor", {"floor": "30.01"}, "floor", "The floor cannot be above the retail price."),
        (f"{prices}/resellers", {"reseller_id": str(child), "price": "25"}, "reseller_id",
         "Choose one of the options."),
        (f"{prices}/resellers", {"reseller_id": "", "price": "25"}, "reseller_id", "Required."),
        (f"{prices}/audience", {"tier_ids": "999999"}, "tier_ids", "Choose one of the options."),
        (f"{prices}/audience", {"reseller_ids": [str(parent), "x"]}, "reseller_ids", "Choose one of the options."),
        ("/admin/tiers", {"name": "silver"}, "name", "This name is already in use."),
        ("/admin/tiers", {"name": " "}, "name", "Required."),
        ("/admin/tiers", {"name": "x" * 33}, "name", "Too long."),
    ):  # fmt: skip
        refused = browser.post(path, form, htmx=True)
        assert refused.status_code == 422, (path, form, refused.text)
        assert f'data-field="{field}"' in refused.text and message in refused.text, (path, form, refused.text)

    assert previews(browser, product_id) == before
    assert browser.get("/admin/products/999999/prices").status_code == 404
    assert browser.post("/admin/products/999999/prices/floor", {"floor": "1"}, htmx=True).status_code == 404
    assert browser.post(f"{prices}/tiers/999999", {"discount": "5"}, htmx=True).status_code == 404


def test_support_reads_prices_but_cannot_change_them_and_clerks_see_none(app_server):
    browser = owner(app_server)
    product_id = product(app_server, "ROLES-CARD")
    reseller_id = reseller(browser, "Roles Shop")
    app_server.add_staff("p-support", "support", "support's password!")
    app_server.add_staff("p-clerk", "clerk", "clerk's password!")
    support = Browser(app_server.url)
    support.login("p-support", "support's password!")
    page = support.get(f"/admin/products/{product_id}/prices")
    assert page.status_code == 200 and "<fieldset" in page.text and "disabled" in page.text
    prices = f"/admin/products/{product_id}/prices"
    for path, form in (
        (f"{prices}/floor", {"floor": "1"}),
        (f"{prices}/breaks", {"min_quantity": "10", "discount": "5"}),
        (f"{prices}/audience", {}),
        (f"{prices}/resellers", {"reseller_id": str(reseller_id), "price": "1"}),
        ("/admin/tiers", {"name": "support-tier"}),
        (f"/admin/resellers/{reseller_id}/terms", {"status": "disabled"}),
        (f"/admin/resellers/{reseller_id}/logins", {"username": "sneaky"}),
    ):
        assert support.post(path, form, htmx=True).status_code == 403, path
    assert "support-tier" not in browser.get("/admin/resellers").text
    clerk = Browser(app_server.url)
    clerk.login("p-clerk", "clerk's password!")
    assert clerk.get(f"/admin/products/{product_id}/prices").status_code == 403
    assert f'href="/admin/products/{product_id}/prices"' not in clerk.get("/admin/products").text
    assert f'href="/admin/products/{product_id}/prices"' in browser.get("/admin/products").text


def test_terms_and_invited_logins_bring_a_reseller_to_its_portal(app_server):
    browser = owner(app_server)
    bronze = tier(browser, "bronze")
    made = browser.post(
        "/admin/resellers",
        {"name": "Portal Shop", "contact": "portal@example.com", "username": " Portal-Shop "},
        htmx=True,
    )
    assert made.status_code == 200 and "hx-redirect" not in made.headers
    assert "Send this link to portal-shop;" in made.text
    invite = INVITE.search(made.text).group(1)
    reseller_id = int(re.search(r'href="/admin/resellers/(\d+)"', made.text).group(1))
    taken = browser.post("/admin/resellers", {"name": "Other", "contact": "o@example.com", "username": "portal-shop"},
                         htmx=True)  # fmt: skip
    assert taken.status_code == 422 and 'data-field="username"' in taken.text
    assert "Other" not in browser.get("/admin/resellers").text

    newcomer = Browser(app_server.url)
    assert "portal-shop" in newcomer.get(invite).text
    password = "portal shop's password"
    accepted = newcomer.post(invite, {"password": password, "password_again": password}, htmx=True)
    assert accepted.headers.get("hx-redirect") == "/login"
    signed_in = newcomer.login("portal-shop", password, htmx=True)
    assert signed_in.headers["hx-redirect"] == "/portal"
    assert newcomer.get("/portal").status_code == 200

    page = f"/admin/resellers/{reseller_id}"
    terms = {"status": "disabled", "credit_limit": "100", "tier_id": str(bronze), "markup": "0"}
    for bad, field in (({"credit_limit": "lots"}, "credit_limit"), ({"tier_id": "999999"}, "tier_id"),
                       ({"status": "sleeping"}, "status")):  # fmt: skip
        refused = browser.post(f"{page}/terms", {**terms, **bad}, htmx=True)
        assert refused.status_code == 422 and f'data-field="{field}"' in refused.text
    assert '<dd id="tier">No tier (retail price)</dd>' in browser.get(page).text
    saved = browser.post(f"{page}/terms", terms, htmx=True)
    assert (saved.status_code, saved.headers["hx-redirect"]) == (200, page)
    shown = browser.get(page).text
    assert '<dd id="tier">bronze</dd>' in shown and '<dd id="status">Disabled</dd>' in shown and "¥100.00" in shown

    assert newcomer.get("/portal").status_code != 200, "disabling the reseller disabled its login, session and all"
    refused = browser.post(f"{page}/logins", {"username": "portal-shop-2"}, htmx=True)
    assert refused.status_code == 403, "no new way in for a switched-off reseller"
    assert browser.post(f"{page}/terms", {**terms, "status": "active"}, htmx=True).status_code == 200

    second = browser.post(f"{page}/logins", {"username": "portal-shop-2"}, htmx=True)
    assert second.status_code == 200 and INVITE.search(second.text), second.text
    assert browser.post(f"{page}/logins", {"username": "portal-shop-2"}, htmx=True).status_code == 422
    logins = browser.get(page).text
    assert "<code>portal-shop</code>" in logins and "<code>portal-shop-2</code>" in logins
    assert "/invite/" not in logins  # a link is shown once, when it is made

    # An invited login whose link got lost gets a new one; the old one stops working.
    login_id = re.search(r"/logins/(\d+)/invite", logins).group(1)  # only the invited login offers it
    renewed = browser.post(f"{page}/logins/{login_id}/invite", htmx=True)
    assert renewed.status_code == 200, renewed.text
    assert Browser(app_server.url).get(INVITE.search(second.text).group(1)).status_code == 404
    assert "portal-shop-2" in Browser(app_server.url).get(INVITE.search(renewed.text).group(1)).text
    elsewhere = reseller(browser, "Elsewhere")
    assert browser.post(f"/admin/resellers/{elsewhere}/logins/{login_id}/invite", htmx=True).status_code == 404
