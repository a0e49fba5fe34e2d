"""Product pages over HTTP: who may see and change the catalog, forms with errors in place, search."""

from __future__ import annotations

import io
import re
import time

import pytest
from openpyxl import load_workbook

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server

PRODUCT = {
    "sku": "e2e-card",
    "name": "E2E 礼品卡",
    "brand": "Brand",
    "category": "e2e",
    "face_value": "50",
    "retail_price": "45.5",
    "delivery_kind": "code",
    "usage_instructions": "Redeem in the app.",
}


@pytest.fixture
def owner(app_server: Server) -> Browser:
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    browser.login("owner", OWNER_PASSWORD)
    return browser


def product_id(browser: Browser, sku: str) -> str:
    page = browser.get(f"/admin/products?q={sku}").text
    return re.search(r'id="product-(\d+)"', page).group(1)


def test_an_owner_creates_edits_and_takes_a_product_off_sale(owner):
    created = owner.post("/admin/products", {**PRODUCT, "on_sale": "on"})
    assert created.status_code == 303 and created.headers["location"] == "/admin/products"
    listing = owner.get("/admin/products").text
    assert "Product E2E-CARD created." in listing and "¥45.50" in listing and "E2E 礼品卡" in listing
    pid = product_id(owner, "E2E-CARD")
    form = owner.get(f"/admin/products/{pid}/edit").text
    assert 'value="45.50"' in form and "readonly" in form
    revised = owner.post(f"/admin/products/{pid}", {**PRODUCT, "sku": "IGNORED", "retail_price": "44"}, htmx=True)
    assert revised.headers["hx-redirect"] == "/admin/products"
    assert "¥44.00" in owner.get("/admin/products?q=e2e-card").text
    row = owner.post(f"/admin/products/{pid}/on-sale", {"on_sale": "0"}, htmx=True)
    assert row.status_code == 200 and "Off sale" in row.text
    assert "product.off_sale" in owner.get("/admin/audit").text


def test_invalid_product_input_names_each_field_and_creates_nothing(owner):
    bad = {**PRODUCT, "sku": "no spaces", "retail_price": "1.999", "name": ""}
    response = owner.post("/admin/products", bad, htmx=True)
    assert response.status_code == 422
    for field in ("sku", "name", "retail_price"):
        assert f'data-field="{field}"' in response.text
    assert "No products match." in owner.get("/admin/products?q=no%20spaces").text


def test_search_and_filters_answer_with_the_table_for_htmx(owner):
    for n in range(3):
        owner.post("/admin/products", {**PRODUCT, "sku": f"filter-{n}", "category": "filters", "name": f"Filter {n}"})
    partial = owner.get(
        "/admin/products?q=filter-1&category=filters", headers={"HX-Request": "true", "HX-Target": "product-table"}
    )
    assert partial.status_code == 200 and "<html" not in partial.text
    assert "FILTER-1" in partial.text and "FILTER-2" not in partial.text


def test_clerks_see_the_catalog_but_cannot_change_it(app_server, owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "clerk-view"})
    app_server.add_staff("clerk.view", "clerk", "clerk view password")
    clerk = Browser(app_server.url, **{"Accept-Language": "en"})
    clerk.login("clerk.view", "clerk view password")
    listing = clerk.get("/admin/products")
    assert listing.status_code == 200 and "CLERK-VIEW" in listing.text and "New product" not in listing.text
    assert clerk.get("/admin/products/new").status_code == 403
    assert clerk.post("/admin/products", {**PRODUCT, "sku": "sneaky"}, htmx=True).status_code == 403
    pid = product_id(owner, "CLERK-VIEW")
    assert clerk.post(f"/admin/products/{pid}/on-sale", {"on_sale": "1"}, htmx=True).status_code == 403


def test_an_unknown_product_is_not_found(owner):
    assert owner.get("/admin/products/999999/edit").status_code == 404


