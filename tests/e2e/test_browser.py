"""Headless Chromium through the real pages: sign-in, errors in place, htmx forms with CSRF."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.server import OWNER_PASSWORD, Server
from tests.services import unavailable

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = os.environ.get("KAQUAN_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        unavailable(f"browser test skipped: no Chromium at {executable} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, app_server: Server):
    context = browser.new_context(base_url=app_server.url, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # 4xx answers to htmx requests are expected (errors shown in place); broken assets are not.
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.request.resource_type in ("script", "stylesheet", "image", "font")
            else None
        ),
    )
    yield page
    context.close()
    assert not errors, f"the page reported errors: {errors}"


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def session_cookie(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "kaquan_session"), None)


def test_the_owner_signs_in_through_the_login_page_and_sees_the_admin(page):
    sign_in(page, "owner", OWNER_PASSWORD)
    page.wait_for_url("**/admin")
    assert page.get_by_role("heading", name="Welcome, Owner").is_visible()
    assert page.get_by_role("link", name="Staff").is_visible()
    assert session_cookie(page)


def test_a_wrong_password_shows_an_error_in_place_and_no_session(page):
    sign_in(page, "owner", "definitely wrong")
    error = page.locator("#login-form .form-errors")
    error.get_by_text("Wrong username or password.").wait_for()
    assert page.url.endswith("/login")
    assert page.get_by_label("Username").input_value() == "owner", "the form keeps what was typed"
    assert session_cookie(page) is None


def test_the_owner_invites_a_member_with_an_htmx_form(page):
    sign_in(page, "owner", OWNER_PASSWORD)
    page.wait_for_url("**/admin")
    page.get_by_role("link", name="Staff").click()
    form = page.locator("#invite-staff")
    form.get_by_label("Username").fill("owner")
    form.get_by_role("button", name="Invite").click()
    form.locator(".form-errors").get_by_text("That username is already taken.").wait_for()
    assert form.get_by_label("Username").get_attribute("aria-invalid") == "true"
    form.get_by_label("Username").fill("browser.made")
    form.get_by_label("Role").select_option("finance")
    form.get_by_role("button", name="Invite").click()
    row = page.locator("tbody.member", has_text="browser.made")
    row.wait_for()
    assert "Finance" in row.inner_text() and "Invited" in row.inner_text()
    assert "/invite/" in row.locator("input.copy-source").input_value()
    assert form.get_by_label("Username").input_value() == "", "the form resets after a success"


def test_the_language_switch_changes_the_page(page):
    page.goto("/login")
    page.get_by_role("button", name="中文").click()
    page.get_by_role("heading", name="商户登录").wait_for()


def test_the_owner_adds_a_product_and_finds_it_with_live_search(page):
    sign_in(page, "owner", OWNER_PASSWORD)
    page.wait_for_url("**/admin")
    page.get_by_role("link", name="Products").click()
    page.get_by_role("link", name="New product").click()
    form = page.locator("#product-form")
    form.get_by_label("SKU").fill("browser-card")
    form.get_by_label("Name").fill("Browser Gift Card")
    form.get_by_label("Face value").fill("100")
    form.get_by_label("Retail price").fill("99.999")
    form.get_by_role("button", name="Save").click()
    form.locator(".form-errors").get_by_text("Retail price").wait_for()
    assert form.get_by_label("Retail price").get_attribute("aria-invalid") == "true"
    form.get_by_label("Retail price").fill("95.00")
    form.get_by_role("button", name="Save").click()
    page.wait_for_url("**/admin/products")
    page.get_by_text("Product BROWSER-CARD created.").wait_for()
    page.get_by_label("Search").fill("browser-c")
    page.wait_for_url("**/admin/products?q=browser-c*")
    rows = page.locator("#product-table tbody")
    rows.first.wait_for()
    assert rows.count() == 1 and "¥95.00" in rows.first.inner_text()


def test_an_operator_imports_a_file_and_watches_it_land_in_the_pool(page, app_server, tmp_path):
    app_server.add_staff("ops.import", "operator", "operator import password")
    app_server.kaquan("product", "create", "BROWSER-POOL", "--name", "Pool Card", "--face-value", "10", "--price", "9")
    codes = tmp_path / "codes.csv"
    codes.write_text("卡号,密码\n" + "".join(f"WEB-{n:05d},PIN{n}\n" for n in range(1500)), encoding="utf-8-sig")
    sign_in(page, "ops.import", "operator import password")
    page.wait_for_url("**/admin")
    page.goto("/admin/products?q=BROWSER-POOL")
    page.get_by_role("link", name="Pool Card").click()
    form = page.locator("#import-form")
    form.get_by_label("Source").fill("Supplier B")
    form.get_by_label("Unit cost").fill("8.80")
    form.get_by_label("File", exact=True).set_input_files(str(codes))
    form.get_by_role("button", name="Import").click()
    job = page.locator("#imports .import").first
    job.get_by_text("Done").wait_for(timeout=30_000)
    assert "1500" in job.locator("dd.ok").inner_text()
    page.locator(".state-available .stat-value", has_text="1500").wait_for()
    assert page.locator("tbody tr", has_text="Supplier B").count() == 1


def test_the_owner_changes_a_role_and_disables_a_member_in_the_staff_table(page, app_server):
    app_server.add_staff("table.member", "clerk", "table member password")
    sign_in(page, "owner", OWNER_PASSWORD)
    page.wait_for_url("**/admin")
    page.goto("/admin/staff")
    row = page.locator("tbody.member", has_text="table.member")
    row.get_by_label("Role").select_option("finance")
    row.locator("select option[value=finance][selected]").wait_for(state="attached")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Disable").click()
    row.get_by_text("Disabled").wait_for()
    assert row.get_by_role("button", name="Enable").is_visible()


def test_a_buyer_pays_and_watches_the_order_page_deliver_then_reveals_and_copies_the_code(page, app_server, tmp_path):
    made = app_server.kaquan(
        "product", "create", "BROWSER-BUY", "--name", "Browser Card", "--face-value", "10", "--price", "8.80",
        "--instructions", "Redeem it in the app.", "--on-sale",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = tmp_path / "codes.csv"
    codes.write_text("BROWSER-CODE-0001-ABCD,PIN-0001\n")
    assert (
        app_server.kaquan("codes", "import", str(codes), "--product", "BROWSER-BUY", "--source", "e2e").returncode == 0
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    page.goto("/shop")
    page.get_by_role("link", name="Browser Card").click()
    form = page.locator("#checkout")
    form.get_by_label("Email or phone").fill("not a contact")
    form.get_by_role("button", name="Order and pay").click()
    form.locator(".form-errors").get_by_text("Enter an email address or a phone number.").wait_for()
    assert form.get_by_label("Email or phone").get_attribute("aria-invalid") == "true"
    form.get_by_label("Email or phone").fill("browser@example.com")
    form.get_by_role("button", name="Order and pay").click()

    page.wait_for_url("**/sandbox/pay/SB*")
    assert page.get_by_text("¥8.80").is_visible()
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url("**/o/*")
    # The order page follows the order by itself: no reload.
    page.locator('#order-status[data-status="delivered"]').wait_for(timeout=30_000)
    page.get_by_role("link", name="Open code 1").click()

    page.wait_for_url("**/r/*")
    number = page.locator("#code-number")
    assert number.input_value() == "BROW****ABCD"
    assert page.get_by_text("Redeem it in the app.").is_visible() and page.locator(".qr-code svg").is_visible()
    page.get_by_role("button", name="Show code").click()
    page.locator('[data-revealed="yes"]').wait_for()
    assert number.input_value() == "BROWSER-CODE-0001-ABCD"
    assert page.locator("#code-pin").input_value() == "PIN-0001"
    page.locator('[data-copy="#code-number"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == "BROWSER-CODE-0001-ABCD"
