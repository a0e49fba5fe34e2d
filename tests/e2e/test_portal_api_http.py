"""A reseller's Open API access in its portal, over HTTP: keys made (secrets shown once) and revoked, bad
allowlists refused in place, keys from the command line in the same list; the webhooks sent to its systems with
every attempt, sent again on request, and nobody else's in view. The README's signing example is run here too,
so it cannot drift from what the API checks."""

from __future__ import annotations

import html
import json
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.api import sign, signing_string
from tests.e2e.client import Browser
from tests.e2e.server import Server, running_app
from tests.e2e.test_portal_http import accept_invite, signed_in_owner

KEY_ID = re.compile(r"kq_[A-Za-z0-9]{16}")
SKU = "API-HOOK-CARD"
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """As the default, but callbacks may go to 127.0.0.1, where the test's receiver listens."""
    with running_app(tmp_path_factory.mktemp("app"), KAQUAN_ALLOW_PRIVATE_CALLBACKS="true") as server:
        yield server


def signed_in_reseller(server: Server, name: str, username: str) -> tuple[int, Browser]:
    """A reseller made on the command line with a login, its invite followed, signed in to its portal."""
    made = server.kaquan("--json", "reseller", "create", name, "--contact", f"{username}@example.com",
                         "--login", username)  # fmt: skip
    assert made.returncode == 0, made.stderr
    row = json.loads(made.stdout)
    return row["id"], accept_invite(server, row["invite"], username)


def create_key(browser: Browser, label: str = "", allowed_ips: str = "") -> dict[str, str]:
    """A key made in the portal: what the page shows this once."""
    made = browser.post("/portal/api/keys", {"label": label, "allowed_ips": allowed_ips}, htmx=True)
    assert made.status_code == 200, made.text
    shown = {name: re.search(rf'id="new-{name}" class="code" readonly value="([^"]+)"', made.text).group(1)
             for name in ("key-id", "secret", "webhook-secret")}  # fmt: skip
    assert 'hx-swap-oob="true"' in made.text and shown["key-id"] in made.text.split('id="api-keys"')[1]
    return {"page": made.text, **shown}


def key_row_id(page: str, key_id: str) -> int:
    """The row id of the listed key with this key id (what revoking it names)."""
    return int(re.search(rf'id="api-key-(\d+)"[^>]*>\s*<tr>\s*<td><code>{key_id}', page).group(1))


def key_rows(page: str) -> dict[str, str]:
    """The listed keys: key id → its row."""
    rows = re.findall(r'<tbody id="api-key-\d+" class="api-key">.*?</tbody>', page, re.S)
    return {KEY_ID.search(row).group(0): row for row in rows}


@pytest.fixture(scope="module")
def reseller(app_server: Server) -> tuple[int, Browser]:
    return signed_in_reseller(app_server, "API Traders", "api-traders")


def test_a_key_is_made_in_the_portal_and_its_secrets_are_shown_once(app_server, reseller):
    _, browser = reseller
    page = browser.get("/portal/api")
    assert page.status_code == 200 and 'href="/portal/api" aria-current="page"' in page.text
    assert f'<code id="api-url">{app_server.url}/api/v1</code>' in page.text

    made = create_key(browser, "ERP 系统", "203.0.113.7\n10.0.0.0/8, 198.51.100.0/24")
    assert made["secret"].startswith("sk_") and made["webhook-secret"].startswith("whsec_")
    assert "not shown again" in made["page"]
    assert made["page"].count('data-copy="#new-') == 3, "each one has its copy button"

    again = browser.get("/portal/api").text
    row = key_rows(again)[made["key-id"]]
    assert "ERP 系统" in row and "203.0.113.7/32" in row and "10.0.0.0/8" in row and "198.51.100.0/24" in row
    assert "Active" in row and "Never" in row, "not used yet"
    assert made["secret"] not in again and made["webhook-secret"] not in again, "the secrets are not shown again"

    owner = signed_in_owner(app_server)
    audit = owner.get("/admin/audit").text
    assert "api_key.create" in audit and made["key-id"] in audit
    assert made["secret"] not in audit and made["webhook-secret"] not in audit


