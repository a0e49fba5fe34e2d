"""The merchant's risk rules as buyers, resellers and staff meet them over HTTP: a challenge shown in place in the
checkout and lookup forms (the merchant's shop and a reseller's) and answered by a solved proof of work; a refusal
in place; an order held for review waiting on its page with nothing to pay, then approved (payment, delivery) or
rejected (a reason required) from the review queue or the order's page; a reseller's wallet purchase held
uncharged or refused in place."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import unescape

import altcha
import httpx
import pytest

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server
from tests.e2e.test_orders_http import local, pay_in_sandbox, wait_for
from tests.e2e.test_reseller_shop_http import reseller_with_login
from tests.e2e.test_staff_orders_http import mail_to

CHALLENGED, HELD = "RISKWEB-CHALLENGE", "RISKWEB-HELD"
SLUG = "riskweb"
CHALLENGE_TEXT = "Please confirm you are not a robot below, then submit again."
BLOCKED_TEXT = "This order cannot be accepted. If you think this is a mistake, contact the shop."


@dataclass
class World:
    server: Server
    owner: Browser
    products: dict[str, int]  # SKU → id


def buyer(server: Server, ip: str) -> Browser:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1: each buyer comes from its own address.
    return Browser(server.url, **{"Accept-Language": "en", "X-Forwarded-For": ip})


def text(response: httpx.Response | str) -> str:
    html = response if isinstance(response, str) else response.text
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def solved(browser: Browser) -> str:
    """What the widget does in a browser: fetch a challenge, find its proof of work, send it as the field altcha."""
    challenge = altcha.Challenge.from_dict(browser.get("/challenge").json())
    return altcha.Payload(challenge, altcha.solve_challenge(challenge)).to_base64()


def add_rule(owner: Browser, **fields: str) -> None:
    """Through the risk desk's form, as the merchant does."""
    form = {"name": "rule", "reason": "seen in fraud", "applies_to": "order"} | fields
    made = owner.post("/admin/risk/rules", form, htmx=True)
    assert (made.status_code, made.headers.get("hx-redirect")) == (200, "/admin/risk"), made.text


def block(owner: Browser, kind: str, value: str) -> None:
    added = owner.post("/admin/risk/lists", {"list": "block", "kind": kind, "value": value, "note": "e2e"}, htmx=True)
    assert added.status_code == 200, added.text


def checkout(browser: Browser, sku: str, contact: str, quantity: int = 1, *, shop: str = "", **more: str):
    base = f"/s/{shop}" if shop else ""
    browser.get(f"{base}/p/{sku}")
    form = {"contact": contact, "quantity": str(quantity)} | more
    return browser.post(f"{base}/p/{sku}/orders", form, htmx=True)


def order_id(owner: Browser, number: str) -> int:
    listed = owner.get(f"/admin/orders?number={number}").text
    return int(re.search(r'href="/admin/orders/(\d+)"', listed).group(1))


def number_of(order_page: str) -> str:
    return re.search(r"/o/(\d+)\?k=", order_page).group(1)


