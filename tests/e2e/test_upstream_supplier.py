"""Two real kaquan instances on 127.0.0.1, one the other's upstream supplier: the downstream's merchant is a reseller
of the upstream with two API keys — "alpha" reached through a fault-injecting proxy, "beta" directly. A product
whose own pool is empty is delivered with the upstream's codes; when alpha answers 5xx or is out of stock, beta
delivers; when alpha takes an order and its answer never arrives, the order waits and is completed from alpha (by its
webhook, or by asking again when there is none) — and beta is never charged. Set up through the admin pages and
the CLI, as a merchant would."""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.webhooks import signature
from tests.e2e.client import Browser
from tests.e2e.server import Server, free_port, running_app
from tests.e2e.test_api_http import Api, Key, new_reseller, stock_product
from tests.e2e.test_orders_http import pay_in_sandbox
from tests.e2e.test_portal_http import signed_in_owner

LOCAL, POLLED = "DOWN-IQ", "DOWN-POLL"  # the downstream's products: no codes of their own
UP_A, UP_B = "UP-A", "UP-B"  # the upstream's, bought through alpha and beta
SUPPLIER_TIMEOUT = 2  # seconds the downstream waits for an upstream's answer


class FaultyProxy:
    """Between the downstream and the upstream, for alpha: forwards every request as it is (the signature covers
    method, path and body, not the address), except the next ones told to fail — "502" answers Bad Gateway without
    forwarding; "hold" forwards (the upstream makes the order), then keeps the answer until the caller gives up."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.faults: list[tuple[str, str, str]] = []  # (method, path, fault), used up in order
        self.log: list[tuple[str, str, str]] = []  # (method, path with query, what happened)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.forward(self)

            do_POST = do_GET

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def fail_next(self, method: str, path: str, fault: str) -> None:
        with self.lock:
            self.faults.append((method, path, fault))

    def happened(self, what: str) -> list[str]:
        with self.lock:
            return [path for _, path, done in self.log if done == what]

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        fault = self._take(handler.command, handler.path.partition("?")[0])
        if fault == "502":
            self._note(handler, "502")
            return self._answer(handler, 502, b"bad gateway", "text/plain")
        skip = {"host", "content-length", "connection", "accept-encoding"}
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in skip}
        answer = httpx.request(handler.command, self.target + handler.path, content=body, headers=headers, timeout=30)
        if fault == "hold" and self._caller_gave_up(handler):
            self._note(handler, "held")
            handler.close_connection = True
            return None
        self._note(handler, "forwarded")
        return self._answer(handler, answer.status_code, answer.content, answer.headers.get("content-type", ""))

    def _take(self, method: str, path: str) -> str | None:
        with self.lock:
            for i, (m, p, fault) in enumerate(self.faults):
                if (m, p) == (method, path):
                    del self.faults[i]
                    return fault
        return None

    def _note(self, handler: BaseHTTPRequestHandler, what: str) -> None:
        with self.lock:
            self.log.append((handler.command, handler.path, what))

    @staticmethod
    def _caller_gave_up(handler: BaseHTTPRequestHandler) -> bool:
        """Wait (bounded) until the caller closes the connection: its timeout passed without an answer."""
        readable, _, _ = select.select([handler.connection], [], [], SUPPLIER_TIMEOUT * 10)
        return bool(readable) and handler.connection.recv(1, socket.MSG_PEEK) == b""

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self) -> FaultyProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Chain:
    up: Server
    down: Server
    proxy: FaultyProxy
    owner: Browser  # the downstream's owner
    alpha: Api  # the downstream's keys at the upstream, as the test reads balances and orders with them
    beta: Api
    webhook_secret: str  # alpha's
    ids: dict[str, int] = field(default_factory=dict)  # the downstream's upstreams by name
    buyers: int = 0
    delivered_by_alpha: str = ""  # an out_trade_no the downstream used at alpha, for its webhooks

    def buyer(self) -> Browser:
        self.buyers += 1
        return Browser(self.down.url, **{"Accept-Language": "en", "X-Forwarded-For": f"203.0.113.{self.buyers}"})


def reseller_key(server: Server, reseller_id: int) -> tuple[Key, str]:
    made = server.kaquan("--json", "apikey", "create", "--reseller", str(reseller_id), "--label", "downstream")
    assert made.returncode == 0, made.stderr
    row = json.loads(made.stdout)
    return Key(row["key_id"], row["secret"]), row["webhook_secret"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    tmp = tmp_path_factory.mktemp("chain")
    with (
        running_app(tmp_path_factory.mktemp("upstream"), KAQUAN_ALLOW_PRIVATE_CALLBACKS="true") as up,
        FaultyProxy(up.url) as proxy,
        running_app(
            tmp_path_factory.mktemp("downstream"),
            KAQUAN_PORT=str(free_port()),
            KAQUAN_SUPPLIER_TIMEOUT_SECONDS=str(SUPPLIER_TIMEOUT),
            KAQUAN_ORDER_SWEEP_SECONDS="0.5",
            KAQUAN_ALLOW_PRIVATE_CALLBACKS="true",  # its upstreams are on 127.0.0.1
        ) as down,
    ):
        # The upstream: two products in stock, and the downstream's merchant as its reseller, twice over.
        stock_product(up, UP_A, 10, tmp, price="15.00")
        stock_product(up, UP_B, 10, tmp, price="16.00")
        a_key, a_webhook = reseller_key(up, new_reseller(up, "DownAlpha", top_up="500"))
        b_key, b_webhook = reseller_key(up, new_reseller(up, "DownBeta", top_up="500"))
        made = down.kaquan(
            "product", "create", LOCAL, "--name", "爱奇艺月卡 (upstream)", "--face-value", "30", "--price", "29.80",
            "--on-sale",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        world = Chain(up, down, proxy, signed_in_owner(down), Api(up.url, a_key), Api(up.url, b_key), a_webhook)
        # alpha through the admin pages, beta through the CLI.
        added = world.owner.post(
            "/admin/suppliers",
            {"name": "alpha", "base_url": proxy.url, "key_id": a_key.key_id, "secret": a_key.secret,
             "webhook_secret": a_webhook},
            htmx=True,
        )  # fmt: skip
        assert added.status_code == 200 and added.headers["hx-redirect"].startswith("/admin/suppliers/"), added.text
        world.ids["alpha"] = int(added.headers["hx-redirect"].rsplit("/", 1)[1])
        synced = world.owner.post(f"/admin/suppliers/{world.ids['alpha']}/sync", htmx=True)
        assert synced.status_code == 200, synced.text
        cli = down.kaquan(
            "--json", "upstream", "add", "beta", "--url", up.url, "--key-id", b_key.key_id,
            KAQUAN_UPSTREAM_SECRET=b_key.secret, KAQUAN_UPSTREAM_WEBHOOK_SECRET=b_webhook,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        world.ids["beta"] = json.loads(cli.stdout)["id"]
        synced_cli = down.kaquan("--json", "upstream", "sync", str(world.ids["beta"]))
        assert synced_cli.returncode == 0, synced_cli.stderr
        assert {p["sku"]: p["price"] for p in json.loads(synced_cli.stdout)["products"]} == {
            UP_A: "15.00",
            UP_B: "16.00",
        }
        yield world


def product_id(chain: Chain, sku: str) -> int:
    listed = chain.owner.get(f"/admin/products?q={sku}").text
    return int(re.search(r'href="/admin/products/(\d+)"', listed).group(1))


def set_sources(chain: Chain, sku: str, *rows: tuple[str, str]) -> httpx.Response:
    """The product's sources page, as the merchant fills it in: (choice, ceiling) per row."""
    pid = product_id(chain, sku)
    chain.owner.get(f"/admin/products/{pid}/sources")
    body = [("source", choice) for choice, _ in rows] + [("cost_ceiling", ceiling) for _, ceiling in rows]
    return chain.owner.request(
        "POST",
        f"/admin/products/{pid}/sources",
        content=httpx.QueryParams(body).__str__().encode(),
        headers={
            "HX-Request": "true",
            "x-csrftoken": chain.owner.csrf,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def buy(chain: Chain, sku: str, quantity: int = 1) -> tuple[Browser, str, str]:
    """A buyer on the downstream's shop: checkout, then pay in the sandbox; returns the order page and number."""
    browser = chain.buyer()
    browser.get("/shop")
    placed = browser.post(f"/p/{sku}/orders", {"contact": "buyer@example.com", "quantity": str(quantity)}, htmx=True)
    assert placed.status_code == 200, placed.text
    order_page = pay_in_sandbox(browser, placed.headers["hx-redirect"])
    return browser, order_page, re.search(r"/o/(\d+)\?k=", order_page).group(1)


def eventually(what: str, check: Callable[[], Any], seconds: float = 45) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def delivered_codes(browser: Browser, order_page: str) -> list[str]:
    """Waits for the order to be delivered, then reveals each code as the buyer does."""
    status = order_page.replace("?", "/status?", 1)

    def settled() -> str:
        text = browser.get(status).text
        return text if 'data-status="delivered"' in text else ""

    fragment = eventually("the order is delivered", settled)
    codes = []
    for token in re.findall(r'href="http://[^"]+/r/([^"]+)"', fragment):
        assert browser.get(f"/r/{token}").status_code == 200
        revealed = browser.post(f"/r/{token}/reveal", htmx=True).text
        codes.append(re.search(r'id="code-number" class="code" readonly value="([^"]+)"', revealed).group(1))
    return codes


def timeline(chain: Chain, number: str) -> list[tuple[str, str]]:
    """The downstream's order timeline as staff see it: (kind, text) per line."""
    listed = chain.owner.get(f"/admin/orders?number={number}").text
    order_id = re.search(r'href="/admin/orders/(\d+)"', listed).group(1)
    page = chain.owner.get(f"/admin/orders/{order_id}").text
    return [
        (kind, " ".join(re.sub(r"<[^>]+>", " ", text).split()))
        for kind, text in re.findall(r'<li data-kind="(\w+)">(.*?)</li>', page, re.S)
    ]


def upstream_order(api: Api, out_trade_no: str) -> dict[str, Any] | None:
    found = api.get(f"/api/v1/orders?out_trade_no={out_trade_no}")
    if found.status_code == 404:
        return None
    assert found.status_code == 200, found.text
    return found.json()


def balance(api: Api) -> float:
    return float(api.balance()["balance"])


def test_the_admin_lists_the_upstreams_and_their_catalogs_at_our_price_there(chain):
    listed = chain.owner.get("/admin/suppliers").text
    for name in ("alpha", "beta"):
        assert f'href="/admin/suppliers/{chain.ids[name]}">{name}</a>' in listed
    assert chain.proxy.url in listed and "called back (webhook)" in listed
    page = chain.owner.get(f"/admin/suppliers/{chain.ids['alpha']}").text
    row = re.search(rf'<tr data-sku="{UP_A}">(.*?)</tr>', page, re.S).group(1)
    assert "¥15.00" in row and ">10<" in row.replace(" ", "")
    assert "Sync now" in page
    cli = chain.down.kaquan("upstream", "list")
    assert cli.returncode == 0 and "alpha" in cli.stdout and "beta" in cli.stdout and "2 products" in cli.stdout


def test_adding_and_syncing_errors_show_in_place(chain):
    bad = chain.owner.post(
        "/admin/suppliers", {"name": "", "base_url": "ftp://x", "key_id": "nope", "secret": "s"}, htmx=True
    )
    assert bad.status_code == 422
    for name in ("name", "base_url", "key_id"):
        assert f'data-field="{name}"' in bad.text
    taken = chain.owner.post(
        "/admin/suppliers",
        {"name": "alpha", "base_url": chain.up.url, "key_id": chain.alpha.key.key_id, "secret": "x"},
        htmx=True,
    )
    assert taken.status_code == 422 and 'data-field="name"' in taken.text
    # A wrong secret: the upstream refuses, and says why; an address nobody answers at: unavailable.
    wrong = chain.owner.post(
        "/admin/suppliers",
        {"name": "wrong-secret", "base_url": chain.up.url, "key_id": chain.alpha.key.key_id, "secret": "sk_wrong"},
        htmx=True,
    )
    refused = chain.owner.post(wrong.headers["hx-redirect"] + "/sync", htmx=True)
    assert refused.status_code == 409 and "refused: invalid_signature" in refused.text
    closed = chain.owner.post(
        "/admin/suppliers",
        {"name": "nobody", "base_url": f"http://127.0.0.1:{free_port()}", "key_id": chain.alpha.key.key_id,
         "secret": "x"},
        htmx=True,
    )  # fmt: skip
    unavailable = chain.owner.post(closed.headers["hx-redirect"] + "/sync", htmx=True)
    assert unavailable.status_code == 409 and "did not answer" in unavailable.text
    assert "Not synced yet." in chain.owner.get(closed.headers["hx-redirect"]).text


def test_support_staff_see_suppliers_and_sources_but_change_nothing(chain):
    chain.down.add_staff("support-up", "support", "support's password")
    support = Browser(chain.down.url, **{"Accept-Language": "en"})
    support.login("support-up", "support's password")
    assert support.get("/admin/suppliers").status_code == 200
    assert "new-upstream" not in support.get("/admin/suppliers").text
    pid = product_id(chain, LOCAL)
    assert support.get(f"/admin/products/{pid}/sources").status_code == 200
    for path in ("/admin/suppliers", f"/admin/suppliers/{chain.ids['alpha']}/sync", f"/admin/products/{pid}/sources"):
        assert support.post(path, {"source": "pool"}, htmx=True).status_code == 403, path


def test_sources_are_chosen_from_the_synced_catalogs_with_errors_in_place(chain):
    alpha, beta = chain.ids["alpha"], chain.ids["beta"]
    duplicate = set_sources(chain, LOCAL, (f"{alpha}:{UP_A}", ""), (f"{alpha}:{UP_A}", ""))
    assert duplicate.status_code == 422 and "Each source can be listed once." in duplicate.text
    bad_ceiling = set_sources(chain, LOCAL, (f"{alpha}:{UP_A}", "cheap"))
    assert bad_ceiling.status_code == 422 and 'data-field="cost_ceiling"' in bad_ceiling.text
    unknown = set_sources(chain, LOCAL, ("9999:X", ""))
    assert unknown.status_code == 422 and 'data-field="upstream_id"' in unknown.text
    saved = set_sources(chain, LOCAL, ("pool", ""), (f"{alpha}:{UP_A}", "15.50"), ("", ""), (f"{beta}:{UP_B}", ""))
    assert saved.status_code == 200, saved.text
    page = chain.owner.get(f"/admin/products/{product_id(chain, LOCAL)}/sources").text
    now = " ".join(re.sub(r"<[^>]+>", " ", re.search(r'id="sources-now"[^>]*>(.*?)</p>', page, re.S).group(1)).split())
    assert now == f"Now: own code pool → alpha {UP_A} ≤ ¥15.50 → beta {UP_B}"
    assert f'<option value="{alpha}:{UP_A}" selected>' in page
    shown = chain.down.kaquan("--json", "product", "sources", LOCAL)
    assert [(r["source"], r["upstream_sku"], r["cost_ceiling"]) for r in json.loads(shown.stdout)["sources"]] == [
        ("pool", None, None), ("alpha", UP_A, "15.50"), ("beta", UP_B, None),
    ]  # fmt: skip


def test_an_empty_pool_is_filled_by_the_first_upstream_and_charged_there_once(chain):
    a_before, b_before = balance(chain.alpha), balance(chain.beta)
    browser, page, number = buy(chain, LOCAL, 2)
    codes = delivered_codes(browser, page)
    assert len(codes) == 2 and all(f"{UP_A}-CODE-" in code for code in codes), codes
    lines = timeline(chain, number)
    assert any(k == "source_ordered" and t.endswith(f"alpha {number}-2") for k, t in lines), lines
    assert [t.split("· ")[-1] for k, t in lines if k == "delivered_by_source"] == ["alpha × 2"]
    made = upstream_order(chain.alpha, f"{number}-2")
    assert (made["status"], made["quantity"], made["total"]) == ("delivered", 2, "30.00")
    assert balance(chain.alpha) == pytest.approx(a_before - 30.00)
    assert balance(chain.beta) == b_before
    chain.delivered_by_alpha = f"{number}-2"


def delivered_by(lines: list[tuple[str, str]]) -> list[str]:
    """Which sources delivered, with their units, as the timeline says."""
    return [t.split("· ")[-1] for k, t in lines if k == "delivered_by_source"]


def test_a_5xx_from_the_first_upstream_falls_through_to_the_next(chain):
    a_before, b_before = balance(chain.alpha), balance(chain.beta)
    chain.proxy.fail_next("POST", "/api/v1/orders", "502")
    browser, page, number = buy(chain, LOCAL)
    assert all(f"{UP_B}-CODE-" in code for code in delivered_codes(browser, page))
    lines = timeline(chain, number)
    assert any(k == "source_failed" and "alpha" in t and "had made nothing" in t for k, t in lines), lines
    assert delivered_by(lines) == ["beta × 1"]
    assert upstream_order(chain.alpha, f"{number}-2") is None, "alpha was asked, and had made nothing"
    assert upstream_order(chain.beta, f"{number}-3")["status"] == "delivered"
    assert (balance(chain.alpha), balance(chain.beta)) == (a_before, pytest.approx(b_before - 16.00))


def test_out_of_stock_at_the_first_upstream_falls_through_to_the_next(chain):
    left = chain.alpha.available(UP_A)
    drained = chain.alpha.post("/api/v1/orders", {"sku": UP_A, "quantity": left, "out_trade_no": "DRAIN-A"})
    assert drained.status_code == 201 and chain.alpha.available(UP_A) == 0, drained.text
    a_before, b_before = balance(chain.alpha), balance(chain.beta)
    browser, page, number = buy(chain, LOCAL)
    assert all(f"{UP_B}-CODE-" in code for code in delivered_codes(browser, page))
    lines = timeline(chain, number)
    assert any(k == "source_failed" and "alpha" in t and "out of stock there" in t for k, t in lines), lines
    assert (balance(chain.alpha), balance(chain.beta)) == (a_before, pytest.approx(b_before - 16.00))


def restock_alpha(chain: Chain, count: int, tag: str, tmp: Path) -> None:
    path = tmp / f"{tag}.csv"
    path.write_text("".join(f"{UP_A}-{tag}-{n:04d},PIN{n}\n" for n in range(count)))
    loaded = chain.up.kaquan("codes", "import", str(path), "--product", UP_A, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr


def test_a_timeout_after_the_upstream_took_the_order_waits_for_it_and_never_buys_twice(chain, tmp_path):
    restock_alpha(chain, 3, "MORE", tmp_path)
    a_before, b_before = balance(chain.alpha), balance(chain.beta)
    chain.proxy.fail_next("POST", "/api/v1/orders", "hold")
    browser, page, number = buy(chain, LOCAL)
    codes = delivered_codes(browser, page)  # by alpha's webhook (or by asking alpha again)
    assert all(f"{UP_A}-MORE-" in code for code in codes) and len(codes) == 1, codes
    # Its webhook may well come first; either way, the downstream's own request got no answer in time.
    assert eventually("the downstream gave up waiting", lambda: chain.proxy.happened("held")) == ["/api/v1/orders"]
    assert delivered_by(timeline(chain, number)) == ["alpha × 1"]
    assert upstream_order(chain.alpha, f"{number}-2")["status"] == "delivered"
    assert upstream_order(chain.beta, f"{number}-3") is None, "beta was never asked"
    assert (balance(chain.alpha), balance(chain.beta)) == (pytest.approx(a_before - 15.00), b_before)


def test_without_a_webhook_the_held_order_is_asked_about_again(chain, tmp_path):
    """An upstream added without a webhook secret is not asked to call back: the sweeper asks it instead."""
    polled = chain.down.kaquan(
        "--json", "upstream", "add", "alpha-polled", "--url", chain.proxy.url, "--key-id", chain.alpha.key.key_id,
        KAQUAN_UPSTREAM_SECRET=chain.alpha.key.secret,
    )  # fmt: skip
    assert polled.returncode == 0, polled.stderr
    polled_id = json.loads(polled.stdout)["id"]
    assert chain.down.kaquan("upstream", "sync", str(polled_id)).returncode == 0
    made = chain.down.kaquan("product", "create", POLLED, "--name", "Polled", "--face-value", "30", "--price", "29.80",
                             "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    sources = chain.down.kaquan("product", "sources", POLLED, "--source", f"alpha-polled:{UP_A}", "--source",
                                f"beta:{UP_B}")  # fmt: skip
    assert sources.returncode == 0 and sources.stdout.splitlines() == [f"1. alpha-polled {UP_A}", f"2. beta {UP_B}"]
    restock_alpha(chain, 1, "POLL", tmp_path)
    a_before, b_before = balance(chain.alpha), balance(chain.beta)
    chain.proxy.fail_next("POST", "/api/v1/orders", "hold")
    browser, page, number = buy(chain, POLLED)
    assert [code.startswith(f"{UP_A}-") for code in delivered_codes(browser, page)] == [True]
    assert chain.proxy.happened("held") == ["/api/v1/orders"] * 2, "no answer came, and no callback either"
    assert delivered_by(timeline(chain, number)) == ["alpha-polled × 1"]
    assert upstream_order(chain.beta, f"{number}-2") is None
    assert (balance(chain.alpha), balance(chain.beta)) == (pytest.approx(a_before - 15.00), b_before)


def test_the_webhook_endpoint_takes_only_signed_callbacks_about_our_orders(chain):
    assert chain.delivered_by_alpha, "an earlier test delivered an order through alpha"
    url = f"{chain.down.url}/suppliers/{chain.ids['alpha']}/webhook"

    def post(out_trade_no: str, secret: str = chain.webhook_secret, *, stamp: int = 0, also: str = "",
             to: str = url) -> httpx.Response:  # fmt: skip
        body = json.dumps({"type": "order.delivered", "data": {"out_trade_no": out_trade_no}}).encode()
        timestamp = str(stamp or int(time.time()))
        signed = signature(secret, "msg_e2e", timestamp, body)
        headers = {"webhook-id": "msg_e2e", "webhook-timestamp": timestamp, "webhook-signature": f"{also}{signed}"}
        return httpx.post(to, content=body, headers={"content-type": "application/json", **headers}, timeout=10)

    # Signed as the upstream signs (a no-op for delivery: the order is delivered already).
    assert post(chain.delivered_by_alpha).status_code == 204
    assert post(chain.delivered_by_alpha, also="v1,bm90IHRoaXMgb25l ").status_code == 204, "one of several matches"
    assert post(chain.delivered_by_alpha, "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB").status_code == 401
    assert post(chain.delivered_by_alpha, stamp=int(time.time()) - 301).status_code == 401
    assert post("1234-2").status_code == 404, "not one of our orders there"
    beta = f"{chain.down.url}/suppliers/{chain.ids['beta']}/webhook"
    assert post(chain.delivered_by_alpha, to=beta).status_code == 401, "signed with alpha's secret, not beta's"
    assert post(chain.delivered_by_alpha, to=f"{chain.down.url}/suppliers/99999/webhook").status_code == 404


def test_an_order_waiting_upstream_is_refunded_only_after_staff_abandon_it_and_its_late_code_goes_to_the_pool(
    chain, tmp_path
):
    """alpha's product is delivered by its staff (manual): our order waits there. A refund is refused in place until
    the owner abandons that upstream order on the order page; when alpha's staff deliver after all, its webhook
    brings the code into the downstream's pool — paid for once, never lost."""
    stock_product(chain.up, "UP-MAN", 0, tmp_path, kind="manual", price="15.00")
    assert chain.owner.post(f"/admin/suppliers/{chain.ids['alpha']}/sync", htmx=True).status_code == 200
    made = chain.down.kaquan("product", "create", "DOWN-MAN", "--name", "By hand upstream", "--face-value", "30",
                             "--price", "29.80", "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert chain.down.kaquan("product", "sources", "DOWN-MAN", "--source", "alpha:UP-MAN").returncode == 0
    a_before = balance(chain.alpha)
    _, _, number = buy(chain, "DOWN-MAN")
    listed = chain.owner.get(f"/admin/orders?number={number}").text
    page = re.search(r'href="(/admin/orders/\d+)"', listed).group(1)
    assert eventually("the order waits at alpha", lambda: 'data-status="processing"' in chain.owner.get(page).text)
    refused = chain.owner.post(f"{page}/refund", {"reason": "the buyer asked"}, htmx=True)
    assert refused.status_code == 409 and f"{number}-1) is still open" in refused.text, refused.text
    abandon = re.search(r'hx-post="(/admin/orders/\d+/upstream/\d+/abandon)"', chain.owner.get(page).text).group(1)
    abandoned = chain.owner.post(abandon, {"reason": "alpha is too slow"}, htmx=True)
    assert abandoned.status_code == 200 and 'class="abandoned"' in abandoned.text, abandoned.text
    assert 'id="source-again"' in abandoned.text, "failed at every source: staff may try the suppliers again"
    refunded = chain.owner.post(f"{page}/refund", {"reason": "the buyer asked"}, htmx=True)
    assert refunded.status_code == 200 and "status-refunded" in refunded.text, refunded.text
    # alpha's staff deliver by hand after all; its webhook brings the code to the downstream's pool.
    up_owner = signed_in_owner(chain.up)
    there = upstream_order(chain.alpha, f"{number}-1")["order_no"]
    up_page = re.search(r'href="(/admin/orders/\d+)"', up_owner.get(f"/admin/orders?number={there}").text).group(1)
    assert up_owner.post(f"{up_page}/fulfil", {"lines": "MAN-CODE-0001,PIN1"}, htmx=True).status_code == 200
    pooled = eventually(
        "the late code went into the pool",
        lambda: [t for k, t in timeline(chain, number) if k == "upstream_codes_pooled"],
    )
    assert "alpha × 1" in pooled[0]
    assert balance(chain.alpha) == pytest.approx(a_before - 15.00), "paid there once"