def test_codes_imported_from_a_file_and_a_paste_reach_the_pool(owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "import-me"})
    pid = product_id(owner, "IMPORT-ME")
    lines = "卡号,密码\n" + "".join(f"IMP-{n:04d},P{n}\n" for n in range(300)) + "IMP-0001,dup\nBAD\x07,x\n"
    started = post_import(
        owner, pid, {"source": "Supplier A", "unit_cost": "8.5", "expires_on": "2099-12-31"}, ("codes.csv", lines)
    )
    assert started.status_code == 200 and 'hx-trigger="every 1s"' in started.text, started.text[:3000]
    import_id = re.search(r'id="import-(\d+)"', started.text).group(1)
    status = wait_for_import(owner, pid, import_id)
    assert "stock-changed" in status.headers.get("hx-trigger", "")
    assert re.search(r"Imported</dt><dd class=\"ok\">300<", status.text)
    assert "Line 303" in status.text
    pasted = post_import(owner, pid, {"source": "paste", "codes": "PASTED-1\nIMP-0002\n"})
    wait_for_import(owner, pid, re.search(r'id="import-(\d+)"', pasted.text).group(1))
    page = owner.get(f"/admin/products/{pid}").text
    assert re.search(r'<span class="stat-value">301</span><span class="stat-label">Available', page)
    assert "IMP-0001" not in page and "P1" not in re.sub(r"<[^>]+>", "", page).split()
    assert '<td class="num">301</td>' in owner.get("/admin/products?q=import-me").text, "the list shows stock"
    owner.post("/admin/products", {**PRODUCT, "sku": "nearly-out", "on_sale": "on"})
    dashboard = owner.get("/admin").text
    assert "On sale, fewer than 10 codes left" in dashboard and "NEARLY-OUT" in dashboard


def test_codes_never_reach_the_server_log(owner, app_server):
    owner.post("/admin/products", {**PRODUCT, "sku": "log-watch"})
    pid = product_id(owner, "LOG-WATCH")
    started = post_import(owner, pid, {"source": "x"}, ("codes.csv", "LOGSECRET-0001,LOGPIN-1\nBAD\x07LOGSECRET,x\n"))
    wait_for_import(owner, pid, re.search(r'id="import-(\d+)"', started.text).group(1))
    batch_id = re.search(rf"/admin/products/{pid}/batches/(\d+)", owner.get(f"/admin/products/{pid}").text).group(1)
    code = re.search(r'id="code-(\d+)"', owner.get(f"/admin/products/{pid}/batches/{batch_id}").text).group(1)
    owner.post(f"/admin/products/{pid}/codes/{code}/reveal", htmx=True)
    owner.post(f"/admin/products/{pid}/batches/{batch_id}/export", {"password": OWNER_PASSWORD, "format": "csv"})
    log = app_server.log.read_text()
    assert "LOGSECRET" not in log and "LOGPIN" not in log


def test_import_input_errors_are_shown_in_place(owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "import-bad"})
    pid = product_id(owner, "IMPORT-BAD")
    nothing = post_import(owner, pid, {"source": "x"})
    assert nothing.status_code == 422 and "Choose a file or paste codes." in nothing.text
    past = post_import(owner, pid, {"source": "x", "codes": "A", "expires_on": "2001-01-01"})
    assert past.status_code == 422 and 'data-field="expires_at"' in past.text
    wrong_type = post_import(owner, pid, {"source": "x"}, ("codes.pdf", "%PDF-1.7"))
    assert wrong_type.status_code == 422 and "Upload a .csv, .txt or .xlsx file." in wrong_type.text


def post_import(browser: Browser, pid: str, fields: dict[str, str], file: tuple[str, str] = ("", "")):
    """As the browser's form sends it: multipart, with an empty file part when no file was chosen."""
    name, content = file
    return browser.request(
        "POST",
        f"/admin/products/{pid}/imports",
        data=fields,
        files={"file": (name, content.encode(), "application/octet-stream")},
        headers={"HX-Request": "true", "x-csrftoken": browser.csrf},
    )


