"""A reseller's shop in headless Chromium: the reseller sets it up through the portal's forms (logo upload,
an error in place), a buyer buys there, pays in the sandbox and opens the code, and the storefront sells out
on screen, without a reload, when the pool runs dry."""

from __future__ import annotations

from tests.e2e import test_browser
from tests.e2e.test_reseller_shop_http import english, png, reseller_with_login

# The Chromium fixtures (and their skip rule) are the browser suite's own.
browser = test_browser.browser
page = test_browser.page

SKU = "RSB-CARD"
SLUG = "browser-corner"
PASSWORD = "reseller's e2e password"


def test_a_buyer_buys_in_a_resellers_shop_and_sees_the_code(page, app_server, tmp_path):
    made = app_server.kaquan(
        "product", "create", SKU, "--name", "Corner Browser Card", "--face-value", "10", "--price", "8.80",
        "--instructions", "Redeem it in the app.", "--on-sale",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = tmp_path / "codes.csv"
    codes.write_text("RSB-CODE-0001-ABCD,PIN-0001\nRSB-CODE-0002-EFGH,PIN-0002\n")
    assert app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e").returncode == 0
    reseller_with_login(app_server, "Browser Corner", "browser-corner")

    test_browser.sign_in(page, "browser-corner", PASSWORD)
    page.wait_for_url("**/portal")
    page.get_by_role("link", name="My shop").first.click()
    page.wait_for_url("**/portal/shop")
    settings = page.locator("#shop-settings")
    settings.get_by_label("Shop open to buyers").check()
    settings.get_by_label("Shop address").fill(SLUG)
    settings.get_by_label("Theme colour").fill("#1d4ed8")
    settings.get_by_role("button", name="Save").click()
    page.get_by_text("Shop settings saved.").wait_for()
    page.locator("#shop-logo input[type=file]").set_input_files(
        files=[{"name": "logo.png", "mimeType": "image/png", "buffer": png()}]
    )
    page.get_by_role("button", name="Upload logo").click()
    page.get_by_text("Logo saved.").wait_for()
    assert page.locator("#logo-preview").evaluate("image => image.naturalWidth") > 0
    products = page.locator("#shop-products")
    products.get_by_label("Sell Corner Browser Card").check()
    price = products.get_by_label("Own price Corner Browser Card")
    price.fill("5.00")
    products.get_by_role("button", name="Save products").click()
    products.locator(".form-errors").get_by_text("Corner Browser Card").wait_for()
    assert price.get_attribute("aria-invalid") == "true", "below its cost of 8.80"
    price.fill("12.00")
    products.get_by_role("button", name="Save products").click()
    page.get_by_text("Your shop’s products are saved.").wait_for()
    page.context.clear_cookies()  # from here on, a buyer

    page.goto(f"/s/{SLUG}")
    assert page.get_by_role("heading", name="Browser Corner").is_visible()
    assert page.locator(".shop-logo").evaluate("image => image.naturalWidth") > 0
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert accent == "#1d4ed8", "the shop's colour, from its stylesheet"
    page.get_by_role("link", name="Corner Browser Card").click()
    form = page.locator("#checkout")
    form.get_by_label("Email or phone").fill("not a contact")
    form.get_by_role("button", name="Order and pay").click()
    form.locator(".form-errors").get_by_text("Enter an email address or a phone number.").wait_for()
    form.get_by_label("Email or phone").fill("browser-shop@example.com")
    form.get_by_role("button", name="Order and pay").click()

    page.wait_for_url("**/sandbox/pay/SB*")
    assert page.get_by_text("¥12.00").is_visible()
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url("**/o/*")
    page.locator('#order-status[data-status="delivered"]').wait_for(timeout=30_000)
    assert page.locator("#back-to-shop").get_attribute("href") == f"/s/{SLUG}"
    page.get_by_role("link", name="Open code 1").click()
    page.wait_for_url("**/r/*")
    page.get_by_role("button", name="Show code").click()
    page.locator('[data-revealed="yes"]').wait_for()
    assert page.locator("#code-number").input_value() in ("RSB-CODE-0001-ABCD", "RSB-CODE-0002-EFGH")

    # The last code goes to someone else while the storefront and the product page are open: both follow.
    page.goto(f"/s/{SLUG}/p/{SKU}")
    page.locator("#checkout").wait_for()
    front = page.context.new_page()
    front.goto(f"/s/{SLUG}")
    assert "sold-out" not in front.locator(f'.product-card[data-sku="{SKU}"]').get_attribute("class")
    last = english(app_server, "203.0.113.90")
    last.get(f"/s/{SLUG}/p/{SKU}")
    taken = last.post(f"/s/{SLUG}/p/{SKU}/orders", {"contact": "last@example.com", "quantity": "1"}, htmx=True)
    assert taken.status_code == 200, taken.text
    page.locator("#buy").get_by_text("Sold out. Please come back later.").wait_for(timeout=30_000)
    assert page.locator("#checkout").count() == 0 and page.locator("#stock").inner_text() == "Sold out"
    front.locator(f'.product-card.sold-out[data-sku="{SKU}"]').wait_for(timeout=30_000)
    assert front.locator(f'a[href="/s/{SLUG}/p/{SKU}"]').count() == 0, "shown, but no longer a way to buy"
