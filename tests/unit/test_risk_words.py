"""The risk pages say every rule type, key, measure, action and list in words (risk/_words.html builds these keys
at run time, so the template scan in test_catalogs cannot see them)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from domain.orders import Channel
from domain.risk import CONDITIONS, Action, AttemptKind, EntryKind, Key, ListKind, Measure
from domain.staff import LOCALES
from web.controllers.risk import RuleForm
from web.i18n import catalog

LIMITED = ("velocity", "low_value_burst", "daily_cap", "order_cap", "unpaid_held")  # the types with a limit field


def risk_keys() -> set[str]:
    keys = {f"risk.{part}.{kind}" for kind in CONDITIONS for part in ("type", "type_hint", "check", "saw")}
    keys |= {f"risk.limit_hint.{kind}" for kind in LIMITED}
    keys |= {f"risk.saw.{kind}_list" for kind in ListKind} | {f"risk.list.{k}" for k in ListKind}
    keys |= {f"risk.list_hint.{kind}" for kind in ListKind} | {f"risk.entry_kind.{kind}" for kind in EntryKind}
    keys |= {f"risk.key.{key}" for key in Key} | {f"risk.measure_name.{m}" for m in Measure}
    counted = [m for m in Measure if m is not Measure.AMOUNT]  # amounts are shown in yuan
    keys |= {f"risk.measure.{m}{one}" for m in counted for one in ("", "_one")}
    keys |= {f"risk.window.{unit}{one}" for unit in ("minutes", "hours", "days") for one in ("", "_one")}
    keys |= {f"risk.action.{action}" for action in Action}
    keys |= {f"risk.{part}.{kind}" for kind in AttemptKind for part in ("applies", "attempt")}
    keys |= {f"channel.{channel}" for channel in Channel}
    keys |= {f"field.{field.name}" for field in fields(RuleForm)} | {"field.list", "field.kind", "field.value"}
    return keys


@pytest.mark.parametrize("locale", LOCALES)
def test_every_rule_type_key_measure_action_and_list_has_its_words(locale):
    missing = sorted(key for key in risk_keys() if key not in catalog(locale))
    assert not missing, f"{locale} lacks {missing}"
