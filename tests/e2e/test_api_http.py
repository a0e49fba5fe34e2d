"""The Open API v1 over real HTTP, as a reseller's system uses it: requests signed by this file's own code from
DESIGN.md §4 (not the app's), orders delivered in the answer, idempotent retries, racing duplicates charged once,
every refusal with its status and code, the rate limit, and the schema and docs page that describe it all."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server, running_app
from tests.e2e.test_portal_http import signed_in_owner
from tests.services import unavailable

SKU, LAST, TOPUP, RISKY = "E2E-API", "E2E-API-LAST", "E2E-API-TOPUP", "E2E-API-RISKY"
OPERATIONS = {
    ("get", "/api/v1/products"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders/{order_no}"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/balance"),
}


@dataclass(frozen=True)
class Key:
    key_id: str
    secret: str


class Api:
    """A reseller's system calling the API: every request signed the way the design says, unless told to get
    a part of it wrong."""

    def __init__(self, url: str, key: Key, **headers: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30, headers={"Accept-Language": "en", **headers})
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content: bytes | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
        signed_path: str | None = None,
        signed_body: bytes | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = content if content is not None else (b"" if body is None else json.dumps(body).encode())
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(12)
        digest = hashlib.sha256(sent if signed_body is None else signed_body).hexdigest()
        text = "\n".join([stamp, nonce, method.upper(), signed_path or path, digest])
        signature = hmac.new((secret or self.key.secret).encode(), text.encode(), hashlib.sha256).hexdigest()
        auth = {"X-Api-Key": self.key.key_id, "X-Timestamp": stamp, "X-Nonce": nonce, "X-Signature": signature}
        return self.http.request(
            method, path, content=sent, headers={"Content-Type": "application/json", **auth, **(headers or {})}
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, body, **kwargs)

    def balance(self) -> dict[str, str]:
        answer = self.get("/api/v1/balance")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def available(self, sku: str) -> int | None:
        answer = self.get("/api/v1/products")
        assert answer.status_code == 200, answer.text
        return next(p["available"] for p in answer.json()["products"] if p["sku"] == sku)


def error_of(answer: httpx.Response) -> str:
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    body = answer.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]["code"]


def new_key(server: Server, reseller_id: int, *allowed_ips: str) -> Key:
    made = server.kaquan(
        "--json", "apikey", "create", "--reseller", str(reseller_id), "--label", "e2e",
        *[part for ip in allowed_ips for part in ("--allow-ip", ip)],
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    row = json.loads(made.stdout)
    return Key(row["key_id"], row["secret"])


def new_reseller(server: Server, name: str, *, top_up: str = "", credit_limit: str = "0") -> int:
    made = server.kaquan(
        "--json", "reseller", "create", name, "--contact", f"{name.lower()}@example.com", "--credit-limit", credit_limit
    )
    assert made.returncode == 0, made.stderr
    reseller_id = int(json.loads(made.stdout)["id"])
    if top_up:
        assert server.kaquan("reseller", "topup", str(reseller_id), top_up, "--note", "e2e").returncode == 0
    return reseller_id


def stock_product(server: Server, sku: str, codes: int, tmp: Any, *, kind: str = "code", price: str = "19.80") -> None:
    made = server.kaquan(
        "product", "create", sku, "--name", f"{sku} 卡", "--face-value", "30", "--price", price, "--kind", kind,
        "--on-sale",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    if codes:
        path = tmp / f"{sku}.csv"
        path.write_text("".join(f"{sku}-CODE-{n:04d},PIN{n:04d}\n" for n in range(codes)))
        loaded = server.kaquan("codes", "import", str(path), "--product", sku, "--source", "e2e")
        assert loaded.returncode == 0, loaded.stderr


@dataclass
class World:
    server: Server
    a_id: int
    a: Api  # 200.00 in its wallet
    b_id: int
    b: Api  # nothing in its wallet, 10.00 of credit


@pytest.fixture(scope="module")
def world(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("api")
    stock_product(app_server, SKU, 40, tmp)
    stock_product(app_server, LAST, 1, tmp)
    stock_product(app_server, TOPUP, 0, tmp, kind="topup", price="10.00")
    a_id = new_reseller(app_server, "ApiA", top_up="200")
    b_id = new_reseller(app_server, "ApiB", credit_limit="10")
    a = Api(app_server.url, new_key(app_server, a_id))
    b = Api(app_server.url, new_key(app_server, b_id))
    return World(app_server, a_id, a, b_id, b)


def order(out_trade_no: str, quantity: int = 1, sku: str = SKU, **more: Any) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "out_trade_no": out_trade_no, **more}


def test_the_catalog_shows_the_callers_prices_and_stock_and_the_balance_its_wallet(world):
    listed = world.a.get("/api/v1/products")
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    products = {p["sku"]: p for p in listed.json()["products"]}
    assert products[SKU] | {"available": None} == {
        "sku": SKU,
        "name": f"{SKU} 卡",
        "brand": "",
        "category": "",
        "delivery": "code",
        "face_value": "30.00",
        "price": "19.80",
        "currency": "CNY",
        "stock": "in_stock",
        "available": None,
        "usage_instructions": "",
    }
    assert products[SKU]["available"] > 0
    assert (products[TOPUP]["delivery"], products[TOPUP]["stock"], products[TOPUP]["available"]) == (
        "topup", "in_stock", None,
    )  # fmt: skip
    assert world.b.balance() == {"balance": "0.00", "credit_limit": "10.00", "available": "10.00", "currency": "CNY"}


def test_an_order_of_codes_is_delivered_in_the_answer_and_found_again_both_ways(world):
    before = world.a.balance()["balance"]
    placed = world.a.post("/api/v1/orders", order("R-DELIVER", 2, callback_url=""))
    assert placed.status_code == 201, placed.text
    made = placed.json()
    assert placed.headers["location"] == f"/api/v1/orders/{made['order_no']}"
    assert {k: made[k] for k in ("out_trade_no", "status", "sku", "quantity", "delivered_units")} == {
        "out_trade_no": "R-DELIVER", "status": "delivered", "sku": SKU, "quantity": 2, "delivered_units": 2,
    }  # fmt: skip
    assert (made["unit_price"], made["total"], made["currency"]) == ("19.80", "39.60", "CNY")
    assert made["created_at"] and made["paid_at"]
    assert len(made["codes"]) == 2
    for code in made["codes"]:
        assert code["number"].startswith(f"{SKU}-CODE-") and code["pin"].startswith("PIN")
        assert code["redeem_url"].startswith(f"{world.server.url}/r/")
        link = httpx.get(code["redeem_url"], timeout=10)
        assert link.status_code == 200
    assert float(before) - float(world.a.balance()["balance"]) == pytest.approx(39.60)

    by_number = world.a.get(f"/api/v1/orders/{made['order_no']}")
    by_own_id = world.a.get("/api/v1/orders?out_trade_no=R-DELIVER")
    assert by_number.status_code == by_own_id.status_code == 200
    assert by_number.json() == by_own_id.json() == made


def test_a_top_up_is_processing_until_the_merchant_completes_it(world):
    placed = world.a.post("/api/v1/orders", order("R-TOPUP", sku=TOPUP, recharge_account="13800138000"))
    assert placed.status_code == 201, placed.text
    assert (placed.json()["status"], placed.json()["codes"], placed.json()["total"]) == ("processing", [], "10.00")


def test_the_same_request_again_is_the_same_order_and_another_under_its_id_is_a_conflict(world):
    first = world.a.post("/api/v1/orders", order("R-AGAIN"))
    assert first.status_code == 201, first.text
    balance = world.a.balance()["balance"]
    again = world.a.post("/api/v1/orders", order("R-AGAIN"))
    assert again.status_code == 200 and again.json() == first.json()
    assert "location" not in again.headers
    for changed in (order("R-AGAIN", 2), order("R-AGAIN", sku=LAST), order("R-AGAIN", recharge_account="x")):
        refused = world.a.post("/api/v1/orders", changed)
        assert (refused.status_code, error_of(refused)) == (409, "duplicate_out_trade_no")
    assert world.a.balance()["balance"] == balance, "charged once"


def test_racing_duplicates_make_one_order_and_charge_the_wallet_once(world):
    balance, available = float(world.a.balance()["balance"]), world.a.available(SKU)
    racers = 20
    start = threading.Barrier(racers)
    answers: list[httpx.Response] = []

    def race() -> None:
        api = Api(world.server.url, world.a.key)  # a connection of its own
        start.wait()
        answers.append(api.post("/api/v1/orders", order("R-RACE")))

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200] * (racers - 1) + [201], [a.text for a in answers]
    assert len({a.json()["order_no"] for a in answers}) == 1
    assert float(world.a.balance()["balance"]) == pytest.approx(balance - 19.80)
    assert world.a.available(SKU) == available - 1
    final = world.a.get("/api/v1/orders?out_trade_no=R-RACE").json()
    assert (final["status"], len(final["codes"])) == ("delivered", 1)


def test_refused_signatures_say_why_with_401(world):
    api, good = world.a, order("R-NEVER")
    cases = {
        "invalid_signature": api.post("/api/v1/orders", good, secret="sk_not-the-secret"),
        "stale_timestamp": api.post("/api/v1/orders", good, timestamp=int(time.time()) - 301 - 30),
        "invalid_timestamp": api.get("/api/v1/balance", headers={"X-Timestamp": "yesterday"}),
        "missing_credentials": httpx.get(f"{world.server.url}/api/v1/balance"),
        "invalid_api_key": Api(world.server.url, Key("kq_" + "A" * 16, "sk_x")).get("/api/v1/balance"),
    }
    # The signature covers the body and the path with its query as sent.
    cases["invalid_signature (body)"] = api.post("/api/v1/orders", good, signed_body=b'{"sku": "other"}')
    cases["invalid_signature (query)"] = api.get("/api/v1/orders?out_trade_no=R-DELIVER", signed_path="/api/v1/orders")
    for expected, answer in cases.items():
        assert (answer.status_code, error_of(answer)) == (401, expected.split(" ")[0]), expected
    nonce = secrets.token_hex(8)
    assert api.get("/api/v1/balance", nonce=nonce).status_code == 200
    reused = api.get("/api/v1/balance", nonce=nonce)
    assert (reused.status_code, error_of(reused)) == (401, "nonce_reused")
    assert api.get("/api/v1/orders?out_trade_no=R-NEVER").status_code == 404, "nothing was placed"


def test_the_query_is_signed_exactly_as_sent(world):
    placed = world.a.post("/api/v1/orders", order("R:COLON"))
    assert placed.status_code == 201, placed.text
    found = world.a.get("/api/v1/orders?out_trade_no=R%3ACOLON")  # signed as sent: percent-encoded
    assert found.status_code == 200 and found.json()["order_no"] == placed.json()["order_no"]
    decoded = world.a.get("/api/v1/orders?out_trade_no=R%3ACOLON", signed_path="/api/v1/orders?out_trade_no=R:COLON")
    assert (decoded.status_code, error_of(decoded)) == (401, "invalid_signature")


def test_a_revoked_key_and_a_disabled_reseller_stop_working(world, app_server):
    reseller_id = new_reseller(app_server, "ApiGone", top_up="20")
    key = new_key(app_server, reseller_id)
    api = Api(app_server.url, key)
    assert api.get("/api/v1/balance").status_code == 200
    other = Api(app_server.url, new_key(app_server, reseller_id))
    revoked = app_server.kaquan("apikey", "revoke", "--reseller", str(reseller_id), key.key_id)
    assert revoked.returncode == 0, revoked.stderr
    refused = api.get("/api/v1/balance")
    assert (refused.status_code, error_of(refused)) == (401, "revoked_api_key")

    owner = signed_in_owner(app_server)
    terms = {"status": "disabled", "credit_limit": "0", "tier_id": "", "markup": "0"}
    assert owner.post(f"/admin/resellers/{reseller_id}/terms", terms, htmx=True).status_code == 200
    disabled = other.get("/api/v1/balance")
    assert (disabled.status_code, error_of(disabled)) == (403, "reseller_disabled")


def test_a_key_with_an_allowlist_works_only_from_there(world, app_server):
    key = new_key(app_server, world.a_id, "203.0.113.0/24")
    inside = Api(app_server.url, key, **{"X-Forwarded-For": "203.0.113.9"})  # the test runs as a trusted proxy
    outside = Api(app_server.url, key, **{"X-Forwarded-For": "198.51.100.9"})
    assert inside.get("/api/v1/balance").status_code == 200
    refused = outside.get("/api/v1/balance")
    assert (refused.status_code, error_of(refused)) == (403, "ip_not_allowed")


def test_a_bad_order_gets_every_field_problem_at_once_and_changes_nothing(world):
    balance, available = world.a.balance(), world.a.available(SKU)
    cases = [
        (
            {"quantity": 0, "out_trade_no": "has spaces", "colour": "red"},
            {"sku": "required", "quantity": "must_be_positive", "out_trade_no": "invalid_out_trade_no",
             "colour": "unknown_field"},
        ),
        (order("R-BAD", 11), {"quantity": "too_many"}),
        (order("R-BAD", "2"), {"quantity": "invalid_quantity"}),
        (order("R-BAD", callback_url="ftp://example.com/x"), {"callback_url": "invalid_url"}),
        (order("R-BAD", sku="NO-SUCH-SKU"), {"sku": "unknown_sku"}),
        (order("R-BAD", sku=TOPUP), {"recharge_account": "required"}),
        ([order("R-BAD")], {"body": "json_object_required"}),
    ]  # fmt: skip
    for body, fields in cases:
        refused = world.a.post("/api/v1/orders", body)
        assert (refused.status_code, error_of(refused)) == (422, "validation_error"), body
        assert refused.json()["error"]["fields"] == fields
    not_json = world.a.call("POST", "/api/v1/orders", content=b'{"sku": ')
    assert (not_json.status_code, not_json.json()["error"]["fields"]) == (422, {"body": "invalid_json"})
    no_id = world.a.get("/api/v1/orders")
    assert (no_id.status_code, no_id.json()["error"]["fields"]) == (422, {"out_trade_no": "required"})
    assert world.a.balance() == balance and world.a.available(SKU) == available
    assert world.a.get("/api/v1/orders?out_trade_no=R-BAD").status_code == 404


def test_what_the_wallet_or_the_stock_cannot_cover_is_refused_and_changes_nothing(world):
    short = world.b.post("/api/v1/orders", order("B-SHORT"))  # 19.80 against 0.00 with 10.00 of credit
    assert (short.status_code, error_of(short)) == (402, "insufficient_balance")
    assert world.b.balance()["balance"] == "0.00"
    available, balance = world.a.available(LAST), world.a.balance()
    too_few = world.a.post("/api/v1/orders", order("R-LAST", 2, sku=LAST))
    assert (too_few.status_code, error_of(too_few)) == (409, "out_of_stock")
    assert (world.a.available(LAST), world.a.balance()) == (available, balance)


def test_another_resellers_order_is_not_found(world):
    placed = world.a.post("/api/v1/orders", order("R-MINE"))
    assert placed.status_code == 201, placed.text
    for answer in (
        world.b.get(f"/api/v1/orders/{placed.json()['order_no']}"),
        world.b.get("/api/v1/orders?out_trade_no=R-MINE"),
        world.a.get("/api/v1/orders/2601010000000000"),
    ):
        assert (answer.status_code, error_of(answer)) == (404, "not_found")
    # B may use the same out_trade_no: it is unique per reseller.
    assert world.b.post("/api/v1/orders", order("R-MINE", sku=TOPUP, recharge_account="b")).status_code == 201


def test_litestars_own_refusals_come_in_the_apis_format(world):
    unsigned = httpx.Client(base_url=world.server.url, headers={"Accept-Language": "en"})
    for method, path, status, code in (
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("GET", "/api/v1", 404, "not_found"),
        ("DELETE", "/api/v1/balance", 405, "method_not_allowed"),
    ):
        answer = unsigned.request(method, path)
        assert (answer.status_code, error_of(answer)) == (status, code), path
    huge = world.a.post("/api/v1/orders", order("R-HUGE", recharge_account="x" * 70_000))
    assert (huge.status_code, error_of(huge)) == (413, "body_too_large")
    english = unsigned.get("/api/v1/balance").json()["error"]
    chinese = unsigned.get("/api/v1/balance", headers={"Accept-Language": "zh-CN"}).json()["error"]
    assert english["code"] == chinese["code"] == "missing_credentials" and english["message"] != chinese["message"]


def test_no_staff_session_or_csrf_token_is_needed_and_none_helps(world, app_server):
    owner = signed_in_owner(app_server)
    with_session = owner.request("GET", "/api/v1/balance")  # the owner's cookies, no signature
    assert (with_session.status_code, error_of(with_session)) == (401, "missing_credentials")
    for answer in (world.a.get("/api/v1/balance"), world.a.post("/api/v1/orders", order("R-NOCOOKIE"))):
        assert answer.status_code in (200, 201) and "set-cookie" not in answer.headers


def test_the_schema_describes_the_five_operations_and_nothing_else(world):
    schema = httpx.get(f"{world.server.url}/api/schema/openapi.json").json()
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert operations == OPERATIONS
    schemes = schema["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"X-Api-Key", "X-Timestamp", "X-Nonce", "X-Signature"}
    assert all(s["in"] == "header" for s in schemes.values())
    place = schema["paths"]["/api/v1/orders"]["post"]
    assert {"200", "201", "401", "402", "403", "409", "422", "429"} <= set(place["responses"])
    assert place["security"] == [{name: [] for name in schemes}]
    body = place["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == {"sku", "quantity", "out_trade_no", "recharge_account", "callback_url"}
    assert body["examples"]
    conflict = place["responses"]["409"]["content"]["application/json"]
    assert conflict["schema"] == {"$ref": "#/components/schemas/Error"}
    codes = {e["value"]["error"]["code"] for e in conflict["examples"].values()}
    assert codes == {"duplicate_out_trade_no", "out_of_stock"}
    order_schema = schema["components"]["schemas"]["Order"]
    assert {"order_no", "out_trade_no", "status", "codes", "unit_price", "total"} <= set(order_schema["properties"])
    assert set(schema["components"]["schemas"]["Status"]["enum"]) == {
        "processing", "review", "delivered", "partially_delivered", "failed", "refunded",
    }  # fmt: skip
    refused = place["responses"]["403"]["content"]["application/json"]["examples"].values()
    assert {e["value"]["error"]["code"] for e in refused} == {
        "ip_not_allowed", "reseller_disabled", "risk_blocked", "review",
    }  # fmt: skip
    assert all("order_no" in e["value"]["error"] for e in refused if e["value"]["error"]["code"] == "review")


def test_risk_rules_hold_an_order_uncharged_as_review_or_refuse_it_with_403(world, app_server, tmp_path):
    """The merchant's rules, set in the admin: API orders of one product wait for review; one recharge account is
    on the block list."""
    stock_product(app_server, RISKY, 2, tmp_path)
    owner = signed_in_owner(app_server)
    rule = {"name": "API review", "reason": "new line", "action": "review", "channels": "api", "sku": RISKY,
            "type": "order_cap", "measure": "units", "limit": "0"}  # fmt: skip
    assert owner.post("/admin/risk/rules", rule, htmx=True).headers.get("hx-redirect") == "/admin/risk"
    entry = {"list": "block", "kind": "recharge_account", "value": "13900000000", "note": "chargebacks"}
    assert owner.post("/admin/risk/lists", entry, htmx=True).status_code == 200
    balance = world.a.balance()["balance"]

    held = world.a.post("/api/v1/orders", order("R-RISK-HELD", sku=RISKY))
    assert (held.status_code, error_of(held)) == (403, "review")
    order_no = held.json()["error"]["order_no"]
    assert order_no in held.json()["error"]["message"]
    again = world.a.post("/api/v1/orders", order("R-RISK-HELD", sku=RISKY))
    assert (again.status_code, error_of(again), again.json()["error"]["order_no"]) == (403, "review", order_no)
    by_own_id = world.a.get("/api/v1/orders?out_trade_no=R-RISK-HELD")
    assert by_own_id.status_code == 200 and by_own_id.json() == world.a.get(f"/api/v1/orders/{order_no}").json()
    assert (by_own_id.json()["status"], by_own_id.json()["codes"], by_own_id.json()["paid_at"]) == ("review", [], None)

    blocked = world.a.post("/api/v1/orders", order("R-RISK-BLOCKED", sku=TOPUP, recharge_account="13900000000"))
    assert (blocked.status_code, error_of(blocked)) == (403, "risk_blocked")
    assert "order_no" not in blocked.json()["error"]
    assert world.a.get("/api/v1/orders?out_trade_no=R-RISK-BLOCKED").status_code == 404, "nothing was made"
    assert world.a.balance()["balance"] == balance, "nothing charged"

    listed = owner.get(f"/admin/orders?number={order_no}").text
    order_id = re.search(r'href="/admin/orders/(\d+)"', listed).group(1)
    assert owner.post(f"/admin/reviews/{order_id}/approve", htmx=True).status_code == 200
    deadline = time.monotonic() + 30
    while (status := world.a.get(f"/api/v1/orders/{order_no}").json()["status"]) != "delivered":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert float(balance) - float(world.a.balance()["balance"]) == pytest.approx(19.80), "charged once approved"
    done = world.a.post("/api/v1/orders", order("R-RISK-HELD", sku=RISKY))
    assert done.status_code == 200 and done.json()["order_no"] == order_no


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An app allowing 3 requests a minute per key."""
    with running_app(tmp_path_factory.mktemp("limited"), KAQUAN_API_RATE_PER_MINUTE="3") as server:
        yield server


