"""Bot challenges (ALTCHA): a solved challenge is redeemed exactly once, in every process; anything else fails.

Challenges are solved here as a browser would, with altcha's own solver; the browser suite proves the widget.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import altcha
import httpx
import pytest
from litestar import get
from litestar.response import Template
from litestar.testing import TestClient
from redis.asyncio import Redis

from adapters import bootstrap
from adapters.clock import SystemClock
from adapters.counters.memory import MemoryCounters
from adapters.counters.redis import RedisCounters
from adapters.db import migrate
from adapters.security.challenges import AltchaChallenges
from adapters.settings import Settings
from tests.unit.fakes import FixedClock
from web.app import create_app

SECRET = "a test secret key of at least thirty-two characters"
EASY = 20  # counters to try at most: each is a PBKDF2 derivation, so the tests solve quickly


def challenges(clock: Any = None, *, secret: str = SECRET, counters: Any = None) -> AltchaChallenges:
    clock = clock or SystemClock()
    return AltchaChallenges(secret, counters or MemoryCounters(clock), clock, max_number=EASY)


def solve(issued: dict[str, Any]) -> str:
    """What the widget posts: the challenge as issued and the counter found, base64 JSON."""
    challenge = altcha.Challenge.from_dict(json.loads(json.dumps(issued)))  # as it travels: through JSON
    solution = altcha.solve_challenge(challenge)
    assert solution is not None
    return altcha.Payload(challenge, solution).to_base64()


def reencoded(payload: str, change) -> str:
    data = json.loads(base64.b64decode(payload))
    change(data)
    return base64.b64encode(json.dumps(data).encode()).decode()


async def test_a_solved_challenge_is_redeemed_once():
    bot = challenges()
    issued = bot.issue()
    assert issued["parameters"]["algorithm"] == "PBKDF2/SHA-256" and issued["signature"]
    payload = solve(issued)
    assert await bot.redeem(payload) is True
    assert await bot.redeem(payload) is False, "a replayed solution"
    assert await bot.redeem(solve(bot.issue())) is True, "a fresh challenge is good again"


async def test_every_challenge_is_different_and_expires_when_the_clock_says():
    clock = FixedClock(datetime.now(UTC))
    bot = challenges(clock)
    first, second = bot.issue(), bot.issue()
    assert first["parameters"]["nonce"] != second["parameters"]["nonce"]
    assert first["parameters"]["expiresAt"] == int((clock.now() + timedelta(minutes=10)).timestamp())
    almost, late = solve(bot.issue()), solve(bot.issue())
    clock.advance(timedelta(minutes=9))
    assert await bot.redeem(almost) is True
    clock.advance(timedelta(minutes=1, seconds=1))
    assert await bot.redeem(late) is False, "past its ten minutes"


async def test_a_challenge_altcha_itself_finds_expired_fails():
    clock = FixedClock(datetime.now(UTC) - timedelta(hours=1))  # issued an hour ago: expired by the system time too
    issuer = challenges(clock)
    assert await challenges().redeem(solve(issuer.issue())) is False


def _params(data: dict[str, Any]) -> dict[str, Any]:
    return data["challenge"]["parameters"]


TAMPERINGS = {
    "longer-life": lambda d: _params(d).update(expiresAt=_params(d)["expiresAt"] + 3600),
    "easier-prefix": lambda d: _params(d).update(keyPrefix="00"),
    "no-key-signature": lambda d: _params(d).pop("keySignature"),
    "unsigned": lambda d: d["challenge"].pop("signature"),
    "wrong-key": lambda d: d["solution"].update(derivedKey="00" * 32),
    "no-key": lambda d: d["solution"].update(counter=d["solution"]["counter"] + 1, derivedKey=None),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
async def test_a_tampered_payload_fails(tamper):
    bot = challenges()
    payload = solve(bot.issue())
    assert await bot.redeem(reencoded(payload, tamper)) is False
    assert await bot.redeem(payload) is True, "the untouched solution was not used up by the forgery"


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "not base64 at all!",
        base64.b64encode(b"[]").decode(),
        base64.b64encode(b'{"challenge": null, "solution": null, "test": true}').decode(),  # the widget's test mode
        "A" * 10_000,
    ],
)
async def test_garbage_fails(payload):
    assert await challenges().redeem(payload) is False


async def test_a_challenge_signed_with_another_key_fails():
    theirs = challenges(secret="another secret key of at least thirty-two chars")
    assert await challenges().redeem(solve(theirs.issue())) is False


def test_difficulty_must_fit_the_counter():
    for bad in (0, 2**32):
        with pytest.raises(ValueError, match="max_number"):
            AltchaChallenges(SECRET, MemoryCounters(SystemClock()), SystemClock(), max_number=bad)


async def test_a_solution_replayed_to_another_process_fails(redis_namespace):
    """Two web processes sharing Redis: whichever sees a solution first takes it, the other refuses it."""
    url, namespace = redis_namespace
    clients = [Redis.from_url(url), Redis.from_url(url)]
    try:
        one, two = (challenges(counters=RedisCounters(client, namespace)) for client in clients)
        payload = solve(one.issue())
        assert await two.redeem(payload) is True
        assert await one.redeem(payload) is False
        raced = solve(two.issue())
        assert sorted(await asyncio.gather(one.redeem(raced), two.redeem(raced), one.redeem(raced))) == [
            False,
            False,
            True,
        ]
    finally:
        for client in clients:
            await client.aclose()


# --- through the web app: GET /challenge and the partial ------------------------------------------------------


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kaquan.db'}"
    migrate.upgrade(url)
    return Settings(
        var_dir=tmp_path / "var",
        database_url=url,
        challenge_max_number=EASY,
        challenge_rate_per_minute=3,
        _env_file=None,
    )


@get("/challenge-form", exclude_from_auth=True, sync_to_thread=False)
def challenge_form() -> Template:
    return Template(template_str='<form method="post">{% include "_challenge.html" %}</form>')


def test_the_widget_fetches_challenges_that_the_app_redeems_and_rate_limits(app_settings):
    container = bootstrap.build(app_settings)
    with TestClient(create_app(container)) as client:
        answer = client.get("/challenge")
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-type"].startswith("application/json")
        payload = solve(answer.json())
        assert asyncio.run(container.challenges.redeem(payload)) is True
        assert asyncio.run(container.challenges.redeem(payload)) is False
        assert [client.get("/challenge").status_code for _ in range(3)] == [200, 200, 429]


def test_an_ipv6_client_rotating_through_its_own_network_shares_one_rate_limit(app_settings):
    app = create_app(bootstrap.build(app_settings))

    async def fetch(address: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return (await client.get("/challenge")).status_code

    async def fetches(addresses: list[str]) -> list[int]:
        return [await fetch(address) for address in addresses]

    one_network = [f"2001:db8:7:9::{n:x}" for n in range(1, 5)]  # a script's /64, a fresh address each time
    elsewhere = "2001:db8:7:a::1"  # the next subscriber's network
    assert asyncio.run(fetches([*one_network, elsewhere])) == [200, 200, 200, 429, 200]


@pytest.mark.parametrize(("language", "label"), [("en", "I'm not a robot"), ("zh-CN", "我不是机器人")])
def test_the_partial_renders_the_widget_with_our_texts(app_settings, language, label):
    app = create_app(bootstrap.build(app_settings))
    app.register(challenge_form)
    with TestClient(app) as client:
        page = client.get("/challenge-form", headers={"Accept-Language": language}).text
    assert '<script type="module" src="/static/challenge.js"></script>' in page
    assert 'challenge="/challenge" name="altcha"' in page and f'language="{language.lower()}"' in page
    strings = page.split("data-strings='", 1)[1].split("'", 1)[0]
    assert json.loads(strings)["label"] == label