def wait_for_import(browser: Browser, pid: str, import_id: str):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = browser.get(f"/admin/products/{pid}/imports/{import_id}")
        if 'hx-trigger="every 1s"' not in status.text:
            return status
        time.sleep(0.2)
    raise AssertionError("the import did not finish")


def test_codes_are_masked_revealed_with_an_audit_frozen_voided_and_exported(owner, app_server):
    owner.post("/admin/products", {**PRODUCT, "sku": "ops-card"})
    pid = product_id(owner, "OPS-CARD")
    lines = "卡号,密码\nOPSC-0000-1111-AAAA,PIN-1\n=HYPERLINK(1),@pin\nOPSC-0000-3333-CCCC,PIN-3\n"
    started = post_import(owner, pid, {"source": "ops"}, ("codes.csv", lines))
    wait_for_import(owner, pid, re.search(r'id="import-(\d+)"', started.text).group(1))
    batch_id = re.search(rf"/admin/products/{pid}/batches/(\d+)", owner.get(f"/admin/products/{pid}").text).group(1)
    page = owner.get(f"/admin/products/{pid}/batches/{batch_id}").text
    assert "OPSC****AAAA" in page and "OPSC-0000-1111-AAAA" not in page and "PIN-1" not in page
    first, second, third = re.findall(r'id="code-(\d+)"', page)
    revealed = owner.post(f"/admin/products/{pid}/codes/{first}/reveal", htmx=True)
    assert "OPSC-0000-1111-AAAA" in revealed.text and "PIN-1" in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    assert "code.reveal" in owner.get("/admin/audit").text
    frozen = owner.post(f"/admin/products/{pid}/codes/{first}/freeze", htmx=True)
    assert "Frozen" in frozen.text and "OPSC-0000-1111-AAAA" not in frozen.text
    assert owner.post(f"/admin/products/{pid}/codes/{second}/void", htmx=True).status_code == 200
    assert owner.post(f"/admin/products/{pid}/codes/{third}/melt", htmx=True).status_code == 404
    wrong = owner.post(f"/admin/products/{pid}/batches/{batch_id}/export", {"password": "nope", "format": "csv"})
    assert wrong.status_code == 403
    exported = owner.post(
        f"/admin/products/{pid}/batches/{batch_id}/export", {"password": OWNER_PASSWORD, "format": "csv"}
    )
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    rows = exported.content.decode("utf-8-sig").splitlines()
    assert rows == ["card_number,pin", "OPSC-0000-1111-AAAA,PIN-1", "OPSC-0000-3333-CCCC,PIN-3"], (
        "voided codes stay out"
    )
    assert "codes.export" in owner.get("/admin/audit").text
    voided = owner.post(f"/admin/products/{pid}/batches/{batch_id}/void")
    assert (
        voided.status_code == 303 and "2 codes voided." in owner.get(f"/admin/products/{pid}/batches/{batch_id}").text
    )
    counts = owner.get(f"/admin/products/{pid}").text
    assert re.search(r'<span class="stat-value">3</span><span class="stat-label">Void', counts)


def test_exports_escape_formula_cells(owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "formula-card"})
    pid = product_id(owner, "FORMULA-CARD")
    started = post_import(owner, pid, {"source": "x"}, ("codes.csv", "=HYPERLINK(1),@pin\n+CMD,-1\n"))
    wait_for_import(owner, pid, re.search(r'id="import-(\d+)"', started.text).group(1))
    batch_id = re.search(rf"/admin/products/{pid}/batches/(\d+)", owner.get(f"/admin/products/{pid}").text).group(1)
    exported = owner.post(
        f"/admin/products/{pid}/batches/{batch_id}/export", {"password": OWNER_PASSWORD, "format": "csv"}
    )
    assert exported.content.decode("utf-8-sig").splitlines()[1:] == ["'=HYPERLINK(1),'@pin", "'+CMD,'-1"]
    workbook = owner.post(
        f"/admin/products/{pid}/batches/{batch_id}/export", {"password": OWNER_PASSWORD, "format": "xlsx"}
    )
    sheet = load_workbook(io.BytesIO(workbook.content), read_only=True).active
    assert list(sheet.iter_rows(values_only=True))[1] == ("'=HYPERLINK(1)", "'@pin")


