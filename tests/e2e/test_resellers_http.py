"""The merchant's resellers over HTTP: create, top up, a statement equal to the ledger, roles respected."""

from __future__ import annotations

import csv
import io
import re

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD


def test_the_owner_creates_a_reseller_tops_it_up_and_reads_its_statement(app_server):
    owner = Browser(app_server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    refused = owner.post("/admin/resellers", {"name": "", "contact": "nobody"}, htmx=True)
    assert refused.status_code == 422 and 'data-field="contact"' in refused.text
    made = owner.post(
        "/admin/resellers", {"name": "Shop A", "contact": "a@example.com", "credit_limit": "50"}, htmx=True
    )
    page_url = made.headers["hx-redirect"]
    reseller_id = re.search(r"/admin/resellers/(\d+)", page_url).group(1)
    for amount, note in (("100", "bank 2611-1"), ("20.5", "bank 2611-2")):
        assert owner.post(f"{page_url}/top-ups", {"amount": amount, "note": note}, htmx=True).status_code == 200
    assert owner.post(f"{page_url}/top-ups", {"amount": "-1"}, htmx=True).status_code == 422
    page = owner.get(page_url).text
    assert 'id="balance" class="price">¥120.50' in page and "bank 2611-2" in page
    exported = owner.get(f"/admin/resellers/{reseller_id}/statement.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[1][1:] == ["opening", "", "", "", "0.00"] and rows[-1][1:] == ["closing", "", "", "", "120.50"]
    assert [r[4] for r in rows[2:-1]] == ["100.00", "20.50"]
    listed = owner.get("/admin/resellers").text
    assert "Shop A" in listed and "¥120.50" in listed


def test_clerks_do_not_see_resellers_and_support_cannot_top_up(app_server):
    app_server.add_staff("r-clerk", "clerk", "clerk's password!")
    app_server.add_staff("r-support", "support", "support's password!")
    clerk = Browser(app_server.url)
    clerk.login("r-clerk", "clerk's password!")
    assert clerk.get("/admin/resellers").status_code == 403
    support = Browser(app_server.url)
    support.login("r-support", "support's password!")
    assert support.get("/admin/resellers").status_code == 200
    assert support.post("/admin/resellers", {"name": "x", "contact": "x@example.com"}, htmx=True).status_code == 403
