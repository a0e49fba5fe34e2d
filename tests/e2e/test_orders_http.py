"""Buying over HTTP against the running app: checkout, the sandbox gateway's real signed notify, the
order page, redemption links, lookup without enumeration, rate limits, and the merchant's order desk."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from adapters.payments.epay import signed
from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server

SKU = "E2E-BUY"


@pytest.fixture(scope="module")
def product(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    made = app_server.kaquan(
        "product", "create", SKU, "--name", "E2E 会员月卡", "--face-value", "30", "--price", "19.80",
        "--instructions", "Open the app, tap Redeem.", "--on-sale",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("卡号,密码\n" + "".join(f"E2E-CODE-{n:04d}-WXYZ,PIN{n}\n" for n in range(20)))
    loaded = app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr
    return SKU


def buyer(server: Server, ip: str = "203.0.113.10") -> Browser:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1: each test buys from its own address.
    return Browser(server.url, **{"Accept-Language": "en", "X-Forwarded-For": ip})


def checkout(browser: Browser, quantity: int = 1, contact: str = "buyer@example.com") -> httpx.Response:
    browser.get(f"/p/{SKU}")
    return browser.post(f"/p/{SKU}/orders", {"contact": contact, "quantity": str(quantity)}, htmx=True)


def pay_in_sandbox(browser: Browser, payment_url: str) -> str:
    """As the buyer does: the gateway's page, then "pay"; returns where the gateway sends the buyer back."""
    opened = browser.get(payment_url)
    assert opened.status_code == 303
    page = browser.get(opened.headers["location"])
    assert page.status_code == 200 and "Sandbox gateway" in page.text
    paid = browser.post(opened.headers["location"] + "/pay")
    assert paid.status_code == 303
    return local(paid.headers["location"])


def local(url: str) -> str:
    """Path and query of a link to this app."""
    return httpx.URL(url).raw_path.decode()


def wait_for(browser: Browser, order_page: str, status: str) -> str:
    fragment = order_page.replace("?", "/status?", 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = browser.get(fragment).text
        if f'data-status="{status}"' in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"the order did not become {status}: {text}")