@pytest.fixture(scope="module")
def world(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> World:
    """Two stocked products and the rules: more than one unit of the first asks for a challenge, any order of the
    second waits for review, and a second lookup from one address within ten minutes asks for a challenge."""
    tmp = tmp_path_factory.mktemp("codes")
    products = {}
    for sku, codes in ((CHALLENGED, 10), (HELD, 3)):
        made = app_server.kaquan(
            "--json", "product", "create", sku, "--name", f"{sku} card", "--face-value", "30", "--price", "19.80",
            "--on-sale",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        products[sku] = json.loads(made.stdout)["id"]
        path = tmp / f"{sku}.csv"
        path.write_text("".join(f"{sku}-{n:04d}-WXYZ\n" for n in range(codes)))
        assert app_server.kaquan("codes", "import", str(path), "--product", sku, "--source", "e2e").returncode == 0
    owner = Browser(app_server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    add_rule(owner, name="Bulk", action="challenge", type="order_cap", measure="units", limit="1", sku=CHALLENGED)
    add_rule(owner, name="Look first", reason="new card line", action="review", type="order_cap", measure="units",
             limit="0", sku=HELD)  # fmt: skip
    add_rule(owner, name="Guessing", applies_to="lookup", action="challenge", type="velocity", key="ip",
             measure="orders", limit="1", window_minutes="10")  # fmt: skip
    return World(app_server, owner, products)


@pytest.fixture(scope="module")
def shop(world: World) -> Browser:
    """A reseller's shop selling both products; returns the reseller's portal."""
    seller = reseller_with_login(world.server, "Risk Corner", "risk-corner")
    for product_id in world.products.values():
        priced = world.owner.post(
            f"/admin/products/{product_id}/prices/resellers", {"reseller_id": str(seller.id), "price": "16.50"},
            htmx=True,
        )  # fmt: skip
        assert priced.status_code == 200, priced.text
    portal = seller.portal
    portal.get("/portal/shop")
    settings = {"enabled": "on", "slug": SLUG, "notice": "", "theme": "#1D4ED8", "markup": "20"}
    assert portal.post("/portal/shop", settings, htmx=True).status_code == 200
    chosen = {"chosen": [str(i) for i in world.products.values()]} | {
        f"price_{i}": "25.00" for i in world.products.values()
    }
    assert portal.post("/portal/shop/products", chosen, htmx=True).status_code == 200
    return portal


def test_a_challenged_checkout_shows_the_widget_in_the_form_and_goes_on_once_solved(world):
    browser = buyer(world.server, "203.0.113.101")
    asked = checkout(browser, CHALLENGED, "solver@example.com", 2)
    assert asked.status_code == 403
    assert CHALLENGE_TEXT in text(asked)
    assert "<altcha-widget" in asked.text and 'name="altcha"' in asked.text and 'challenge="/challenge"' in asked.text
    assert checkout(browser, CHALLENGED, "solver@example.com", 1).status_code == 200, "one unit asks for nothing"

    proof = solved(browser)
    placed = checkout(browser, CHALLENGED, "solver@example.com", 2, altcha=proof)
    assert placed.status_code == 200, placed.text
    assert (
        placed.headers["hx-redirect"].startswith("/sandbox/pay/submit.php?")
        and "money=39.60" in placed.headers["hx-redirect"]
    )
    again = checkout(browser, CHALLENGED, "solver@example.com", 2, altcha=proof)
    assert again.status_code == 403 and "<altcha-widget" in again.text, "a solution is good for one order"
    assert checkout(browser, CHALLENGED, "solver@example.com", 2, altcha="not a solution").status_code == 403

    plain = browser.post(f"/p/{CHALLENGED}/orders", {"contact": "solver@example.com", "quantity": "2"})
    assert plain.status_code == 403 and CHALLENGE_TEXT in text(plain), "without JS: the error page says it"
    assert "<altcha-widget" not in plain.text


def test_a_reseller_shops_checkout_is_challenged_and_held_like_the_merchants(world, shop):
    browser = buyer(world.server, "203.0.113.102")
    asked = checkout(browser, CHALLENGED, "corner@example.com", 2, shop=SLUG)
    assert asked.status_code == 403 and "<altcha-widget" in asked.text
    placed = checkout(browser, CHALLENGED, "corner@example.com", 2, shop=SLUG, altcha=solved(browser))
    assert placed.status_code == 200 and "money=50.00" in placed.headers["hx-redirect"], placed.text

    held = checkout(browser, HELD, "corner@example.com", 1, shop=SLUG)
    assert held.status_code == 200, held.text
    page = browser.get(held.headers["hx-redirect"])
    assert page.status_code == 200 and 'id="held-for-review"' in page.text and "Pay now" not in page.text
    assert f'href="/s/{SLUG}"' in page.text, "in the shop's own look"
    world.owner.post(f"/admin/reviews/{order_id(world.owner, number_of(held.headers['hx-redirect']))}/reject",
                     {"reason": "e2e"}, htmx=True)  # fmt: skip


def test_lookups_are_challenged_after_the_first_and_go_on_once_solved(world, shop):
    browser = buyer(world.server, "192.0.2.77")
    placed = checkout(browser, CHALLENGED, "finder@example.com")
    number = httpx.URL(placed.headers["hx-redirect"]).params["out_trade_no"]
    browser.get("/lookup")
    first = browser.post("/lookup", {"number": number, "contact": "wrong@example.com"}, htmx=True)
    assert first.status_code == 404
    second = browser.post("/lookup", {"number": number, "contact": "finder@example.com"}, htmx=True)
    assert second.status_code == 403 and CHALLENGE_TEXT in text(second) and "<altcha-widget" in second.text
    found = browser.post(
        "/lookup", {"number": number, "contact": "finder@example.com", "altcha": solved(browser)}, htmx=True
    )
    assert found.status_code == 200 and found.headers["hx-redirect"].startswith(f"/o/{number}?k="), found.text

    browser.get(f"/s/{SLUG}/lookup")
    in_shop = browser.post(f"/s/{SLUG}/lookup", {"number": number, "contact": "finder@example.com"}, htmx=True)
    assert in_shop.status_code == 403 and "<altcha-widget" in in_shop.text, "the same rules in a reseller's shop"
    solution = solved(browser)
    not_its = browser.post(
        f"/s/{SLUG}/lookup", {"number": number, "contact": "finder@example.com", "altcha": solution}, htmx=True
    )
    assert not_its.status_code == 404, "solved, and then: the merchant's own order is not found in the shop"


def test_a_block_list_entry_refuses_checkout_and_lookup_in_place(world):
    block(world.owner, "ip", "198.51.100.200/30")
    browser = buyer(world.server, "198.51.100.201")
    refused = checkout(browser, CHALLENGED, "listed@example.com")
    assert refused.status_code == 403 and BLOCKED_TEXT in text(refused) and "<altcha-widget" not in refused.text
    browser.get("/lookup")
    looked = browser.post("/lookup", {"number": "1", "contact": "listed@example.com"}, htmx=True)
    assert looked.status_code == 403 and BLOCKED_TEXT in text(looked)
    assert checkout(buyer(world.server, "198.51.100.210"), CHALLENGED, "near@example.com").status_code == 200


def test_a_held_order_waits_unpaid_on_its_page_until_approved_from_the_queue_then_pays(world):
    browser = buyer(world.server, "203.0.113.103")
    placed = checkout(browser, HELD, "held@example.com")
    assert placed.status_code == 200, placed.text
    order_page = placed.headers["hx-redirect"]
    assert order_page.startswith("/o/"), "to its page, not to the gateway"
    number = number_of(order_page)
    status = browser.get(order_page.replace("?", "/status?", 1)).text
    assert 'data-status="held"' in status and 'id="held-for-review"' in status and "Pay now" not in status
    assert "hx-trigger" in status, "it keeps looking for the decision"
    assert "Held for review" in text(status)

    owner = world.owner
    assert owner.get("/admin/reviews/count").text.strip().startswith('<span class="badge count"')
    queue = owner.get("/admin/reviews")
    assert queue.status_code == 200
    row = re.search(rf'<tr id="review-\d+" class="review" data-order="{number}".*?</tr>', queue.text, re.S).group(0)
    assert "Look first" in row and "new card line" in row and "This order: 1 unit (limit 0 units)" in text(row)
    assert "Shop" in row and "h***@example.com" not in row and "held@example.com" in row, "the owner sees contacts"
    assert f"{HELD} card" in row
    order = order_id(owner, number)
    detail = owner.get(f"/admin/orders/{order}").text
    assert (
        'id="order-risk"' in detail and "Risk rules matched" in detail and f"/admin/reviews/{order}/approve" in detail
    )

    approved = owner.post(f"/admin/reviews/{order}/approve", htmx=True)
    assert approved.status_code == 200 and approved.headers["hx-trigger"] == "review-decided"
    assert 'data-status="awaiting_payment"' in approved.text
    assert f'data-order="{number}"' not in owner.get("/admin/reviews").text, "it left the queue"
    mailed = mail_to(world.server, number)  # by the worker, after the click was answered
    assert mailed.startswith("To: held@example.com") and f"{number}?k=" in mailed and "/sandbox/pay/" in mailed
    status = browser.get(order_page.replace("?", "/status?", 1)).text
    assert 'data-status="awaiting_payment"' in status and "Pay now" in status
    payment = re.search(r'<a class="button" href="([^"]+)"', status).group(1)
    back = pay_in_sandbox(browser, local(unescape(payment)))
    assert number_of(back) == number
    wait_for(browser, back, "delivered")
    detail = owner.get(f"/admin/orders/{order}").text
    assert 'id="order-risk"' in detail and f"/admin/reviews/{order}/approve" not in detail, "reasons stay, decided"
    audit = owner.get("/admin/audit").text
    assert "order.approve" in audit and number in audit


def test_rejecting_needs_a_reason_and_cancels_and_short_stock_is_told_in_place(world):
    owner = world.owner
    pages = [
        checkout(buyer(world.server, f"203.0.113.{110 + n}"), HELD, f"r{n}@example.com").headers["hx-redirect"]
        for n in range(5)
    ]
    numbers = [number_of(page) for page in pages]
    ids = [order_id(owner, number) for number in numbers]

    no_reason = owner.post(f"/admin/reviews/{ids[0]}/reject", {"reason": " "}, htmx=True)
    assert no_reason.status_code == 422 and 'data-field="reason"' in no_reason.text
    rejected = owner.post(f"/admin/reviews/{ids[0]}/reject", {"reason": "stolen card pattern"}, htmx=True)
    assert rejected.status_code == 200 and "Rejected: the order is cancelled." in text(rejected)
    assert owner.post(f"/admin/reviews/{ids[0]}/approve", htmx=True).status_code == 409, "decided once"
    audit = owner.get("/admin/audit").text
    assert "order.reject" in audit and "stolen card pattern" in audit
    page = buyer(world.server, "203.0.113.110").get(pages[0]).text
    assert "This order was cancelled. Nothing was charged." in text(page)

    # Approving holds the stock (three codes were stocked): past the last one, approval is refused in place.
    answers = [owner.post(f"/admin/reviews/{order}/approve", htmx=True) for order in ids[1:]]
    statuses = [answer.status_code for answer in answers]
    assert 409 in statuses and statuses == sorted(statuses), statuses
    short = statuses.index(409)
    assert "Out of stock." in text(answers[short])
    late, late_number = ids[1 + short], numbers[1 + short]
    assert f'data-order="{late_number}"' in owner.get("/admin/reviews").text, "still held, still in the queue"
    # From the order's own page: its whole file comes back, decided.
    headers = {"HX-Request": "true", "HX-Target": "order-file", "x-csrftoken": owner.csrf}
    answer = owner.request("POST", f"/admin/reviews/{late}/reject", data={"reason": "no stock"}, headers=headers)
    assert answer.status_code == 200 and 'id="order-file"' in answer.text and "status-cancelled" in answer.text
    assert f"/admin/reviews/{late}/approve" not in answer.text


def test_staff_who_do_not_manage_orders_see_the_queue_but_cannot_decide(world):
    world.server.add_staff("review-finance", "finance", "finance's password!")
    finance = Browser(world.server.url, **{"Accept-Language": "en"})
    finance.login("review-finance", "finance's password!")
    placed = checkout(buyer(world.server, "203.0.113.130"), HELD, "f@example.com")
    order = order_id(world.owner, number_of(placed.headers["hx-redirect"]))
    queue = finance.get("/admin/reviews")
    assert queue.status_code == 200 and f'id="review-{order}"' in queue.text
    assert "/approve" not in queue.text and "f***@example.com" in queue.text
    assert finance.post(f"/admin/reviews/{order}/approve", htmx=True).status_code == 403
    assert world.owner.post(f"/admin/reviews/{order}/reject", {"reason": "e2e"}, htmx=True).status_code == 200


def test_a_resellers_wallet_purchase_held_is_not_charged_and_a_blocked_one_is_refused_in_place(world):
    seller = reseller_with_login(world.server, "Wallet Risk", "wallet-risk")
    assert world.server.kaquan("reseller", "topup", str(seller.id), "50", "--note", "e2e").returncode == 0
    portal = seller.portal
    portal.get(f"/portal/buy?sku={HELD}")
    bought = portal.post(f"/portal/buy?sku={HELD}", {"quantity": "1"}, htmx=True)
    assert bought.status_code == 200, bought.text
    page = portal.get(bought.headers["hx-redirect"]).text
    assert "waits for the merchant's review. Your balance is not charged until it is approved" in unescape(page)
    assert 'id="balance" class="price">¥50.00' in portal.get("/portal").text

    block(world.owner, "contact", "wallet-risk@example.com")
    portal.get(f"/portal/buy?sku={CHALLENGED}")
    refused = portal.post(f"/portal/buy?sku={CHALLENGED}", {"quantity": "2"}, htmx=True)
    assert refused.status_code == 403 and BLOCKED_TEXT in text(refused)
    assert 'id="balance" class="price">¥50.00' in portal.get("/portal").text
