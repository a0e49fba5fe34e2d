"""A reseller's one-click shop over HTTP against the running app: the reseller sets it up in its portal (errors
in place, logo checked by its bytes), a buyer buys there at the shop's price and pays in the sandbox gateway,
delivery pays the reseller its margin to the fen, lookups stay inside the shop, and stock is live."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import httpx
import pytest
import segno

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server
from tests.e2e.test_orders_http import pay_in_sandbox, wait_for

SKU = "RS-CARD"
CODES = 4
RETAIL = "19.80"
COST = "16.50"  # the merchant's price for this reseller
PRICE = "25.00"  # the reseller's own price in its shop
SLUG = "corner"
PASSWORD = "reseller's e2e password"


@dataclass
class Seller:
    id: int
    portal: Browser


def english(server: Server, ip: str = "203.0.113.40") -> Browser:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1: each buyer comes from its own address.
    return Browser(server.url, **{"Accept-Language": "en", "X-Forwarded-For": ip})


def reseller_with_login(server: Server, name: str, username: str) -> Seller:
    """As the merchant does it: the reseller and its login, then the reseller sets its password by the link."""
    made = server.kaquan(
        "--json", "reseller", "create", name, "--contact", f"{username}@example.com", "--login", username
    )
    assert made.returncode == 0, made.stderr
    row = json.loads(made.stdout)
    portal = english(server)
    portal.get(row["invite"])
    accepted = portal.post(row["invite"], {"password": PASSWORD, "password_again": PASSWORD}, htmx=True)
    assert accepted.status_code == 200, accepted.text
    portal.login(username, PASSWORD)
    return Seller(row["id"], portal)


def upload_logo(portal: Browser, data: bytes, name: str = "logo.png", media_type: str = "image/png") -> httpx.Response:
    headers = {"HX-Request": "true", "x-csrftoken": portal.csrf}
    return portal.request("POST", "/portal/shop/logo", files={"logo": (name, data, media_type)}, headers=headers)


def png() -> bytes:
    image = io.BytesIO()
    segno.make(SLUG).save(image, kind="png", scale=2)
    return image.getvalue()


def buy(browser: Browser, quantity: int = 1, contact: str = "buyer@example.com") -> httpx.Response:
    browser.get(f"/s/{SLUG}/p/{SKU}")
    return browser.post(f"/s/{SLUG}/p/{SKU}/orders", {"contact": contact, "quantity": str(quantity)}, htmx=True)


@pytest.fixture(scope="module")
def product(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> int:
    made = app_server.kaquan(
        "--json", "product", "create", SKU, "--name", "Corner 会员月卡", "--face-value", "30", "--price", RETAIL,
        "--instructions", "Open the app, tap Redeem.", "--on-sale",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("".join(f"RS-CODE-{n:04d}-WXYZ\n" for n in range(CODES)))
    loaded = app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr
    return json.loads(made.stdout)["id"]


@pytest.fixture(scope="module")
def owner(app_server: Server) -> Browser:
    browser = english(app_server)
    browser.login("owner", OWNER_PASSWORD)
    return browser


@pytest.fixture(scope="module")
def seller(app_server: Server, product: int, owner: Browser) -> Seller:
    seller = reseller_with_login(app_server, "Corner Cards", "corner")
    owner.get(f"/admin/products/{product}/prices")
    priced = owner.post(
        f"/admin/products/{product}/prices/resellers", {"reseller_id": str(seller.id), "price": COST}, htmx=True
    )
    assert priced.status_code == 200, priced.text
    return seller


@pytest.fixture(scope="module")
def shop(seller: Seller, product: int) -> str:
    """The reseller opens its shop and picks the product at its own price, through the portal's forms."""
    portal = seller.portal
    page = portal.get("/portal/shop")
    assert page.status_code == 200 and f"¥{COST}" in page.text, "the reseller sees its cost"
    settings = {"enabled": "on", "slug": SLUG, "notice": "Open all night", "theme": "#1D4ED8", "markup": "20"}
    saved = portal.post("/portal/shop", settings, htmx=True)
    assert saved.status_code == 200 and saved.headers["hx-redirect"] == "/portal/shop", saved.text
    chosen = portal.post("/portal/shop/products", {"chosen": str(product), f"price_{product}": PRICE}, htmx=True)
    assert chosen.status_code == 200, chosen.text
    page = portal.get("/portal/shop").text
    assert f'id="live-shop" href="/s/{SLUG}"' in page and f'value="{PRICE}"' in page
    return SLUG


def test_the_shop_settings_are_for_reseller_logins_only(app_server, owner):
    assert english(app_server).get("/portal/shop").status_code == 303, "to the login page"
    assert owner.get("/portal/shop").status_code == 403