def test_a_buyer_pays_in_the_sandbox_and_opens_the_codes(app_server, product):
    browser = buyer(app_server)
    placed = checkout(browser, quantity=2)
    assert placed.status_code == 200, placed.text
    payment_url = placed.headers["hx-redirect"]
    assert payment_url.startswith("/sandbox/pay/submit.php?") and "money=39.60" in payment_url
    order_page = pay_in_sandbox(browser, payment_url)
    number = re.search(r"/o/(\d+)\?k=", order_page).group(1)
    assert browser.get(order_page).headers["cache-control"] == "no-store"
    delivered = wait_for(browser, order_page, "delivered")
    assert "hx-trigger" not in delivered, "a settled order stops polling"
    links = re.findall(r'href="(http://[^"]+/r/([^"]+))"', delivered)
    assert len(links) == 2
    token = links[0][1]
    assert len(token) >= 32

    redeem = browser.get(f"/r/{token}")
    assert redeem.status_code == 200 and redeem.headers["cache-control"] == "no-store"
    assert 'value="E2E-****WXYZ"' in redeem.text
    assert "Open the app, tap Redeem." in redeem.text and "<svg" in redeem.text
    assert not re.search(r"E2E-CODE-\d{4}-WXYZ", redeem.text), "masked until the buyer asks"
    revealed = browser.post(f"/r/{token}/reveal", htmx=True)
    assert re.search(r'value="E2E-CODE-\d{4}-WXYZ"', revealed.text) and re.search(r'value="PIN\d+"', revealed.text)

    mail = _mail_for(app_server, number)
    assert f"/r/{token}" in mail and "E2E-CODE" not in mail
    owner = Browser(app_server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    listed = owner.get(f"/admin/orders?number={number}").text
    order_id = re.search(r'href="/admin/orders/(\d+)"', listed).group(1)
    detail = owner.get(f"/admin/orders/{order_id}").text
    for step in ("Placed", "Payment notice accepted", "Delivered", "Code revealed by the buyer"):
        assert step in detail, step


def test_checkout_errors_show_in_place_and_reserve_nothing(app_server, product):
    browser = buyer(app_server, "203.0.113.11")
    refused = checkout(browser, quantity=0, contact="nobody")
    assert refused.status_code == 422
    assert 'data-field="contact"' in refused.text and 'data-field="quantity"' in refused.text
    too_many = checkout(browser, quantity=500)
    assert too_many.status_code == 422 and 'data-field="quantity"' in too_many.text


def test_unpaid_orders_cannot_lock_the_stock(app_server, product):
    browser = buyer(app_server, "203.0.113.12")
    for _ in range(2):
        assert checkout(browser, quantity=5, contact="hoarder@example.com").status_code == 200
    refused = checkout(browser, quantity=1, contact="another@example.com")
    assert refused.status_code == 409 and "unpaid orders" in refused.text


def test_the_signed_return_from_the_gateway_confirms_the_payment_by_itself(app_server, product):
    browser = buyer(app_server, "203.0.113.18")
    payment = httpx.URL(checkout(browser, contact="returning@example.com").headers["hx-redirect"]).params
    key = Path(app_server.env["KAQUAN_VAR_DIR"], "keys", "epay_key").read_text().strip()
    fields = ("out_trade_no", "money", "name")
    result = signed(
        {"pid": "1000", "trade_no": "RETURN-1", "trade_status": "TRADE_SUCCESS"} | {f: payment[f] for f in fields}, key
    )
    order_page = local(payment["return_url"])
    browser.get(f"{order_page}&{httpx.QueryParams(result)}")  # no notify ever came
    wait_for(browser, order_page, "delivered")


def test_a_forged_notice_is_refused_and_changes_nothing(app_server, product):
    browser = buyer(app_server, "203.0.113.13")
    payment_url = checkout(browser).headers["hx-redirect"]
    number = re.search(r"out_trade_no=(\d+)", payment_url).group(1)
    forged = signed({"pid": "1000", "trade_no": "X1", "out_trade_no": number, "money": "19.80",
                     "trade_status": "TRADE_SUCCESS", "name": "x"}, "guessed-key")  # fmt: skip
    answer = httpx.get(f"{app_server.url}/pay/epay/notify", params=forged)
    assert answer.status_code == 400 and answer.text == "fail"
    garbled = httpx.get(f"{app_server.url}/pay/epay/notify", params={**forged, "sign": "签名"})
    assert garbled.status_code == 400 and garbled.text == "fail"
    order_page = local(httpx.URL(payment_url).params["return_url"])
    status = browser.get(order_page).text
    assert 'data-status="awaiting_payment"' in status


def test_lookup_gives_one_answer_for_unknown_orders_and_wrong_contacts(app_server, product):
    browser = buyer(app_server, "203.0.113.14")
    payment_url = checkout(browser, contact="looker@example.com").headers["hx-redirect"]
    number = re.search(r"out_trade_no=(\d+)", payment_url).group(1)
    browser.get("/lookup")
    found = browser.post("/lookup", {"number": number, "contact": "LOOKER@example.com"}, htmx=True)
    assert found.headers["hx-redirect"].startswith(f"/o/{number}?k=")
    assert browser.get(found.headers["hx-redirect"]).status_code == 200
    wrong_contact = browser.post("/lookup", {"number": number, "contact": "other@example.com"}, htmx=True)
    unknown = browser.post("/lookup", {"number": "2611010000000000", "contact": "looker@example.com"}, htmx=True)
    assert wrong_contact.status_code == unknown.status_code == 404
    assert wrong_contact.text == unknown.text
    assert browser.get(f"/o/{number}?k=wrong").status_code == 404


def test_lookups_and_redemption_pages_are_rate_limited(app_server, product):
    browser = buyer(app_server, "203.0.113.15")
    browser.get("/lookup")
    answers = [browser.post("/lookup", {"number": "1", "contact": "a@b.cn"}, htmx=True).status_code for _ in range(12)]
    assert answers[:9] == [404] * 9 and answers[-1] == 429, "10 a minute, the lookup page included"
    pages = [browser.get("/r/not-a-token").status_code for _ in range(62)]
    assert pages[0] == 404 and pages[-1] == 429
    elsewhere = buyer(app_server, "203.0.113.16")
    assert elsewhere.get("/r/not-a-token").status_code == 404, "the limit is per address"


def test_staff_see_orders_and_only_finance_or_owners_refund(app_server, product):
    browser = buyer(app_server, "203.0.113.17")
    order_page = pay_in_sandbox(browser, checkout(browser, contact="refund@example.com").headers["hx-redirect"])
    wait_for(browser, order_page, "delivered")
    number = re.search(r"/o/(\d+)", order_page).group(1)
    app_server.add_staff("e2e-clerk", "clerk", "clerk's e2e password")
    clerk = Browser(app_server.url, **{"Accept-Language": "en"})
    clerk.login("e2e-clerk", "clerk's e2e password")
    listed = clerk.get("/admin/orders?status=delivered&channel=shop&contact=refund@example.com").text
    order_id = re.search(r'href="/admin/orders/(\d+)"', listed).group(1)
    assert number in listed and "r***@example.com" in listed
    assert "refund@example.com" not in listed.replace('value="refund@example.com"', ""), "number + contact open codes"
    assert clerk.post(f"/admin/orders/{order_id}/refund", {"reason": "test"}, htmx=True).status_code == 403
    owner = Browser(app_server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    no_reason = owner.post(f"/admin/orders/{order_id}/refund", {"reason": " "}, htmx=True)
    assert no_reason.status_code == 422
    (token,) = re.findall(r"/r/([\w-]+)", browser.get(order_page).text)
    refunded = owner.post(f"/admin/orders/{order_id}/refund", {"reason": "buyer asked"}, htmx=True)
    assert refunded.status_code == 200 and "status-refunded" in refunded.text and "buyer asked" in refunded.text
    links = re.findall(r"/r/([\w-]+)", browser.get(order_page).text)
    assert links == [], "a refunded order shows no links"
    assert "was refunded" in browser.post(f"/r/{token}/reveal", htmx=True).text
    audit = owner.get("/admin/audit").text
    assert "order.refund" in audit


def _mail_for(server: Server, number: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for mail in Path(server.env["KAQUAN_VAR_DIR"], "mail").glob("*.eml"):
            text = mail.read_text()
            if number in text:
                return text
        time.sleep(0.2)
    raise AssertionError("no mail for the order")
