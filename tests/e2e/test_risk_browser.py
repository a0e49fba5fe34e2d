"""The merchant's risk rules in headless Chromium: a checkout a rule challenges shows the proof-of-work widget in the
form, the widget solves it, and sending the form again goes on to payment; an order lookup likewise."""

from __future__ import annotations

import pytest

from tests.e2e import test_browser
from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server

# The Chromium fixtures (and their skip rule) are the browser suite's own.
browser = test_browser.browser
page = test_browser.page

SKU = "RISK-BROWSER"
CHALLENGE_TEXT = "Please confirm you are not a robot below, then submit again."


@pytest.fixture(scope="module")
def rules(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A stocked card; more than one unit of it asks for a challenge, and so does every order lookup."""
    made = app_server.kaquan("product", "create", SKU, "--name", "Risky Card", "--face-value", "10", "--price", "8.80",
                             "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("".join(f"RISK-BROWSER-{n:04d}-ABCD\n" for n in range(5)))
    assert app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e").returncode == 0
    owner = Browser(app_server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    for rule in (
        {"name": "Bulk", "action": "challenge", "type": "order_cap", "measure": "units", "limit": "1", "sku": SKU},
        {"name": "Lookups", "action": "challenge", "applies_to": "lookup", "type": "velocity", "key": "ip",
         "measure": "orders", "limit": "0", "window_minutes": "10"},
    ):  # fmt: skip
        saved = owner.post("/admin/risk/rules", {"reason": "e2e", "applies_to": "order"} | rule, htmx=True)
        assert saved.headers.get("hx-redirect") == "/admin/risk", saved.text


def solve_in(form) -> None:
    """The challenge arrives in the form's error box; its widget solves it by itself."""
    errors = form.locator(".form-errors")
    errors.get_by_text(CHALLENGE_TEXT).wait_for()
    errors.locator("altcha-widget").get_by_text("Verified").wait_for()
    assert form.locator("input[name=altcha]").input_value(), "the solution is in the form"


def test_a_challenged_checkout_solves_the_widget_and_reaches_payment_then_a_lookup_likewise(page, rules):
    page.goto(f"/p/{SKU}")
    form = page.locator("#checkout")
    form.get_by_label("Email or phone").fill("person@example.com")
    form.get_by_label("Quantity").fill("2")
    form.get_by_role("button", name="Order and pay").click()
    solve_in(form)
    assert page.url.endswith(f"/p/{SKU}"), "still on the product page, the form as typed"
    assert form.get_by_label("Quantity").input_value() == "2"
    form.get_by_role("button", name="Order and pay").click()
    page.wait_for_url("**/sandbox/pay/SB*")
    assert page.get_by_text("¥17.60").is_visible()
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url("**/o/*")
    number = page.url.split("/o/")[1].split("?")[0]
    page.locator('#order-status[data-status="delivered"]').wait_for(timeout=30_000)

    page.goto("/lookup")
    lookup = page.locator("#lookup")
    lookup.get_by_label("Order number").fill(number)
    lookup.get_by_label("Email or phone").fill("person@example.com")
    lookup.get_by_role("button", name="Find my order").click()
    solve_in(lookup)
    lookup.get_by_role("button", name="Find my order").click()
    page.wait_for_url(f"**/o/{number}?k=*")
    page.locator('#order-status[data-status="delivered"]').wait_for()
