"""Texts in zh-CN and English from message catalogs (`locales/*.json`), keyed by message id."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection

from domain.staff import LOCALES

LOCALE_DIR = Path(__file__).parent / "locales"
DEFAULT_LOCALE = "zh-CN"
LOCALE_COOKIE = "lang"
_STATE_KEY = "kaquan.locale"


@cache
def catalog(locale: str) -> Mapping[str, str]:
    return json.loads((LOCALE_DIR / f"{locale}.json").read_text(encoding="utf-8"))


def translate(locale: str, key: str, /, **params: Any) -> str:
    """The text for `key` in `locale`, falling back to English and then to the key itself."""
    text = catalog(locale).get(key) or catalog("en").get(key) or key
    return text.format(**params) if params else text


def negotiate(accept_language: str | None) -> str | None:
    """The best supported locale for an Accept-Language header, honouring q-values."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            choices.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(choices):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return None


def locale_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The request's locale, decided once per request (see `_decide`)."""
    state = connection.scope.setdefault("state", {})  # type: ignore[typeddict-item]
    if _STATE_KEY not in state:
        state[_STATE_KEY] = _decide(connection)
    return str(state[_STATE_KEY])


def _decide(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The signed-in member's setting, else the language cookie, else Accept-Language, else zh-CN."""
    user = connection.scope.get("user")
    if user is not None and getattr(user, "locale", None) in LOCALES:
        return str(user.locale)
    cookie = connection.cookies.get(LOCALE_COOKIE)
    if cookie in LOCALES:
        return str(cookie)
    return negotiate(connection.headers.get("accept-language")) or DEFAULT_LOCALE


def template_gettext(context: Mapping[str, Any], key: str, /, default: str | None = None, **params: Any) -> str:
    """`_("key", name=…)` in templates, in the request's locale; `default` for keys that may have no text
    (a reason staff typed in rather than one of ours)."""
    if default is not None and key not in catalog("en"):
        return default
    return translate(locale_of(context["request"]), key, **params)
