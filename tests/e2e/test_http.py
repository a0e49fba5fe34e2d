"""The running app over HTTP: sign-in, sessions, CSRF, roles, staff management, errors, health."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server


@pytest.fixture
def owner(app_server: Server) -> Browser:
    browser = Browser(app_server.url)
    assert browser.login("owner", OWNER_PASSWORD).status_code == 303
    return browser


def test_the_login_page_is_served_and_the_admin_needs_a_session(app_server):
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    page = browser.get("/login")
    assert page.status_code == 200 and "Merchant sign-in" in page.text
    assert page.headers["x-frame-options"] == "DENY" and "script-src 'self'" in page.headers["content-security-policy"]
    assert browser.session is None, "an anonymous visit must not create a stored session"
    admin = browser.get("/admin/staff?tab=1")
    assert admin.status_code == 303 and admin.headers["location"] == "/login?next=/admin/staff%3Ftab%3D1"


def test_signing_in_issues_a_fresh_session_id(app_server):
    browser = Browser(app_server.url)
    browser.http.cookies.set("kaquan_session", "a" * 64, domain="127.0.0.1")  # planted before login
    response = browser.login("owner", OWNER_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    assert browser.session not in (None, "a" * 64)
    assert "Owner" in browser.get("/admin").text


def test_a_wrong_password_shows_an_error_and_starts_no_session(app_server):
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    response = browser.login("owner", "not the password", htmx=True)
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert browser.session is None
    assert browser.get("/admin").status_code == 303


def test_htmx_login_redirects_with_a_header(app_server):
    browser = Browser(app_server.url)
    response = browser.login("owner", OWNER_PASSWORD, htmx=True)
    assert response.status_code == 200 and response.headers["hx-redirect"] == "/admin"


def test_state_changing_requests_need_the_csrf_token(app_server):
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    browser.get("/login")
    response = browser.http.post("/login", data={"username": "owner", "password": OWNER_PASSWORD})
    assert response.status_code == 403 and "expired" in response.text
    assert browser.session is None


def test_logout_ends_the_session_on_the_server(owner):
    stolen = owner.session
    assert owner.post("/logout").headers["location"] == "/login"
    replay = httpx.get(f"{owner.http.base_url}/admin", cookies={"kaquan_session": stolen})
    assert replay.status_code == 303


def test_staff_pages_are_for_owners_only(app_server):
    app_server.add_staff("ops1", "operator", "operator's password")
    operator = Browser(app_server.url, **{"Accept-Language": "en"})
    assert operator.login("ops1", "operator's password").status_code == 303
    assert operator.get("/admin").status_code == 200
    forbidden = operator.get("/admin/staff")
    assert forbidden.status_code == 403 and "do not have access" in forbidden.text
    assert operator.post("/admin/staff", {"username": "x", "role": "owner"}, htmx=True).status_code == 403
    assert operator.get("/admin/audit").status_code == 403


def test_an_invited_member_sets_a_password_and_signs_in(owner, app_server):
    row = owner.post("/admin/staff", {"username": "Sara", "display_name": "Sara", "role": "support"}, htmx=True)
    assert row.status_code == 200 and 'id="staff-' in row.text
    invite_url = re.search(r'value="(http://[^"]+/invite/[^"]+)"', row.text).group(1)
    invitee = Browser(app_server.url, **{"Accept-Language": "en"})
    page = invitee.get(invite_url.removeprefix(app_server.url))
    assert page.status_code == 200 and "sara" in page.text
    path = invite_url.removeprefix(app_server.url)
    mismatch = invitee.post(path, {"password": "sara's password", "password_again": "different!!"}, htmx=True)
    assert mismatch.status_code == 422 and 'data-field="password_again"' in mismatch.text
    accepted = invitee.post(path, {"password": "sara's password", "password_again": "sara's password"})
    assert accepted.status_code == 303
    assert "Your password is set" in invitee.get("/login").text
    assert invitee.get(path).status_code == 404, "an invite link works once"
    assert invitee.login("sara", "sara's password").status_code == 303


def test_invite_validation_errors_name_the_field(owner):
    response = owner.post("/admin/staff", {"username": "x", "role": "support"}, htmx=True)
    assert response.status_code == 422 and 'data-field="username"' in response.text
    taken = owner.post("/admin/staff", {"username": "owner", "role": "support"}, htmx=True)
    assert taken.status_code == 422 and 'data-field="username"' in taken.text


def test_disabling_a_member_ends_their_session_at_once(owner, app_server):
    app_server.add_staff("clerk1", "clerk", "clerk one password")
    clerk = Browser(app_server.url)
    clerk.login("clerk1", "clerk one password")
    assert clerk.get("/admin").status_code == 200
    staff_id = re.search(r'id="staff-(\d+)"[^>]*>\s*<tr>\s*<td><code>clerk1<', owner.get("/admin/staff").text).group(1)
    assert owner.post(f"/admin/staff/{staff_id}/disable", htmx=True).status_code == 200
    assert clerk.get("/admin").status_code == 303
    assert clerk.login("clerk1", "clerk one password").status_code == 401


def test_the_last_owner_cannot_be_demoted(owner):
    page = owner.get("/admin/staff").text
    own_id = re.search(r'id="staff-(\d+)"[^>]*>\s*<tr>\s*<td><code>owner<', page).group(1)
    response = owner.post(f"/admin/staff/{own_id}/role", {"role": "clerk"}, htmx=True)
    assert response.status_code == 409


def test_failed_logins_are_throttled_with_a_clear_message(app_server):
    app_server.add_staff("victim", "clerk", "victim's password")
    attacker = Browser(app_server.url, **{"Accept-Language": "en"})
    codes = [attacker.login("victim", f"guess {n}", htmx=True).status_code for n in range(5)]
    assert codes == [401] * 5
    throttled = attacker.login("victim", "victim's password", htmx=True)
    assert throttled.status_code == 429 and "Try again in" in throttled.text
    assert int(throttled.headers["retry-after"]) > 0


def test_the_audit_log_records_sign_ins_and_staff_changes(owner):
    owner.post("/admin/staff", {"username": "audited", "role": "clerk"}, htmx=True)
    page = owner.get("/admin/audit").text
    assert "staff.login" in page and "staff.invite" in page and "127.0.0.1" in page


def test_language_follows_accept_language_and_the_switch(app_server):
    browser = Browser(app_server.url, **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "商户登录" in browser.get("/login").text
    browser.post("/locale", {"locale": "en", "next": "/login"})
    assert "Merchant sign-in" in browser.get("/login").text


def test_error_pages_leak_no_internals(app_server):
    missing = httpx.get(f"{app_server.url}/no/such/page", headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and "does not exist" in missing.text
    assert "Traceback" not in missing.text and "litestar" not in missing.text.lower()
    assert missing.headers["x-request-id"]


def test_health_and_readiness(app_server):
    assert httpx.get(f"{app_server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{app_server.url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}


def test_logs_are_structured_with_request_ids_and_free_of_passwords(app_server):
    response = httpx.get(f"{app_server.url}/healthz", headers={"X-Request-ID": "trace-me-123456"})
    assert response.headers["x-request-id"] == "trace-me-123456"
    lines = [json.loads(line) for line in app_server.log.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "trace-me-123456" and line.get("path") == "/healthz" for line in lines)
    assert OWNER_PASSWORD not in app_server.log.read_text()


def test_a_signed_in_members_language_choice_follows_them_to_a_new_session(app_server):
    app_server.add_staff("polyglot", "support", "polyglot password")
    first = Browser(app_server.url, **{"Accept-Language": "en"})
    first.login("polyglot", "polyglot password")
    first.post("/locale", {"locale": "zh-CN", "next": "/admin"})
    elsewhere = Browser(app_server.url, **{"Accept-Language": "en"})
    elsewhere.login("polyglot", "polyglot password")
    assert "概览" in elsewhere.get("/admin").text, "the setting, not the browser's language, wins once signed in"