def test_only_owners_export_and_clerks_cannot_reveal(app_server, owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "guarded-card"})
    pid = product_id(owner, "GUARDED-CARD")
    started = post_import(owner, pid, {"source": "x"}, ("codes.csv", "GUARD-0001\n"))
    wait_for_import(owner, pid, re.search(r'id="import-(\d+)"', started.text).group(1))
    page = owner.get(f"/admin/products/{pid}").text
    batch_id = re.search(rf"/admin/products/{pid}/batches/(\d+)", page).group(1)
    code = re.search(r'id="code-(\d+)"', owner.get(f"/admin/products/{pid}/batches/{batch_id}").text).group(1)
    app_server.add_staff("ops.guard", "operator", "operator guard password")
    app_server.add_staff("clerk.guard", "clerk", "clerk guard password")
    operator, clerk = Browser(app_server.url), Browser(app_server.url)
    operator.login("ops.guard", "operator guard password")
    clerk.login("clerk.guard", "clerk guard password")
    export = {"password": "operator guard password", "format": "csv"}
    assert operator.post(f"/admin/products/{pid}/batches/{batch_id}/export", export).status_code == 403
    assert operator.post(f"/admin/products/{pid}/codes/{code}/reveal", htmx=True).status_code == 200
    assert clerk.post(f"/admin/products/{pid}/codes/{code}/reveal", htmx=True).status_code == 403
    assert clerk.post(f"/admin/products/{pid}/codes/{code}/freeze", htmx=True).status_code == 403
    assert clerk.get(f"/admin/products/{pid}/batches/{batch_id}").status_code == 200


def test_voucher_codes_are_generated_in_the_background(owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "coffee", "delivery_kind": "voucher"})
    pid = product_id(owner, "COFFEE")
    assert "Generate voucher codes" in owner.get(f"/admin/products/{pid}").text
    bad = owner.post(
        f"/admin/products/{pid}/vouchers", {"count": "lots", "length": "12", "source": "generated"}, htmx=True
    )
    assert bad.status_code == 422 and 'data-field="count"' in bad.text
    started = owner.post(
        f"/admin/products/{pid}/vouchers", {"count": "250", "length": "9", "source": "generated"}, htmx=True
    )
    assert started.status_code == 200 and "250 vouchers × 9 characters" in started.text
    done = wait_for_import(owner, pid, re.search(r'id="import-(\d+)"', started.text).group(1))
    assert re.search(r"Imported</dt><dd class=\"ok\">250<", done.text)


def test_a_sold_or_void_code_cannot_be_frozen_and_the_page_says_why(owner):
    owner.post("/admin/products", {**PRODUCT, "sku": "final-card"})
    pid = product_id(owner, "FINAL-CARD")
    started = post_import(owner, pid, {"source": "x"}, ("codes.csv", "FINAL-0001\n"))
    wait_for_import(owner, pid, re.search(r'id="import-(\d+)"', started.text).group(1))
    batch_id = re.search(rf"/admin/products/{pid}/batches/(\d+)", owner.get(f"/admin/products/{pid}").text).group(1)
    code = re.search(r'id="code-(\d+)"', owner.get(f"/admin/products/{pid}/batches/{batch_id}").text).group(1)
    assert owner.post(f"/admin/products/{pid}/codes/{code}/void", htmx=True).status_code == 200
    refused = owner.post(f"/admin/products/{pid}/codes/{code}/freeze", htmx=True)
    assert refused.status_code == 409 and "A void code cannot become frozen." in refused.text
