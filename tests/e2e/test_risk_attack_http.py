"""A scripted attack on the running app, on SQLite and on PostgreSQL with Redis: the merchant sets its risk rules in
the admin over HTTP, then one address fires 200 checkouts of a low-value card, ten at a time, while legitimate
buyers from other addresses shop in the same moments.

The rules count every attempt from one address: more than 5 within ten minutes must solve a challenge, more than
20 low-value ones wait for review, more than 50 in a day are blocked; one network is on the block list. Counters
are shared and atomic, so the outcome is exact whatever the interleaving within a round of ten: 5 go through to
payment, 15 are challenged, 5 are held — then the address holds the 10 unpaid units a buyer may hold (held orders
count), so the next 25 are refused for that — and 150 are blocked, each with its reasons in the decision log (and
the held orders' in the review queue); no refused or held attempt holds stock, and every legitimate buyer gets to
payment.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import unescape

import pytest

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, Server, running_app
from tests.services import throwaway_postgres, throwaway_redis_namespace

SKU = "ATTACK-5"
CODES = 40
ATTACKER = "198.51.100.23"
ATTEMPTS, AT_ONCE = 200, 10
CHALLENGE_TEXT = "Please confirm you are not a robot below, then submit again."
BLOCKED_TEXT = "This order cannot be accepted. If you think this is a mistake, contact the shop."
UNPAID_TEXT = "You already have unpaid orders."
RULES = [
    {"name": "Fast hands", "reason": "more orders than a person types", "action": "challenge", "type": "velocity",
     "key": "ip", "measure": "orders", "limit": "5", "window_minutes": "10"},
    {"name": "Cheap card burst", "reason": "cashing out low-value cards", "action": "review",
     "type": "low_value_burst", "key": "ip", "face_value_max": "10", "limit": "20", "window_minutes": "10"},
    {"name": "Daily cap", "reason": "no shop buyer needs more", "action": "block", "type": "daily_cap", "key": "ip",
     "measure": "orders", "limit": "50"},
]  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres+redis"])
def app_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The embedded default, and the production topology (PostgreSQL, Redis counters, a worker process)."""
    tmp = tmp_path_factory.mktemp(request.param.replace("+", "-"))
    if request.param == "sqlite":
        with running_app(tmp) as server:
            yield server
        return
    with (
        throwaway_postgres() as database_url,
        throwaway_redis_namespace() as (redis_url, namespace),
        running_app(
            tmp, KAQUAN_DATABASE_URL=database_url, KAQUAN_REDIS_URL=redis_url, KAQUAN_REDIS_NAMESPACE=namespace
        ) as server,
    ):
        yield server


@dataclass(frozen=True)
class Outcome:
    status: int
    target: str  # where a successful checkout sends the buyer
    text: str

    @property
    def kind(self) -> str:
        if self.status == 200:
            return "payment" if self.target.startswith("/sandbox/pay/") else "held" if "/o/" in self.target else "?"
        if UNPAID_TEXT in self.text:
            return "unpaid"
        return "challenge" if CHALLENGE_TEXT in self.text else "blocked" if BLOCKED_TEXT in self.text else "?"


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def buyer(server: Server, ip: str) -> Browser:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 (the test): each buyer comes from the address it names.
    browser = Browser(server.url, **{"Accept-Language": "en", "X-Forwarded-For": ip})
    browser.get(f"/p/{SKU}")  # the checkout page: its CSRF token and cookie
    return browser


def checkout(browser: Browser, contact: str) -> Outcome:
    answer = browser.post(f"/p/{SKU}/orders", {"contact": contact, "quantity": "1"}, htmx=True)
    return Outcome(answer.status_code, answer.headers.get("hx-redirect", ""), text(answer.text))


def in_all(page: str) -> int:
    """The total a paged list reports ("Page 1 of 3 · 51 in all"), 0 for an empty one."""
    found = re.search(r"· (\d+) in all", page)
    return int(found.group(1)) if found else 0


def pages(owner: Browser, path: str) -> Iterator[str]:
    """Every page of a paged admin list, in turn."""
    number = 1
    while True:
        page = owner.get(f"{path}{'&' if '?' in path else '?'}page={number}").text
        yield page
        if not re.search(rf"page={number + 1}\"", page):
            return
        number += 1


