"""Resellers see only their own business. Two resellers, A and B, each with a login, a sub-reseller with a login,
real orders sold in their shops, an API key and an API order with its webhook message: every object URL of the
portal, requested by anyone but the object's owner, answers 404 — and no list, statement or file shows another
reseller's objects.

The portal's routes are read from the app's own route table, so an object URL added later is checked too, or
fails this test until it is.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.e2e.client import Browser
from tests.e2e.server import Server, free_port, running_app
from tests.e2e.test_orders_http import pay_in_sandbox, wait_for
from tests.e2e.test_portal_api_http import call_api, create_key, key_row_id, message_link
from tests.e2e.test_portal_http import invite_sub, new_reseller, on_sale_product, signed_in_owner

SKU = "ISO-CARD"
METHODS = ("GET", "POST")
ROUTES = """
import json
from web.app import create_app
routes = [[route.path, sorted(route.methods)] for route in create_app().routes if route.path.startswith("/portal")]
print("ROUTES " + json.dumps(routes))
"""


@dataclass
class Seller:
    """A reseller in the portal: its id, its signed-in browser, and what it owns."""

    name: str
    id: int
    browser: Browser
    orders: list[str] = field(default_factory=list)
    subs: list[int] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)  # its API keys' row ids
    messages: list[int] = field(default_factory=list)  # the webhook messages about its API orders


def open_shop(seller: Seller, slug: str, product_id: int) -> None:
    opened = seller.browser.post(
        "/portal/shop", {"enabled": "on", "slug": slug, "notice": "", "theme": "#b91c1c", "markup": "20"}, htmx=True
    )
    assert opened.status_code == 200, opened.text
    chosen = seller.browser.post(
        "/portal/shop/products", {"chosen": str(product_id), f"price_{product_id}": ""}, htmx=True
    )
    assert chosen.status_code == 200, chosen.text


def sell(server: Server, slug: str, buyer_number: int) -> str:
    """A buyer orders in the shop and pays in the sandbox; returns the delivered order's number."""
    buyer = Browser(server.url, **{"Accept-Language": "en", "X-Forwarded-For": f"198.51.100.{buyer_number}"})
    assert buyer.get(f"/s/{slug}/p/{SKU}").status_code == 200
    placed = buyer.post(
        f"/s/{slug}/p/{SKU}/orders", {"quantity": "1", "contact": f"iso-buyer-{buyer_number}@example.com"}, htmx=True
    )
    assert placed.status_code == 200, placed.text
    order_page = pay_in_sandbox(buyer, placed.headers["hx-redirect"])
    wait_for(buyer, order_page, "delivered")
    return re.search(r"/o/(\d+)\?k=", order_page).group(1)


def order_over_the_api(server: Server, seller: Seller, callback_url: str) -> None:
    """A key made in the portal and an order placed with it, with a callback: its key, order and message."""
    assert server.kaquan("reseller", "topup", str(seller.id), "50", "--note", "iso").returncode == 0
    key = create_key(seller.browser, "iso")
    seller.keys.append(key_row_id(key["page"], key["key-id"]))
    order = {"sku": SKU, "out_trade_no": f"iso-{seller.id}", "callback_url": callback_url}
    placed = call_api(server, key, "POST", "/api/v1/orders", order)
    assert placed.status_code == 201, placed.text
    number = placed.json()["order_no"]
    seller.orders.append(number)
    seller.messages.append(int(message_link(seller.browser, number).rsplit("/", 1)[1]))


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """As the default, but API orders may name a callback on 127.0.0.1 (where nothing listens: each attempt is
    refused, recorded and retried, and the messages stay for the portal to show)."""
    with running_app(tmp_path_factory.mktemp("app"), KAQUAN_ALLOW_PRIVATE_CALLBACKS="true") as server:
        yield server