def test_a_bad_key_form_is_refused_in_place_and_makes_nothing(reseller):
    _, browser = reseller
    before = key_rows(browser.get("/portal/api").text)
    for form, field, message in (
        ({"allowed_ips": "203.0.113.7\n10.0.0.0/33"}, "allowed_ips", "Enter IP addresses or networks"),
        ({"allowed_ips": "not-an-address"}, "allowed_ips", "Enter IP addresses or networks"),
        ({"allowed_ips": ",".join(f"203.0.113.{n}" for n in range(21))}, "allowed_ips", "At most 20 addresses"),
        ({"label": "x" * 65}, "label", "Too long"),
    ):
        refused = browser.post("/portal/api/keys", {"label": "", "allowed_ips": "", **form}, htmx=True)
        assert refused.status_code == 422, form
        assert f'data-field="{field}"' in refused.text and message in refused.text, refused.text
        assert "sk_" not in refused.text
    assert key_rows(browser.get("/portal/api").text) == before


def test_a_revoked_key_stays_listed_as_revoked(app_server, reseller):
    _, browser = reseller
    made = create_key(browser, "to revoke")
    key_db_id = key_row_id(made["page"], made["key-id"])
    page = browser.get("/portal/api").text
    assert "hx-confirm=" in key_rows(page)[made["key-id"]], "revoking asks first"

    revoked = browser.post(f"/portal/api/keys/{key_db_id}/revoke", htmx=True)
    assert revoked.status_code == 200
    assert "Revoked" in revoked.text and "/revoke" not in revoked.text, "no second revoke button"
    row = key_rows(browser.get("/portal/api").text)[made["key-id"]]
    assert "Revoked" in row and "Active" not in row
    assert browser.post(f"/portal/api/keys/{key_db_id}/revoke", htmx=True).status_code == 200, "revoked stays revoked"
    assert "api_key.revoke" in signed_in_owner(app_server).get("/admin/audit").text


def test_at_most_twenty_active_keys(app_server):
    _, browser = signed_in_reseller(app_server, "Many Keys", "many-keys")
    keys = [create_key(browser, f"key {n}")["key-id"] for n in range(20)]
    refused = browser.post("/portal/api/keys", {"label": "one more", "allowed_ips": ""}, htmx=True)
    assert refused.status_code == 422 and 'data-field="label"' in refused.text and "at most 20" in refused.text
    page = browser.get("/portal/api").text
    key_db_id = key_row_id(page, keys[0])
    assert browser.post(f"/portal/api/keys/{key_db_id}/revoke", htmx=True).status_code == 200
    create_key(browser, "in its place")


def test_keys_made_on_the_command_line_are_the_portals_keys(app_server, reseller):
    reseller_id, browser = reseller
    made = app_server.kaquan("--json", "apikey", "create", "--reseller", str(reseller_id), "--label", "from the CLI",
                             "--allow-ip", "192.0.2.1", "--allow-ip", "192.0.2.128/25")  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    row = key_rows(browser.get("/portal/api").text)[key["key_id"]]
    assert "from the CLI" in row and "192.0.2.1/32" in row and "192.0.2.128/25" in row
    revoked = app_server.kaquan("apikey", "revoke", "--reseller", str(reseller_id), key["key_id"])
    assert revoked.returncode == 0, revoked.stderr
    assert "Revoked" in key_rows(browser.get("/portal/api").text)[key["key_id"]]


def test_staff_have_no_api_keys_page(app_server):
    owner = signed_in_owner(app_server)
    assert owner.get("/portal/api").status_code == 403
    assert owner.post("/portal/api/keys", {"label": "x"}, htmx=True).status_code == 403