@pytest.fixture(scope="module")
def owner(app_server: Server) -> Browser:
    """The merchant: a cheap card in stock, and its rules and block list set in the admin, CSRF and all."""
    made = app_server.kaquan("--json", "product", "create", SKU, "--name", "Five-yuan card", "--face-value", "5",
                             "--price", "4.90", "--on-sale")  # fmt: skip
    assert made.returncode == 0, made.stderr
    codes = app_server.log.parent / "codes.txt"
    codes.write_text("".join(f"ATTACK-{n:06d}-WXYZ\n" for n in range(CODES)))
    loaded = app_server.kaquan("codes", "import", str(codes), "--product", SKU, "--source", "e2e")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(made.stdout)["sku"] == SKU
    browser = Browser(app_server.url, **{"Accept-Language": "en"})
    browser.login("owner", OWNER_PASSWORD)
    for rule in RULES:
        saved = browser.post("/admin/risk/rules", rule, htmx=True)
        assert (saved.status_code, saved.headers.get("hx-redirect")) == (200, "/admin/risk"), saved.text
    listed = browser.post(
        "/admin/risk/lists", {"list": "block", "kind": "ip", "value": "203.0.113.0/24", "note": "botnet"}, htmx=True
    )
    assert listed.status_code == 200, listed.text
    return browser


def test_a_scripted_attack_is_held_to_a_few_orders_while_other_buyers_shop(app_server, owner):
    scripts = [buyer(app_server, ATTACKER) for _ in range(AT_ONCE)]  # one connection per thread, one address
    legit: list[Outcome] = []
    attack: list[Outcome] = []
    with ThreadPoolExecutor(AT_ONCE + 1) as pool:
        for round_ in range(ATTEMPTS // AT_ONCE):
            # Ten attempts at once, and a buyer from elsewhere in the same moment.
            shopper = pool.submit(
                lambda n=round_: checkout(buyer(app_server, f"192.0.2.{n + 10}"), f"buyer{n}@example.com")
            )
            fired = [
                pool.submit(checkout, scripts[i], f"bot{round_ * AT_ONCE + i}@example.com") for i in range(AT_ONCE)
            ]
            attack.extend(future.result() for future in fired)
            legit.append(shopper.result())
    listed_net = checkout(buyer(app_server, "203.0.113.66"), "botnet@example.com")

    kinds = Counter(outcome.kind for outcome in attack)
    assert kinds == {"payment": 5, "challenge": 15, "held": 5, "unpaid": 25, "blocked": 150}, kinds
    assert [outcome.kind for outcome in legit] == ["payment"] * len(legit), [o.text for o in legit if o.status != 200]
    assert listed_net.kind == "blocked"

    # A buyer from elsewhere gets all the way to the gateway's page.
    gateway = Browser(app_server.url).get(legit[0].target)
    assert gateway.status_code == 303 and "/sandbox/pay/" in gateway.headers["location"]

    # Stock: only the orders that went to payment hold any (held orders hold none until approved).
    page = Browser(app_server.url, **{"Accept-Language": "en"}).get(f"/p/{SKU}").text
    assert f"{CODES - 5 - len(legit)} in stock" in text(page)

    # The decision log: every refusal and every held order, each with the rule that decided it, in words.
    expected = {"challenge": (15, "Fast hands"), "review": (5, "Cheap card burst"), "block": (151, "")}
    for outcome, (count, rule) in expected.items():
        path = f"/admin/risk/decisions?outcome={outcome}"
        assert in_all(owner.get(path).text) == count, outcome
        rows = [
            row
            for page in pages(owner, path)
            for row in re.findall(r'<tr class="decision outcome-\w+">.*?</tr>', page, re.S)
        ]
        assert len(rows) == count, outcome
        for row in rows:
            assert f"outcome-{outcome}" in row and re.search(r'<ul class="plain-list risk-reasons">\s*<li>', row)
            assert rule in text(row), row
    blocked = [text(page) for page in pages(owner, "/admin/risk/decisions?outcome=block")]
    assert sum(page.count("Daily cap") for page in blocked) == 150
    assert sum(page.count("On the block list (IP address or network)") for page in blocked) == 1

    # The review queue: the 5 held orders, each with why it was held.
    queue = list(pages(owner, "/admin/reviews"))
    assert in_all(queue[0]) == 5
    rows = [row for page in queue for row in re.findall(r'<tr id="review-\d+" class="review".*?</tr>', page, re.S)]
    assert len(rows) == 5
    for row in rows:
        words = text(row)
        assert "Cheap card burst" in words and "cashing out low-value cards" in words
        assert re.search(r"\d+ orders of face value at most ¥10\.00 per IP address \(limit 20\)", words), words