def test_bad_settings_are_refused_field_by_field_and_change_nothing(app_server, seller, shop):
    portal = seller.portal
    reserved = portal.post(
        "/portal/shop", {"enabled": "on", "slug": "admin", "theme": "#000000", "markup": "5"}, htmx=True
    )
    assert reserved.status_code == 422 and 'data-field="slug"' in reserved.text and "reserved" in reserved.text
    wrong = {"enabled": "on", "slug": "ab", "notice": "x" * 501, "theme": "red", "markup": "lots"}
    refused = portal.post("/portal/shop", wrong, htmx=True)
    assert refused.status_code == 422
    for field in ("slug", "notice", "theme", "markup"):
        assert f'data-field="{field}"' in refused.text, field
    other = reseller_with_login(app_server, "Other Shop", "other-shop")
    taken = other.portal.post(
        "/portal/shop", {"enabled": "on", "slug": SLUG, "theme": "#000000", "markup": "5"}, htmx=True
    )
    assert taken.status_code == 422 and "Another shop already uses this address." in taken.text
    page = portal.get("/portal/shop").text
    assert f'name="slug" value="{SLUG}"' in page and 'value="#1d4ed8"' in page, "nothing changed"


def test_a_logo_must_be_a_small_image_and_is_served_as_the_image_it_is(app_server, seller, shop):
    portal = seller.portal
    text = upload_logo(portal, b"just some text, not an image", "logo.png")
    assert text.status_code == 422 and 'data-field="logo"' in text.text and "PNG, JPEG or GIF" in text.text
    big = upload_logo(portal, b"\x89PNG\r\n\x1a\n" + b"\0" * 300 * 1024)
    assert big.status_code == 422 and "The file is too large." in big.text
    huge = upload_logo(portal, b"\x89PNG\r\n\x1a\n" + b"\0" * 1024 * 1024)
    assert huge.status_code == 413, "refused before it is read"
    buyer = english(app_server)
    assert buyer.get(f"/s/{SLUG}/logo").status_code == 404, "none of them was kept"

    image = png()
    assert upload_logo(portal, image).status_code == 200
    served = buyer.get(f"/s/{SLUG}/logo")
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff" and "max-age" in served.headers["cache-control"]
    assert f'src="/s/{SLUG}/logo"' in buyer.get(f"/s/{SLUG}").text
    preview = portal.get("/portal/shop/logo")
    assert preview.content == image and preview.headers["cache-control"] == "private, no-store"

    assert portal.post("/portal/shop/logo/remove", htmx=True).status_code == 200
    assert buyer.get(f"/s/{SLUG}/logo").status_code == 404
    assert f'src="/s/{SLUG}/logo"' not in buyer.get(f"/s/{SLUG}").text


def test_a_price_below_cost_is_named_by_its_product_and_changes_nothing(app_server, seller, product, shop):
    portal = seller.portal
    below = portal.post("/portal/shop/products", {"chosen": str(product), f"price_{product}": "15.00"}, htmx=True)
    assert below.status_code == 422
    assert f'data-field="price_{product}"' in below.text and "Corner 会员月卡" in below.text
    assert "cannot be below your own cost" in below.text
    garbled = portal.post("/portal/shop/products", {"chosen": str(product), f"price_{product}": "cheap"}, htmx=True)
    assert garbled.status_code == 422 and f'data-field="price_{product}"' in garbled.text
    forged = portal.post("/portal/shop/products", {"chosen": "99999"}, htmx=True)
    assert forged.status_code == 422 and 'data-field="products"' in forged.text
    assert f"¥{PRICE}" in english(app_server).get(f"/s/{SLUG}").text


def test_a_buyer_buys_at_the_shop_price_and_the_reseller_earns_its_margin(app_server, seller, owner, shop):
    buyer = english(app_server, "203.0.113.41")
    front = buyer.get(f"/s/{SLUG}")
    assert front.status_code == 200
    assert "Corner Cards" in front.text and "Open all night" in front.text and f"¥{PRICE}" in front.text
    assert f'href="/s/{SLUG}/p/{SKU}"' in front.text and f'href="/s/{SLUG}/theme.css?v=1d4ed8"' in front.text
    theme = buyer.get(f"/s/{SLUG}/theme.css")
    assert theme.headers["content-type"].startswith("text/css") and "--accent: #1d4ed8" in theme.text

    placed = buy(buyer, quantity=2)
    assert placed.status_code == 200, placed.text
    assert "money=50.00" in placed.headers["hx-redirect"]
    order_page = pay_in_sandbox(buyer, placed.headers["hx-redirect"])
    number = re.search(r"/o/(\d+)\?k=", order_page).group(1)
    delivered = wait_for(buyer, order_page, "delivered")
    assert len(re.findall(r"/r/[\w-]+", delivered)) == 2
    page = buyer.get(order_page).text
    assert "Corner Cards" in page and f'id="back-to-shop" href="/s/{SLUG}"' in page
    assert 'href="/shop"' not in page.split("</header>", 1)[1], "the way back leads to the reseller's shop"

    margin = "¥17.00"  # (25.00 − 16.50) × 2
    assert f'id="earnings">{margin}<' in seller.portal.get("/portal").text
    statement = owner.get(f"/admin/resellers/{seller.id}?account=earnings").text
    assert number in statement and "Sale" in statement and f"<strong>{margin}</strong>" in statement