@pytest.fixture(scope="module")
def product_id(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> int:
    made = on_sale_product(app_server, SKU, "19.80")
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("卡号\n" + "".join(f"ISO-CODE-{n:04d}-QRST\n" for n in range(10)))
    loaded = app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr
    return made


@pytest.fixture(scope="module")
def sellers(app_server: Server, product_id: int) -> dict[str, Seller]:
    """A and B, each with a sub-reseller; all four with a shop that sold one order, and one API order."""
    owner = signed_in_owner(app_server)
    found: dict[str, Seller] = {}
    for n, (key, name) in enumerate((("a", "Alpha Traders"), ("b", "Bravo Traders"))):
        top = Seller(name, *new_reseller(app_server, owner, name, f"iso-{key}"))
        sub = Seller(f"{name} Junior", *invite_sub(app_server, top.browser, f"{name} Junior", f"iso-{key}-sub"))
        top.subs.append(sub.id)
        for i, seller in enumerate((top, sub)):
            slug = f"iso-{key}-shop-{i}"
            open_shop(seller, slug, product_id)
            seller.orders.append(sell(app_server, slug, 10 * n + i + 1))
            order_over_the_api(app_server, seller, f"http://127.0.0.1:{free_port()}/callback")
        found[key], found[f"{key}_sub"] = top, sub
    return found


@pytest.fixture(scope="module")
def portal_routes(app_server: Server) -> list[tuple[str, str]]:
    """(method, path) of every portal route, read from the app the server runs."""
    done = subprocess.run(
        [sys.executable, "-c", ROUTES],
        env=app_server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("ROUTES "))
    routes = [(method, path) for path, methods in json.loads(line.removeprefix("ROUTES ")) for method in methods]
    found = [(method, path) for method, path in routes if method in METHODS]
    assert ("GET", "/portal/orders/{number:str}") in found, "the route table is read"
    return found


def foreign_objects(viewer: Seller, sellers: dict[str, Seller]) -> dict[str, list[str]]:
    """Per path parameter, the values naming objects that are not the viewer's: other resellers' orders, API keys
    and webhook messages (a sub-reseller's too), and every reseller that is not the viewer's own sub-reseller
    (itself, its parent, the others and theirs)."""
    others = [s for s in sellers.values() if s is not viewer]
    return {
        "number": [number for s in others for number in s.orders],
        "child_id": [str(s.id) for s in sellers.values() if s.id not in viewer.subs],
        "key_id": [str(key) for s in others for key in s.keys],
        "message_id": [str(message) for s in others for message in s.messages],
    }


def own_objects(viewer: Seller) -> dict[str, list[str]]:
    return {
        "number": viewer.orders,
        "child_id": [str(i) for i in viewer.subs],
        "key_id": [str(key) for key in viewer.keys],
        "message_id": [str(message) for message in viewer.messages],
    }


def urls(path: str, values: dict[str, list[str]], product_id: int) -> list[str]:
    """The path with each parameter filled in by each value given for it (a product is not owned by anyone)."""
    params = re.findall(r"\{(\w+):\w+\}", path)
    unknown = set(params) - {*values, "product_id"}
    assert not unknown, f"{path}: a new object URL; say here which objects its {unknown} name, so it is checked"
    filled = [path]
    for param in params:
        choices = [str(product_id)] if param == "product_id" else values[param]
        pattern = re.compile(r"\{" + param + r":\w+\}")
        filled = [pattern.sub(choice, url) for url in filled for choice in choices]
    return filled


def request(browser: Browser, method: str, url: str) -> int:
    """As the page would send it, with plausible form fields: only ownership may stand in the way."""
    if method == "GET":
        return browser.get(url).status_code
    return browser.post(url, {"status": "active", "markup": "5", "price": "99"}, htmx=True).status_code


def test_every_object_url_of_someone_else_answers_404(sellers, portal_routes, product_id):
    object_routes = [(method, path) for method, path in portal_routes if "{" in path]
    assert {path for _, path in object_routes} >= {
        "/portal/orders/{number:str}",
        "/portal/resellers/{child_id:int}",
        "/portal/resellers/{child_id:int}/terms",
        "/portal/resellers/{child_id:int}/prices/{product_id:int}",
        "/portal/api/keys/{key_id:int}/revoke",
        "/portal/api/webhooks/{message_id:int}",
        "/portal/api/webhooks/{message_id:int}/resend",
    }
    checked = 0
    for viewer in sellers.values():
        for method, path in object_routes:
            for url in urls(path, foreign_objects(viewer, sellers), product_id):
                assert request(viewer.browser, method, url) == 404, f"{viewer.name}: {method} {url}"
                checked += 1
            for url in urls(path, own_objects(viewer), product_id):
                assert request(viewer.browser, method, url) == 200, f"{viewer.name}'s own: {method} {url}"
    assert checked >= 60


def test_no_page_or_file_of_the_portal_shows_another_resellers_objects(sellers, portal_routes):
    pages = [path for method, path in portal_routes if method == "GET" and "{" not in path]
    assert {"/portal", "/portal/orders", "/portal/resellers", "/portal/catalog", "/portal/statement.csv"} <= set(pages)
    assert {"/portal/api", "/portal/api/webhooks"} <= set(pages)
    for viewer in sellers.values():
        others = [s for s in sellers.values() if s is not viewer and s.id not in viewer.subs]
        markers = [marker for s in others for marker in (*s.orders, f'/portal/resellers/{s.id}"')]
        markers += [f'id="api-key-{key}"' for s in others for key in s.keys]
        markers += [f'/portal/api/webhooks/{message}"' for s in others for message in s.messages]
        markers += [s.name for s in others if s.name not in viewer.name]  # its parent's name is part of its own
        for path in pages:
            for account in ("wallet", "earnings"):
                response = viewer.browser.get(f"{path}?account={account}")
                assert response.status_code < 500, f"{viewer.name}: {path}"
                shown = [marker for marker in markers if marker in response.text]
                assert not shown, f"{viewer.name} sees {shown} at {path}?account={account}"


def test_each_reseller_sees_its_own_sales_and_earnings(sellers):
    for viewer in sellers.values():
        listed = viewer.browser.get("/portal/orders").text
        assert all(f"/portal/orders/{number}" in listed for number in viewer.orders), viewer.name
        order = viewer.browser.get(f"/portal/orders/{viewer.orders[0]}").text
        assert "i***@example.com" in order and "iso-buyer-" not in order, "the contact is masked"
        assert "ISO-CODE" not in order and "/r/" not in order, "no code and no redemption link"
        earnings = viewer.browser.get("/portal/statement.csv?account=earnings").text
        assert viewer.orders[0] in earnings, f"{viewer.name} earned from its own sale"
    a, a_sub = sellers["a"], sellers["a_sub"]
    assert a_sub.orders[0] in a.browser.get("/portal/statement.csv?account=earnings").text, (
        "the parent earns its margin on its sub-reseller's sale (a posting on its own account)"
    )
