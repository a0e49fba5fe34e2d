"""Risk rules, block/allow lists and the decision log in SQL. Conditions are stored as their parameters (JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import risk_decisions, risk_list_entries, risk_rules
from domain.errors import ValidationFailed
from domain.orders import Channel
from domain.paging import Page, PageRequest
from domain.risk import (
    Action,
    Attempt,
    AttemptKind,
    Decision,
    EntryKind,
    ListEntry,
    ListKind,
    Match,
    Rule,
    Verdict,
    condition_from_params,
    condition_params,
    contact_key,
)


class SqlRisk:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def rules(self, *, enabled_only: bool = False) -> list[Rule]:
        query = select(risk_rules).order_by(risk_rules.c.id)
        if enabled_only:
            query = query.where(risk_rules.c.enabled)
        return [_rule(row) for row in (await self._db.execute(query)).mappings()]

    async def rule(self, rule_id: int) -> Rule | None:
        row = (await self._db.execute(select(risk_rules).where(risk_rules.c.id == rule_id))).mappings().first()
        return _rule(row) if row else None

    async def add_rule(self, rule: Rule, now: datetime) -> Rule:
        values = _rule_values(rule) | {"created_at": now, "updated_at": now}
        new_id = (await self._db.execute(insert(risk_rules).values(values).returning(risk_rules.c.id))).scalar_one()
        return await self.rule(new_id) or rule

    async def save_rule(self, rule: Rule, now: datetime) -> None:
        values = _rule_values(rule) | {"updated_at": now}
        await self._db.execute(update(risk_rules).where(risk_rules.c.id == rule.id).values(values))

    async def entries(self, list_kind: ListKind | None = None) -> list[ListEntry]:
        query = select(risk_list_entries).order_by(risk_list_entries.c.id.desc())
        if list_kind is not None:
            query = query.where(risk_list_entries.c.list == list_kind.value)
        return [_entry(row) for row in (await self._db.execute(query)).mappings()]

    async def listed(self, attempt: Attempt) -> list[ListEntry]:
        c = risk_list_entries.c
        named = {
            EntryKind.RECHARGE_ACCOUNT: attempt.recharge_account or None,
            EntryKind.DEVICE: attempt.device,
        }
        conditions = [c.kind == EntryKind.IP.value] if attempt.ip else []
        conditions += [(c.kind == kind.value) & (c.value == value) for kind, value in named.items() if value]
        if attempt.contact:  # entries hold the contact's key (one written before keys were kept: as typed)
            typed = {contact_key(attempt.contact), attempt.contact}
            conditions.append((c.kind == EntryKind.CONTACT.value) & c.value.in_(sorted(typed)))
        if not conditions:
            return []
        rows = await self._db.execute(select(risk_list_entries).where(or_(*conditions)))
        return [_entry(row) for row in rows.mappings()]

    async def add_entry(self, entry: ListEntry) -> ListEntry:
        values = {
            "list": entry.list.value,
            "kind": entry.kind.value,
            "value": entry.value,
            "note": entry.note,
            "created_at": entry.created_at,
            "created_by": entry.created_by,
        }
        try:
            async with self._db.begin_nested():
                insert_entry = insert(risk_list_entries).values(values).returning(risk_list_entries.c.id)
                new_id = (await self._db.execute(insert_entry)).scalar_one()
        except IntegrityError:
            raise ValidationFailed({"value": "already_listed"}) from None
        row = (await self._db.execute(select(risk_list_entries).where(risk_list_entries.c.id == new_id))).mappings()
        return _entry(row.one())

    async def remove_entry(self, entry_id: int) -> ListEntry | None:
        gone = await self._db.execute(
            delete(risk_list_entries).where(risk_list_entries.c.id == entry_id).returning(*risk_list_entries.c)
        )
        row = gone.mappings().first()
        return _entry(row) if row else None

    async def record(self, decision: Decision) -> None:
        a = decision.attempt
        await self._db.execute(
            insert(risk_decisions).values(
                at=a.at,
                kind=a.kind.value,
                channel=a.channel.value,
                outcome=decision.outcome.value,
                verdict=decision.verdict.action.value,
                score=decision.verdict.score,
                reasons=decision.verdict.reasons,
                ip=a.ip,
                device=a.device,
                contact=a.contact,
                recharge_account=a.recharge_account,
                reseller_id=a.reseller_id,
                product_id=a.product_id,
                quantity=a.quantity,
                amount_minor=a.amount,
                order_number=decision.order_number,
            )
        )

    async def decisions(self, page: PageRequest, outcome: Action | None = None) -> Page[Decision]:
        conditions = [risk_decisions.c.outcome == outcome.value] if outcome else []
        total = (
            await self._db.execute(select(func.count()).select_from(risk_decisions).where(*conditions))
        ).scalar_one()
        rows = await self._db.execute(
            select(risk_decisions)
            .where(*conditions)
            .order_by(risk_decisions.c.id.desc())
            .limit(page.size)
            .offset(page.offset)
        )
        return Page([_decision(row) for row in rows.mappings()], total, page)


def _rule_values(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "type": rule.condition.type,
        "params": condition_params(rule.condition),
        "action": rule.action.value,
        "reason": rule.reason,
        "score": rule.score,
        "applies_to": rule.applies_to.value,
        "channels": ",".join(sorted(rule.channels)),
        "product_id": rule.product_id,
        "enabled": rule.enabled,
        "version": rule.version,
    }


def _rule(row: RowMapping) -> Rule:
    return Rule(
        id=row["id"],
        name=row["name"],
        condition=condition_from_params(row["params"]),
        action=Action(row["action"]),
        reason=row["reason"],
        score=row["score"],
        applies_to=AttemptKind(row["applies_to"]),
        channels=frozenset(Channel(c) for c in row["channels"].split(",") if c),
        product_id=row["product_id"],
        enabled=row["enabled"],
        version=row["version"],
    )


def _entry(row: RowMapping) -> ListEntry:
    return ListEntry(
        id=row["id"],
        list=ListKind(row["list"]),
        kind=EntryKind(row["kind"]),
        value=row["value"],
        note=row["note"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _decision(row: RowMapping) -> Decision:
    attempt = Attempt(
        kind=AttemptKind(row["kind"]),
        channel=Channel(row["channel"]),
        at=row["at"],
        ip=row["ip"],
        device=row["device"],
        contact=row["contact"],
        recharge_account=row["recharge_account"],
        reseller_id=row["reseller_id"],
        product_id=row["product_id"],
        quantity=row["quantity"],
        amount=row["amount_minor"],
    )
    verdict = Verdict(Action(row["verdict"]), tuple(Match.from_dict(m) for m in row["reasons"]))
    return Decision(attempt, verdict, Action(row["outcome"]), row["order_number"], row["id"])
