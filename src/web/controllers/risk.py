"""Risk control in the merchant admin: the rules (with a dry run on past orders), the block and allow lists, and
the decision log. Owners and operators change them; finance and support read them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.orders import Channel, Contact, ContactKind
from domain.paging import PageRequest
from domain.risk import CONDITIONS, Action, AttemptKind, EntryKind, Key, ListKind, Measure
from domain.services.risk_desk import DRY_RUN_DEFAULT, RiskDesk
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.auth import go
from web.controllers.forms import Form, Many, many
from web.controllers.params import PageNumber, RowId
from web.i18n import locale_of, translate

MANAGE = [requires(Permission.MANAGE_RISK)]
DECISIONS_PAGE = 50
DRY_RUN_SHOWN = 200  # rows of caught orders shown; the count covers them all
NEW_RULE = {"type": "velocity", "key": "ip", "measure": "orders", "window_minutes": "60", "action": "review"}


@dataclass
class RuleForm:
    name: str = ""
    reason: str = ""
    action: str = ""
    score: str = ""  # empty: the action's default score
    applies_to: str = "order"
    channels: Many = ""  # checkboxes; none ticked: every channel
    sku: str = ""  # empty: every product
    type: str = ""
    key: str = ""
    measure: str = ""
    limit: str = ""
    window_minutes: str = ""
    face_value_max: str = ""
    amount_over: str = ""
    younger_than_days: str = ""
    start: str = ""
    end: str = ""
    last: str = ""  # the dry run: how many of the last orders to replay

    def values(self) -> dict[str, str]:
        """The rule's fields as RiskDesk reads them."""
        typed = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("channels", "last")}
        return typed | {"channels": ",".join(c for c in many(self.channels) if c)}


@dataclass
class EnabledForm:
    enabled: str = ""


@dataclass
class EntryForm:
    list: str = ""
    kind: str = ""
    value: str = ""
    note: str = ""


class RiskController(Controller):
    path = "/admin/risk"
    include_in_schema = False
    guards = [requires(Permission.VIEW_RISK)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def rules(self, risk_desk: NamedDependency[RiskDesk]) -> Template:
        return Template("risk/rules.html", context={"book": await risk_desk.rule_book()})

    @get("/rules/new", guards=MANAGE)
    async def new_rule(self) -> Template:
        return _form(None, NEW_RULE)

    @get("/rules/{rule_id:int}/edit", guards=MANAGE)
    async def edit_rule(self, rule_id: RowId, risk_desk: NamedDependency[RiskDesk]) -> Template:
        return _form(rule_id, await risk_desk.form(rule_id))

    @get("/rules/params", guards=MANAGE)
    async def params(self, request: Request[Any, Any, Any]) -> Template:
        """The fields of the rule type chosen, keeping what was typed (the form swaps them in on a type change)."""
        return Template("risk/_params.html", context=_choices() | {"values": dict(request.query_params)})

    @post("/rules", guards=MANAGE, status_code=200)
    async def create_rule(
        self, request: HTMXRequest, data: Form[RuleForm], risk_desk: NamedDependency[RiskDesk]
    ) -> Response[Any]:
        rule = await risk_desk.create_rule(data.values(), actor(request))
        flash(request, translate(locale_of(request), "risk.rule_created", name=rule.name), "success")
        return go(request, "/admin/risk")

    @post("/rules/dry-run", guards=MANAGE, status_code=200)
    async def dry_run(self, data: Form[RuleForm], risk_desk: NamedDependency[RiskDesk]) -> Template:
        """What the rule as typed would have caught; nothing is saved."""
        result = await risk_desk.dry_run(data.values(), data.last)
        return Template("risk/_dry_run.html", context={"run": result, "shown": DRY_RUN_SHOWN})

    @post("/rules/{rule_id:int}", guards=MANAGE, status_code=200)
    async def save_rule(
        self, request: HTMXRequest, rule_id: RowId, data: Form[RuleForm], risk_desk: NamedDependency[RiskDesk]
    ) -> Response[Any]:
        rule = await risk_desk.edit_rule(rule_id, data.values(), actor(request))
        flash(request, translate(locale_of(request), "risk.rule_saved", name=rule.name), "success")
        return go(request, "/admin/risk")

    @post("/rules/{rule_id:int}/enabled", guards=MANAGE, status_code=200)
    async def set_enabled(
        self, request: HTMXRequest, rule_id: RowId, data: Form[EnabledForm], risk_desk: NamedDependency[RiskDesk]
    ) -> Template:
        rule = await risk_desk.set_enabled(rule_id, data.enabled == "1", actor(request))
        return Template("risk/_rule_row.html", context={"rule": rule, "skus": await risk_desk.skus([rule])})

    @get("/lists")
    async def lists(self, risk_desk: NamedDependency[RiskDesk]) -> Template:
        context = {"lists": await risk_desk.entries(), "entry_kinds": list(EntryKind)}
        return Template("risk/lists.html", context=context)

    @post("/lists", guards=MANAGE, status_code=200)
    async def add_entry(
        self, request: HTMXRequest, data: Form[EntryForm], risk_desk: NamedDependency[RiskDesk]
    ) -> Template:
        entry = await risk_desk.add_entry(data.list, data.kind, data.value, data.note, actor(request))
        return _list(entry.list, await risk_desk.list_entries(entry.list))

    @post("/lists/{entry_id:int}/remove", guards=MANAGE, status_code=200)
    async def remove_entry(
        self, request: HTMXRequest, entry_id: RowId, risk_desk: NamedDependency[RiskDesk]
    ) -> Template:
        entry = await risk_desk.remove_entry(entry_id, actor(request))
        return _list(entry.list, await risk_desk.list_entries(entry.list))

    @get("/decisions")
    async def decisions(
        self,
        request: Request[Any, Any, Any],
        risk_desk: NamedDependency[RiskDesk],
        outcome: FromQuery[str] = "",
        page: PageNumber = 1,
    ) -> Template:
        results = await risk_desk.decisions(PageRequest(page, DECISIONS_PAGE), outcome)
        context = {
            "results": results,
            "outcome": outcome if outcome in Action._value2member_map_ else "",
            "outcomes": list(Action),
            "contact": _contact_shown(request),
        }
        partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "decision-table"
        return Template("risk/_decisions.html" if partial else "risk/decisions.html", context=context)


def _form(rule_id: int | None, values: dict[str, str]) -> Template:
    context = _choices() | {"rule_id": rule_id, "values": values, "last": DRY_RUN_DEFAULT}
    return Template("risk/rule_form.html", context=context)


def _choices() -> dict[str, Any]:
    return {
        "types": list(CONDITIONS),
        "actions": list(Action),
        "attempt_kinds": list(AttemptKind),
        "channels": list(Channel),
        "keys": list(Key),
        "holding_keys": [Key.CONTACT, Key.IP, Key.DEVICE],  # unpaid units are held by these only
        "measures": list(Measure),
    }


def _list(list_kind: ListKind, entries: list[Any]) -> Template:
    return Template("risk/_list.html", context={"list_kind": list_kind, "entries": entries})


def _contact_shown(request: Request[Any, Any, Any]) -> Callable[[str | None], str]:
    """Contacts in full for those who may see codes (as on the order list), masked for everyone else."""
    full = request.user.can(Permission.REVEAL_CODES)

    def shown(value: str | None) -> str:
        if not value:
            return "—"
        return value if full else Contact(ContactKind.EMAIL if "@" in value else ContactKind.PHONE, value).masked

    return shown
