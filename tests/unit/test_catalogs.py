"""Every text the UI can show exists in both catalogs; language negotiation picks the right one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import domain.services.delivery
import domain.services.ordering
import domain.staff
from domain.errors import DomainError
from domain.operations import WorkerHealth
from domain.orders import NOTIFICATION_STATES, Attention, Channel, OrderStatus
from domain.staff import LOCALES, Role, StaffStatus
from web.i18n import catalog, negotiate, translate

SRC = Path(__file__).resolve().parents[2] / "src"


def _all_subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_all_subclasses(direct)}}


def used_keys() -> set[str]:
    keys: set[str] = set()
    for template in (SRC / "web" / "templates").rglob("*.html"):
        # Dynamic keys (`_("role." ~ member.role)`) end in a dot here; the enums below cover them.
        keys |= {k for k in re.findall(r"""_\(\s*['"]([a-z0-9_.-]+)['"]""", template.read_text()) if k[-1] not in "._"}
    for module in (SRC / "web").rglob("*.py"):
        keys |= set(re.findall(r"""translate\([^,]+,\s*['"]([a-z0-9_.-]+)['"]""", module.read_text()))
    keys |= {f"role.{r}" for r in Role} | {f"status.{s}" for s in StaffStatus}
    keys |= {f"worker.{h}" for h in WorkerHealth} | {f"locale.{code}" for code in LOCALES}
    keys |= {f"error.{cls.code}" for cls in _all_subclasses(DomainError)}
    domain_source = "\n".join(p.read_text() for p in (SRC / "domain").rglob("*.py"))
    domain_source += "\n".join(p.read_text() for p in (SRC / "web" / "controllers").rglob("*.py"))
    problems = (
        r'ValidationFailed\(\{\s*"(\w+)":\s*"(\w+)"\s*\}\)',  # ValidationFailed({"field": "problem"})
        r'errors\["(\w+)"\]\s*=\s*"(\w+)"',  # errors["field"] = "problem"
        r'\(\{"(\w+)":\s*"(\w+)"\}\)',  # super().__init__({"field": "problem"})
    )
    for pattern in problems:
        for field, problem in re.findall(pattern, domain_source):
            keys |= {f"field.{field}", f"error.{problem}"}
    keys |= {f"error.{problem}" for problem in re.findall(r'BadCodeFile\("(\w+)"', domain_source + _adapter_source())}
    keys |= {f"http.{status}" for status in (400, 401, 403, 404, 405, 429, 500, 503)} | {"http.csrf"}
    keys |= {f"order_status.{s}" for s in OrderStatus} | {f"attention.{a}" for a in Attention}
    keys |= {f"channel.{c}" for c in Channel} | {f"notification.{n}" for n in NOTIFICATION_STATES}
    # Timeline entries: order.record(now, "kind", …) and the reasons given to order.move(…, now, "reason").
    keys |= {f"event.{kind}" for kind in re.findall(r'\.record\(\s*\w+,\s*"(\w+)"', domain_source)}
    keys |= {f"reason.{why}" for why in re.findall(r'move\(\s*[\w.]+,\s*\w+,\s*"(\w+)"', domain_source)}
    orders_source = (SRC / "domain" / "orders.py").read_text()
    keys |= {f"reason.{why}" for pair in re.findall(r'"(\w+)" if [\w.]+ else "(\w+)"', orders_source) for why in pair}
    return keys


def _adapter_source() -> str:
    return "\n".join(p.read_text() for p in (SRC / "adapters").rglob("*.py"))


@pytest.mark.parametrize("locale", LOCALES)
def test_every_key_the_ui_uses_is_translated(locale):
    missing = sorted(key for key in used_keys() if key not in catalog(locale))
    assert not missing, f"{locale} lacks {missing}"


def test_both_catalogs_hold_the_same_keys():
    assert set(catalog("en")) == set(catalog("zh-CN"))


def test_placeholders_match_across_catalogs():
    for key, english in catalog("en").items():
        assert set(re.findall(r"\{(\w+)\}", english)) == set(re.findall(r"\{(\w+)\}", catalog("zh-CN")[key])), key


def test_translate_fills_parameters_and_falls_back():
    assert translate("en", "error.login_throttled", minutes=3) == "Too many failed sign-ins. Try again in 3 minutes."
    assert translate("zh-CN", "nav.staff") == "员工"
    assert translate("zh-CN", "no.such.key") == "no.such.key"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("zh-TW", "zh-CN"),
        ("fr-FR,en;q=0.5,zh;q=0.4", "en"),
        ("en;q=0.2,zh;q=0.9", "zh-CN"),
        ("fr,de", None),
        ("", None),
        (None, None),
        ("en;q=bogus,zh", "zh-CN"),
    ],
)
def test_accept_language_negotiation(header, expected):
    assert negotiate(header) == expected


def test_the_error_scan_sees_domain_errors():
    # Guards against the subclass scan silently finding nothing if imports move.
    found = _all_subclasses(DomainError)
    assert {
        domain.staff.LastOwner,
        domain.services.ordering.NoSuchOrder,
        domain.services.delivery.NothingToFulfil,
    } <= found
