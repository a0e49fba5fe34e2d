"""The gate every order and order lookup passes, on every channel, before anything is written: the merchant's
rules judge the attempt (domain.risk) and the gate says what happens — go on, wait for review, solve a challenge
first, or stop. Refusals and anything a rule matched go to the decision log."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import NoReturn

from domain.orders import SIGNED_CHANNELS, Channel, Order
from domain.ports import BotChallenges, Clock, Counters, UnitOfWork, UnitOfWorkFactory
from domain.risk import (
    Action,
    Attempt,
    ChallengeRequired,
    Decision,
    Key,
    NewContact,
    RiskBlocked,
    Rule,
    UnpaidHeld,
    counts_for,
    judge,
)

# Who can answer a challenge: a buyer in a browser solves it; a signed-in person (staff, a reseller in its
# portal) already proved to be one; an API call cannot, so its order waits for review instead.
SIGNED_IN = SIGNED_CHANNELS - {Channel.API}


@dataclass(frozen=True, slots=True)
class RiskGate:
    uow: UnitOfWorkFactory
    counters: Counters
    challenges: BotChallenges
    clock: Clock
    zone: tzinfo

    async def weigh(self, uow: UnitOfWork, attempt: Attempt, *, solution: str = "") -> Decision:
        """The decision on an attempt (read through the caller's unit of work; counters are shared and atomic).
        Writes nothing: the caller keeps it with the order (`keep`) or refuses (`refuse`) once its own unit of
        work is over."""
        rules = await uow.risk.rules(enabled_only=True)
        entries = await uow.risk.listed(attempt)
        attempt = await _with_facts(uow, attempt, [rule for rule in rules if rule.in_scope(attempt)])
        totals: dict[str, int] = {}
        for count in counts_for(attempt, rules, self.zone):
            if count.sliding:
                totals[count.key] = (await self.counters.slide(count.key, count.amount, count.window)).total
            else:
                totals[count.key] = (await self.counters.add(count.key, count.amount, count.window)).count
        verdict = judge(attempt, rules, entries, totals, self.zone)
        solved = attempt.channel in SIGNED_IN
        if verdict.action is Action.CHALLENGE and solution and not solved:
            solved = await self.challenges.redeem(solution)
        outcome = verdict.settled(can_challenge=attempt.channel is Channel.SHOP, solved=solved)
        return Decision(attempt, verdict, outcome)

    async def check_lookup(self, attempt: Attempt, *, solution: str = "") -> None:
        """An order lookup goes on, or raises (see `refuse`)."""
        async with self.uow(read_only=True) as uow:
            decision = await self.weigh(uow, attempt, solution=solution)
        if decision.outcome in (Action.BLOCK, Action.CHALLENGE):
            await self.refuse(decision)
        if decision.verdict.matches:
            await self._log(decision)

    @staticmethod
    async def keep(uow: UnitOfWork, decision: Decision, order: Order) -> None:
        """Within the order's unit of work, before the order is stored: what the rules matched goes on the order
        and into the decision log."""
        if decision.verdict.matches:
            order.weighed(decision.verdict.reasons, decision.verdict.score)
            await uow.risk.record(replace(decision, order_number=order.number))

    async def refuse(self, decision: Decision) -> NoReturn:
        """Log the refusal in its own unit of work, then raise RiskBlocked or ChallengeRequired."""
        await self._log(decision)
        if decision.outcome is Action.CHALLENGE:
            raise ChallengeRequired("solve the challenge, then send the order again")
        raise RiskBlocked("refused by the merchant's risk rules")

    async def _log(self, decision: Decision) -> None:
        async with self.uow() as uow:
            await uow.risk.record(decision)
            await uow.commit()


async def _with_facts(uow: UnitOfWork, attempt: Attempt, rules: list[Rule]) -> Attempt:
    """Contact history and unpaid units cost a query each: read only when a rule in scope asks for them."""
    if attempt.contact and any(isinstance(rule.condition, NewContact) for rule in rules):
        attempt = replace(attempt, contact_orders=await uow.orders.paid_orders_of_contact(attempt.contact))
    if any(isinstance(rule.condition, UnpaidHeld) for rule in rules):
        keys = {Key.CONTACT: attempt.contact, Key.IP: attempt.ip, Key.DEVICE: attempt.device}
        held = await uow.orders.unpaid_units({k.value: v for k, v in keys.items() if v})
        attempt = replace(attempt, unpaid_units={Key(kind): units for kind, units in held.items()})
    return attempt
