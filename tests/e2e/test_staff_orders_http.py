"""Orders staff take for a buyer, over HTTP against the running app: the new-order form and its product part,
placing (CSRF, form errors in place, nothing placed on bad input), the links on the order's page that the buyer
then pays through, the payment-link mail, and who may take orders at all."""

from __future__ import annotations

import html
import re
import time
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server

SKU, TOPUP, OFF_SALE = "E2E-PHONE", "E2E-TOPUP", "E2E-OFF"


@pytest.fixture(scope="module")
def products(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> None:
    for sku, flags in ((SKU, ["--on-sale"]), (TOPUP, ["--on-sale", "--kind", "topup"]), (OFF_SALE, [])):
        made = app_server.kaquan(
            "product", "create", sku, "--name", f"{sku} 会员", "--face-value", "30", "--price", "19.80", *flags
        )
        assert made.returncode == 0, made.stderr
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("".join(f"PHONE-CODE-{n:04d}-WXYZ\n" for n in range(8)))
    loaded = app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr


def signed_in(server: Server, username: str, role: str) -> Browser:
    password = f"{username}'s e2e password"
    server.add_staff(username, role, password)
    browser = Browser(server.url, **{"Accept-Language": "en", "X-Forwarded-For": "198.51.100.20"})
    browser.login(username, password)
    return browser


def owner(server: Server) -> Browser:
    browser = Browser(server.url, **{"Accept-Language": "en"})
    browser.login("owner", OWNER_PASSWORD)
    return browser


def place(browser: Browser, sku: str = SKU, quantity: str = "1", contact: str = "a@example.com", **more: str):
    return browser.post("/admin/orders/new", {"sku": sku, "quantity": quantity, "contact": contact, **more}, htmx=True)


def link(page: str, field: str) -> str:
    return html.unescape(re.search(rf'id="{field}" class="copy-source" readonly value="([^"]+)"', page).group(1))


def local(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


def mail_to(server: Server, number: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for path in Path(server.env["KAQUAN_VAR_DIR"], "mail").glob("*.eml"):
            mail = message_from_bytes(path.read_bytes(), policy=policy.default)
            if number in mail["Subject"]:
                return f"To: {mail['To']}\n{mail.get_content()}"
        time.sleep(0.2)
    raise AssertionError(f"no mail for order {number}")


def test_a_clerk_takes_an_order_by_phone_and_the_buyer_pays_through_the_link(app_server, products):
    clerk = signed_in(app_server, "e2e-phone-clerk", "clerk")
    assert 'href="/admin/orders/new"' in clerk.get("/admin/orders").text
    form = clerk.get("/admin/orders/new")
    assert form.status_code == 200 and f'value="{SKU}"' in form.text and f'value="{OFF_SALE}"' not in form.text
    part = {"HX-Request": "true", "HX-Target": "order-product"}
    chosen = clerk.get(f"/admin/orders/new?sku={SKU}&q=phone&quantity=2", headers=part).text
    assert "<html" not in chosen and f'<option value="{SKU}" selected>' in chosen and 'value="2"' in chosen
    assert 'name="recharge_account"' not in chosen, "a code product needs no account"
    topup = clerk.get(f"/admin/orders/new?sku={TOPUP}", headers=part).text
    assert re.search(r'name="recharge_account"[^>]*required', topup)
    narrowed = clerk.get("/admin/orders/new?q=topup", headers=part).text
    assert f'value="{TOPUP}"' in narrowed and f'value="{SKU}"' not in narrowed

    placed = place(clerk, quantity="2", contact="Phone.Buyer@example.com")
    assert placed.status_code == 200, placed.text
    page_path = placed.headers["hx-redirect"]
    order_id = re.fullmatch(r"/admin/orders/(\d+)", page_path).group(1)
    detail = clerk.get(page_path).text
    number = re.search(r"Order (\d+) placed", detail).group(1)
    assert "Links for the buyer" in detail and "Send payment link by mail" in detail
    assert "Admin · 198.51.100.20" in detail, "placed from the staff member's address"
    assert re.search(r'data-kind="placed">\s*<time>[^<]*</time>\s*<strong>Placed</strong>\s*<span class="muted">'
                     r"e2e-phone-clerk</span>", detail)  # fmt: skip
    payment_url, order_page = link(detail, "payment-link"), link(detail, "order-page-link")
    assert payment_url.startswith(f"{app_server.url}/sandbox/pay/submit.php?") and "money=39.60" in payment_url
    assert order_page.startswith(f"{app_server.url}/o/{number}?k=")

    mailed = clerk.post(f"/admin/orders/{order_id}/payment-link/mail", htmx=True)
    assert mailed.status_code == 200 and "Mailed to p***@example.com." in mailed.text
    mail = mail_to(app_server, number)
    assert "To: phone.buyer@example.com" in mail and payment_url in mail and order_page in mail
    assert "Payment link mailed" in clerk.get(page_path).text

    buyer = Browser(app_server.url, **{"Accept-Language": "en", "X-Forwarded-For": "203.0.113.40"})
    assert 'data-status="awaiting_payment"' in buyer.get(local(order_page)).text
    opened = buyer.get(local(payment_url))
    assert opened.status_code == 303
    assert buyer.post(opened.headers["location"] + "/pay").status_code == 303
    deadline = time.monotonic() + 30
    while 'data-status="delivered"' not in (status := buyer.get(local(order_page)).text):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert len(re.findall(r"/r/[\w-]+", status)) == 2
    paid = clerk.get(page_path).text
    assert "Links for the buyer" not in paid, "a paid order's links are the buyer's alone"
    assert clerk.post(f"/admin/orders/{order_id}/payment-link/mail", htmx=True).status_code == 409
    audit = owner(app_server).get("/admin/audit").text
    assert "order.place" in audit and "order.mail_payment_link" in audit


def test_bad_input_is_answered_in_place_and_places_nothing(app_server, products):
    operator = signed_in(app_server, "e2e-phone-operator", "operator")
    refusals = [
        ({"sku": ""}, "sku", "Required."),
        ({"sku": "E2E-NOPE"}, "sku", "No such product."),
        ({"sku": OFF_SALE}, "sku", "This product is not on sale."),
        ({"quantity": "9"}, "quantity", "Not enough in stock for this quantity."),
        ({"quantity": "0", "contact": "nobody"}, "contact", "Enter an email address or a phone number."),
        ({"sku": TOPUP}, "recharge_account", "Required."),
    ]
    for fields, field, message in refusals:
        refused = place(operator, **{"contact": "refused@example.com", **fields})
        assert refused.status_code == 422, (fields, refused.text)
        assert f'data-field="{field}"' in refused.text and message in refused.text, refused.text
    unprotected = operator.request("POST", "/admin/orders/new", data={"sku": SKU, "quantity": "1", "contact": "x@y.cn"})
    assert unprotected.status_code == 403
    listed = operator.get("/admin/orders?channel=admin&contact=refused@example.com").text
    assert "No orders match." in listed

    assert place(operator, quantity="5", contact="holder@example.com").status_code == 200
    topup = place(operator, sku=TOPUP, quantity="5", contact="holder@example.com", recharge_account="13800138000")
    assert topup.status_code == 200
    held = place(operator, quantity="1", contact="holder@example.com")
    assert held.status_code == 422 and "already holds as many unpaid units" in held.text
    other = place(operator, quantity="1", contact="someone-else@example.com")
    assert other.status_code == 200, "the staff member's own address is no buyer's cap"


def test_support_and_finance_cannot_take_orders(app_server, products):
    clerk = signed_in(app_server, "e2e-phone-clerk2", "clerk")
    order_path = place(clerk, sku=TOPUP, contact="13800138000", recharge_account="13800138000").headers["hx-redirect"]
    assert "Send payment link by mail" not in clerk.get(order_path).text, "a phone buyer gets the link by hand"
    for role in ("support", "finance"):
        member = signed_in(app_server, f"e2e-phone-{role}", role)
        assert 'href="/admin/orders/new"' not in member.get("/admin/orders").text
        assert member.get("/admin/orders/new").status_code == 403
        assert place(member, contact=f"{role}@example.com").status_code == 403
        detail = member.get(order_path)
        assert detail.status_code == 200 and "Links for the buyer" not in detail.text and "?k=" not in detail.text
        order_id = order_path.rsplit("/", 1)[1]
        assert member.post(f"/admin/orders/{order_id}/payment-link/mail", htmx=True).status_code == 403
