"""Headless Chromium through the new-order form: the picker's live search and product part, errors in place,
and the order's page with the links to copy."""

from __future__ import annotations

import re

from tests.e2e.server import OWNER_PASSWORD
from tests.e2e.test_browser import browser, page, sign_in  # noqa: F401 — the browser tests' fixtures


def test_the_owner_takes_a_top_up_order_for_a_buyer_in_the_browser(page, app_server):  # noqa: F811
    for sku, name, kind in (("BROWSER-TOPUP", "Phone credit 50", "topup"), ("BROWSER-CODE", "Video month", "code")):
        made = app_server.kaquan(
            "product", "create", sku, "--name", name, "--face-value", "50", "--price", "49.50", "--kind", kind,
            "--on-sale",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    sign_in(page, "owner", OWNER_PASSWORD)
    page.wait_for_url("**/admin")
    page.goto("/admin/orders")
    page.get_by_role("link", name="New order").click()
    page.wait_for_url("**/admin/orders/new")
    form = page.locator("#new-order")
    form.get_by_label("Find a product").fill("credit")
    form.locator('#order-sku option[value="BROWSER-CODE"]').wait_for(state="detached")
    form.locator("#order-sku").select_option("BROWSER-TOPUP")
    form.locator("#chosen-product").get_by_text("Top-up").wait_for()
    assert form.get_by_label("Account to top up").get_attribute("required") is not None
    form.get_by_label("Quantity").fill("2")
    form.get_by_label("Account to top up").fill("13800138000")
    form.get_by_label("Email or phone").fill("not a contact")
    form.get_by_role("button", name="Place order").click()
    form.locator(".form-errors").get_by_text("Enter an email address or a phone number.").wait_for()
    assert form.get_by_label("Email or phone").get_attribute("aria-invalid") == "true"
    form.get_by_label("Email or phone").fill("browser.buyer@example.com")
    form.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r".*/admin/orders/\d+$"))
    page.get_by_text("placed. Send the buyer the payment link below.").wait_for()
    links = page.locator("#buyer-links")
    assert "/sandbox/pay/submit.php?" in links.locator("#payment-link").input_value()
    assert "money=99.00" in links.locator("#payment-link").input_value()
    assert "/o/" in links.locator("#order-page-link").input_value()
    links.get_by_role("button", name="Send payment link by mail").click()
    page.locator("#link-mailed").get_by_text("Mailed to b***@example.com.").wait_for()