class Receiver:
    """A reseller's system listening on 127.0.0.1: keeps each callback (headers, body), answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 503
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/kaquan/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    listening = Receiver()
    yield listening
    listening.server.shutdown()


@pytest.fixture(scope="module")
def stocked(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A product with codes in the pool, for API orders."""
    made = app_server.kaquan("product", "create", SKU, "--name", "API 回调卡", "--face-value", "30", "--price", "19.80",
                             "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = tmp_path_factory.mktemp("codes") / "codes.csv"
    codes.write_text("".join(f"HOOK-CODE-{n:04d}-WXYZ,PIN{n}\n" for n in range(10)))
    loaded = app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr
    return SKU


def call_api(server: Server, key: dict[str, str], method: str, path: str, payload: Any = None) -> httpx.Response:
    """A request signed by the API's own rules (domain.api)."""
    body = json.dumps(payload).encode() if payload is not None else b""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    headers = {
        "Content-Type": "application/json",
        "X-Api-Key": key["key-id"],
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(key["secret"], signing_string(timestamp, nonce, method, path, body)),
    }
    return httpx.request(method, server.url + path, headers=headers, content=body, timeout=30)


def until(found: Callable[[], Any], what: str) -> Any:
    """Polls until `found` answers something truthy (the worker sends callbacks in the background)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if answer := found():
            return answer
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def page_with(browser: Browser, url: str, text: str) -> str:
    """The page once it shows `text`."""

    def shown() -> str:
        page = browser.get(url).text
        return page if text in page else ""

    return until(shown, f"{url} to show {text!r}")


def message_link(browser: Browser, number: str) -> str:
    """The webhook list's link to the message about this order."""
    listed = browser.get("/portal/api/webhooks").text
    row = re.search(rf'<tr id="webhook-\d+">(?:(?!</tr>).)*?{number}.*?</tr>', listed, re.S)
    assert row, f"order {number} has no webhook listed"
    return re.search(r'href="(/portal/api/webhooks/\d+)"', row.group(0)).group(1)


def readme_receiver(webhook_secret: str) -> tuple[Callable[[bytes, dict[str, str]], int], list[tuple[str, Any]]]:
    """The README's callback handler, with its secret, recording what it handles."""
    handled: list[tuple[str, Any]] = []
    example: dict[str, Any] = {"__name__": "readme", "seen_before": lambda _: False}
    example["handle"] = lambda kind, data: handled.append((kind, data))
    code = readme_block("python", "pip install standardwebhooks").replace('"whsec_…"', repr(webhook_secret))
    exec(code, example)  # noqa: S102 — our own README's example
    return example["on_callback"], handled


def test_webhooks_are_listed_with_their_attempts_and_sent_again_on_request(app_server, reseller, receiver, stocked):
    reseller_id, browser = reseller
    assert app_server.kaquan("reseller", "topup", str(reseller_id), "100", "--note", "e2e").returncode == 0
    key = create_key(browser, "callbacks")
    order = {"sku": stocked, "quantity": 1, "out_trade_no": "HOOK-1", "callback_url": receiver.url}
    placed = call_api(app_server, key, "POST", "/api/v1/orders", order)
    assert placed.status_code == 201, placed.text
    number = placed.json()["order_no"]

    headers, body = until(lambda: receiver.received[:1], "the first callback")[0]
    on_callback, handled = readme_receiver(key["webhook-secret"])  # verified as the README tells resellers to
    assert on_callback(body, headers) == 204 and on_callback(body.replace(b"delivered", b"refunded"), headers) == 400
    assert [(kind, data["order_no"], data["status"]) for kind, data in handled] == [
        ("order.delivered", number, "delivered")
    ]
    link = message_link(browser, number)
    page = page_with(browser, link, "HTTP 503")
    assert "Pending" in page and headers["webhook-id"] in page and f'"order_no": "{number}"' in html.unescape(page)
    listed = browser.get("/portal/api/webhooks").text
    assert "order.delivered" in listed and receiver.url in listed and f'href="/portal/orders/{number}"' in listed

    receiver.status = 200
    resent = browser.post(f"{link}/resend", htmx=True)
    assert resent.status_code == 200 and resent.headers["hx-redirect"] == link
    assert "queued to be sent again" in browser.get(link).text
    page = page_with(browser, link, "HTTP 200")
    assert re.search(r'id="webhook-status">\s*<span class="badge webhook-delivered">Delivered</span>', page)
    assert page.count('<tr class="attempt">') >= 2 and "HTTP 503" in page
    assert {h["webhook-id"] for h, _ in receiver.received} == {headers["webhook-id"]}, "one message, sent again"
    assert "webhook.resend" in signed_in_owner(app_server).get("/admin/audit").text

    _, stranger = signed_in_reseller(app_server, "Other Traders", "other-traders")
    assert stranger.get(link).status_code == 404
    assert stranger.post(f"{link}/resend", htmx=True).status_code == 404
    assert number not in stranger.get("/portal/api/webhooks").text


def readme_block(language: str, after: str) -> str:
    """The first ```language block of the README after the text `after`."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"```{language}\n", text.index(after)) + len(language) + 4
    return text[start : text.index("```", start)]


def test_the_readmes_signing_example_signs_as_the_api_checks():
    example: dict[str, Any] = {"__name__": "readme"}
    exec(readme_block("python", "## Open API v1"), example)  # noqa: S102 — our own README's example
    body = b'{"sku":"IQIYI-VIP-M","quantity":1,"out_trade_no":"R-10001"}'
    line = ("1761984000", "4f1c2a9e7b3d5a60", "POST", "/api/v1/orders")
    assert readme_block("text", "## Open API v1").encode() == signing_string(*line, body) + b"\n"
    expected = sign("sk_example", signing_string(*line, body))
    assert example["signature"]("sk_example", *line, body) == expected
    assert f"its `X-Signature` is\n`{expected}`" in README.read_text(encoding="utf-8")
    for method, path, content in (("GET", "/api/v1/orders?out_trade_no=R-1%2F2", b""), ("post", "/api/v1/x", b"{}")):
        args = ("sk_" + secrets.token_urlsafe(32), str(int(time.time())), secrets.token_hex(16), method, path, content)
        assert example["signature"](*args) == sign(args[0], signing_string(*args[1:]))


def test_the_readmes_examples_work_against_the_api(app_server, reseller, stocked):
    reseller_id, browser = reseller
    assert app_server.kaquan("reseller", "topup", str(reseller_id), "100", "--note", "readme").returncode == 0
    key = create_key(browser, "README")
    example: dict[str, Any] = {"__name__": "readme"}
    exec(readme_block("python", "## Open API v1"), example)  # noqa: S102 — our own README's example
    example.update(BASE_URL=app_server.url, KEY_ID=key["key-id"], SECRET=key["secret"])
    status, balance = example["call"]("GET", "/api/v1/balance")
    assert status == 200 and balance["currency"] == "CNY", balance
    status, made = example["call"]("POST", "/api/v1/orders", {"sku": stocked, "out_trade_no": "README-PY"})
    assert (status, made["status"], len(made["codes"])) == (201, "delivered", 1), made
    status, refused = example["call"](
        "POST", "/api/v1/orders", {"sku": stocked, "out_trade_no": "README-PY", "quantity": 2}
    )
    assert (status, refused["error"]["code"]) == (409, "duplicate_out_trade_no")

    if not (shutil.which("openssl") and shutil.which("curl")):
        pytest.skip("the curl + openssl example needs both")
    script = readme_block("sh", "With curl and openssl").replace("IQIYI-VIP-M", stocked).splitlines()
    assert script[0].startswith("URL=https://shop.example.com KEY_ID=kq_… SECRET=sk_…")
    script[0] = f"URL={app_server.url} KEY_ID={key['key-id']} SECRET={key['secret']}"
    for attempt in ("made", "the same again"):
        ran = subprocess.run(["bash", "-c", "\n".join(script)], capture_output=True, text=True, timeout=60, check=False)
        assert ran.returncode == 0, ran.stderr
        answer = json.loads(ran.stdout)
        assert answer.get("out_trade_no") == "R-10002" and answer["status"] == "delivered", (attempt, answer)
