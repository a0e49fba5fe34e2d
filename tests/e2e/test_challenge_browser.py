"""The bot challenge widget in headless Chromium, under the app's own CSP: it loads from /static, fetches a
challenge from /challenge, solves it in its worker and fills the hidden field `altcha` with a payload the
server side redeems once. A form whose submit fails in place gets a fresh solution for the next try."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from adapters.clock import SystemClock
from adapters.counters.memory import MemoryCounters
from adapters.security.challenges import AltchaChallenges
from tests.e2e import test_browser
from tests.e2e.server import Server, running_app
from web.i18n import translate

# The Chromium fixtures (and their skip rule) are the browser suite's own.
browser = test_browser.browser
page = test_browser.page

SECRET = "the e2e app's secret key, thirty-two characters or more"
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "web" / "templates"
PAYLOAD = "#lookup input[name=altcha]"


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The embedded default with a secret key the test knows, so it can redeem what the browser solved."""
    with running_app(tmp_path_factory.mktemp("app"), KAQUAN_SECRET_KEY=SECRET) as server:
        yield server


@pytest.fixture
def violations(page) -> list[str]:
    """Console messages about the Content Security Policy (a refused script, style, worker or fetch)."""
    found: list[str] = []
    page.on(
        "console", lambda message: found.append(message.text) if "Content Security Policy" in message.text else None
    )
    return found


def partial(locale: str) -> str:
    """`_challenge.html` as the app renders it for `locale`."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals.update(_=lambda key: translate(locale, key), locale=lambda: locale)
    return env.get_template("_challenge.html").render()


def add_widget(page, locale: str = "en") -> None:
    """Into the lookup form, as a controller's template would include it; a contextual fragment runs its script."""
    page.evaluate(
        "html => document.querySelector('#lookup').append(document.createRange().createContextualFragment(html))",
        partial(locale),
    )


def redeemed(*payloads: str) -> list[bool]:
    """What the server side says to each payload in turn (one process's memory of what was redeemed)."""
    clock = SystemClock()
    challenges = AltchaChallenges(SECRET, MemoryCounters(clock), clock, max_number=1000)

    async def redeem_all() -> list[bool]:
        return [await challenges.redeem(payload) for payload in payloads]

    with ThreadPoolExecutor(1) as thread:  # sync Playwright holds this thread's event loop
        return thread.submit(asyncio.run, redeem_all()).result()


def test_the_widget_solves_a_challenge_the_server_redeems_once(page, violations):
    page.goto("/lookup")
    add_widget(page)
    page.wait_for_function(f"() => document.querySelector('{PAYLOAD}')?.value")
    page.locator("altcha-widget").get_by_text("Verified").wait_for()
    payload = page.locator(PAYLOAD).input_value()
    assert redeemed(payload, payload) == [True, False]
    assert not violations, violations


def test_a_failed_submit_gets_a_fresh_solution(page, violations):
    page.goto("/lookup")
    add_widget(page)
    page.wait_for_function(f"() => document.querySelector('{PAYLOAD}')?.value")
    first = page.locator(PAYLOAD).input_value()
    form = page.locator("#lookup")
    form.get_by_label("Order number").fill("1")
    form.get_by_label("Email or phone").fill("nobody@example.com")
    form.get_by_role("button", name="Find my order").click()
    form.locator(".form-errors").get_by_text("No order matches").wait_for()
    page.wait_for_function(f"old => (document.querySelector('{PAYLOAD}')?.value || old) !== old", arg=first)
    second = page.locator(PAYLOAD).input_value()
    assert redeemed(second, first) == [True, True], "two challenges, one solution each"
    assert not violations, violations


def test_the_partial_swapped_in_by_htmx_works_and_speaks_chinese(page, violations):
    """As it will arrive when a submit is answered with "challenge": an htmx fragment inside the form."""
    page.goto("/lookup")
    page.evaluate("html => htmx.swap('#lookup .form-errors', html, {swapStyle: 'innerHTML'})", partial("zh-CN"))
    page.locator("altcha-widget").get_by_text("已验证").wait_for()
    assert redeemed(page.locator(PAYLOAD).input_value()) == [True]
    assert not violations, violations