def test_a_key_over_its_rate_gets_429_with_retry_after_and_strangers_cannot_spend_it(limited):
    api = Api(limited.url, new_key(limited, new_reseller(limited, "Busy")))
    for _ in range(5):  # the key id is no secret; unsigned tries do not count against the key
        assert api.get("/api/v1/balance", secret="sk_guess").status_code == 401
    assert [api.get("/api/v1/balance").status_code for _ in range(3)] == [200, 200, 200]
    limited_answer = api.get("/api/v1/balance")
    assert (limited_answer.status_code, error_of(limited_answer)) == (429, "rate_limited")
    assert 1 <= int(limited_answer.headers["retry-after"]) <= 61


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = os.environ.get("KAQUAN_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        unavailable(f"browser test skipped: no Chromium at {executable} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--headless", "--no-sandbox"])
        yield launched
        launched.close()


def test_the_docs_page_works_under_the_csp_and_signs_try_it_out_requests(world, chromium):
    context = chromium.new_context(base_url=world.server.url, locale="en-US")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    try:
        page.goto("/api/docs")
        page.fill("#api-key-id", world.a.key.key_id)
        page.fill("#api-secret", world.a.key.secret)
        for operation_id in ("listProducts", "placeOrder", "getOrder", "findOrder", "getBalance"):
            page.locator(f"[id$='-{operation_id}']").wait_for()
        placing = page.locator("[id$='-placeOrder']")
        placing.locator(".opblock-summary").click()
        placing.get_by_role("button", name="Try it out").click()
        placing.locator("textarea.body-param__text").fill(json.dumps(order("R-DOCS")))
        placing.get_by_role("button", name="Execute").click()
        status = placing.locator(".live-responses-table tr.response .response-col_status")
        status.wait_for()
        assert status.inner_text().strip() == "201"
    finally:
        context.close()
    assert not problems, problems
    found = world.a.get("/api/v1/orders?out_trade_no=R-DOCS").json()
    assert (found["status"], len(found["codes"])) == ("delivered", 1)