def test_the_shops_lookup_finds_its_own_orders_only(app_server, shop):
    buyer = english(app_server, "203.0.113.42")
    mine = buy(buyer, contact="mine@example.com")
    number = re.search(r"out_trade_no=(\d+)", mine.headers["hx-redirect"]).group(1)
    buyer.get(f"/p/{SKU}")
    direct = buyer.post(f"/p/{SKU}/orders", {"contact": "direct@example.com", "quantity": "1"}, htmx=True)
    direct_number = re.search(r"out_trade_no=(\d+)", direct.headers["hx-redirect"]).group(1)

    page = buyer.get(f"/s/{SLUG}/lookup")
    assert page.status_code == 200 and "Corner Cards" in page.text
    found = buyer.post(f"/s/{SLUG}/lookup", {"number": number, "contact": "mine@example.com"}, htmx=True)
    assert found.headers["hx-redirect"].startswith(f"/o/{number}?k=")
    elsewhere = buyer.post(f"/s/{SLUG}/lookup", {"number": direct_number, "contact": "direct@example.com"}, htmx=True)
    unknown = buyer.post(f"/s/{SLUG}/lookup", {"number": "2611010000000000", "contact": "mine@example.com"}, htmx=True)
    assert elsewhere.status_code == unknown.status_code == 404
    assert elsewhere.text == unknown.text, "an order of another shop looks like no order at all"
    found_direct = buyer.post("/lookup", {"number": direct_number, "contact": "direct@example.com"}, htmx=True)
    assert found_direct.headers["hx-redirect"].startswith(f"/o/{direct_number}?k="), "the merchant's lookup finds it"


def test_the_shop_sells_out_the_moment_the_pool_is_empty(app_server, shop):
    for n in range(CODES):  # whatever earlier tests left: each buyer holds one unpaid code
        placed = buy(english(app_server, f"203.0.113.{50 + n}"), contact=f"drain{n}@example.com")
        if placed.status_code == 409:
            break
        assert placed.status_code == 200, placed.text
    buyer = english(app_server, "203.0.113.60")
    front = buyer.get(f"/s/{SLUG}").text
    assert "Sold out" in front and f'href="/s/{SLUG}/p/{SKU}"' not in front, "shown, not buyable"
    polled = buyer.get(f"/s/{SLUG}/stock").text
    assert polled.startswith('<div id="shop-items"') and "Sold out" in polled and 'hx-trigger="every 10s"' in polled
    product_page = buyer.get(f"/s/{SLUG}/p/{SKU}").text
    assert "Sold out" in product_page and 'id="checkout"' not in product_page
    line = buyer.get(f"/s/{SLUG}/p/{SKU}/stock").text
    assert 'id="buy" hx-swap-oob="true"' in line, "a page that still offers the form loses it"
    assert "hx-swap-oob" not in buyer.get(f"/s/{SLUG}/p/{SKU}/stock?sold_out=true").text
    refused = buy(buyer, contact="late@example.com")
    assert refused.status_code == 409 and "Out of stock." in refused.text


def test_a_switched_off_shop_is_not_found_whatever_is_asked_of_it(app_server, seller, shop):
    closed = {"slug": SLUG, "theme": "#1d4ed8", "markup": "20"}  # the box unticked
    assert seller.portal.post("/portal/shop", closed, htmx=True).status_code == 200
    buyer = english(app_server, "203.0.113.61")
    for path in ("", "/stock", "/logo", "/theme.css", f"/p/{SKU}", f"/p/{SKU}/stock", "/lookup"):
        assert buyer.get(f"/s/{SLUG}{path}").status_code == 404, path
    assert "There is no open shop at this address." in buyer.get(f"/s/{SLUG}").text
    assert buy(buyer).status_code == 404
    assert buyer.get("/s/no-such-shop").status_code == 404
    assert 'id="live-shop"' not in seller.portal.get("/portal/shop").text
