"""Signing in: credentials, throttling per account and per address, rehashing, session validity."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain.audit import Actor
from domain.staff import InvalidCredentials, LoginThrottled, Role, WrongPassword

PASSWORD = "a long enough password"


async def enrol(world, username="alice", role=Role.OPERATOR):
    return await world.staff_admin.create(username, "", role, PASSWORD, Actor.cli())


async def test_the_right_password_signs_in_and_is_audited(world):
    member = await enrol(world)
    signed_in = await world.sign_in.log_in(" Alice ", PASSWORD, "10.0.0.1")
    assert signed_in.id == member.id
    assert world.db.committed.staff[member.id].last_login_at == world.clock.now()
    entry = world.db.committed.audit[-1]
    assert (entry.action, entry.actor.name, entry.actor.ip) == ("staff.login", "alice", "10.0.0.1")


async def test_a_wrong_password_is_refused_and_audited_without_the_password(world):
    await enrol(world)
    with pytest.raises(InvalidCredentials):
        await world.sign_in.log_in("alice", "wrong password!", "10.0.0.1")
    entry = world.db.committed.audit[-1]
    assert entry.action == "staff.login_failed" and entry.target == "alice"
    assert "wrong password!" not in repr(entry)


async def test_an_unknown_user_costs_a_full_password_check(world):
    with pytest.raises(InvalidCredentials):
        await world.sign_in.log_in("nobody", PASSWORD, "10.0.0.1")
    assert world.passwords.verified == ["v2$decoy-never-matches"]


async def test_a_disabled_account_cannot_sign_in_even_with_its_password(world):
    await enrol(world, "boss", Role.OWNER)
    member = await enrol(world)
    await world.staff_admin.disable(member.id, Actor.cli())
    with pytest.raises(InvalidCredentials):
        await world.sign_in.log_in("alice", PASSWORD, "10.0.0.1")


async def test_an_account_is_throttled_after_five_failures_even_for_the_right_password(world):
    await enrol(world)
    for attempt in range(5):
        with pytest.raises(InvalidCredentials):
            await world.sign_in.log_in("alice", f"guess {attempt}", f"10.0.0.{attempt}")
    with pytest.raises(LoginThrottled) as caught:
        await world.sign_in.log_in("alice", PASSWORD, "10.0.0.99")
    assert caught.value.retry_after <= timedelta(minutes=15)
    assert world.db.audit_actions[-1] == "staff.login_throttled"
    world.clock.advance(timedelta(minutes=15))
    assert (await world.sign_in.log_in("alice", PASSWORD, "10.0.0.99")).username == "alice"


async def test_one_address_guessing_many_accounts_is_throttled(world):
    for attempt in range(30):
        with pytest.raises(InvalidCredentials):
            await world.sign_in.log_in(f"user{attempt}", "guess guess", "10.9.9.9")
    await enrol(world)
    with pytest.raises(LoginThrottled):
        await world.sign_in.log_in("alice", PASSWORD, "10.9.9.9")
    assert (await world.sign_in.log_in("alice", PASSWORD, "10.0.0.2")).username == "alice"


async def test_successful_sign_ins_do_not_use_up_the_address_allowance(world):
    await enrol(world)
    for _ in range(40):
        await world.sign_in.log_in("alice", PASSWORD, "10.0.0.1")


async def test_a_success_clears_the_account_failures(world):
    await enrol(world)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            await world.sign_in.log_in("alice", "nope nope nope", "10.0.0.1")
    await world.sign_in.log_in("alice", PASSWORD, "10.0.0.1")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.sign_in.log_in("alice", "nope nope nope", "10.0.0.1")


async def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(world):
    member = await enrol(world)
    world.db.committed.staff[member.id] = replace(member, password_hash=f"v1${PASSWORD}")
    signed_in = await world.sign_in.log_in("alice", PASSWORD, "10.0.0.1")
    assert world.db.committed.staff[member.id].password_hash == f"v2${PASSWORD}"
    assert signed_in.auth_version == member.auth_version, "a rehash must not end the session"


async def test_a_session_ends_when_the_account_changes(world):
    await enrol(world, "boss", Role.OWNER)
    member = await enrol(world)
    assert await world.sign_in.session_member(member.id, member.auth_version) is not None
    changed = await world.staff_admin.change_role(member.id, Role.FINANCE, Actor.cli())
    assert await world.sign_in.session_member(member.id, member.auth_version) is None
    assert await world.sign_in.session_member(member.id, changed.auth_version) is not None
    await world.staff_admin.disable(member.id, Actor.cli())
    assert await world.sign_in.session_member(member.id, changed.auth_version + 1) is None


async def test_names_no_account_could_have_keep_no_counter_but_cost_a_hash(world):
    for junk in ("x" * 5000, "a b", "<script>"):
        with pytest.raises(InvalidCredentials):
            await world.sign_in.log_in(junk, "whatever password", "10.0.0.1")
    assert not any(key.startswith("login:account:") for key in world.counters._windows)
    assert world.passwords.verified == ["v2$decoy-never-matches"] * 3
    assert all(len(entry.target) <= 64 for entry in world.db.committed.audit)


async def test_a_throttle_flood_writes_one_audit_line_per_limit_reached(world):
    for _ in range(100):
        with pytest.raises((InvalidCredentials, LoginThrottled)):
            await world.sign_in.log_in("nobody", "guess guess", "10.0.0.9")
    # The account limit (5) is reached first; the address limit (30) later: one line each, not 95.
    assert world.db.audit_actions.count("staff.login_throttled") == 2


async def test_confirming_a_password_is_throttled_apart_from_logins(world):
    member = await enrol(world)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.sign_in.log_in("alice", "wrong wrong", "10.0.0.1")
    await world.sign_in.confirm(member, PASSWORD, "10.0.0.2")
    for _ in range(5):
        with pytest.raises(WrongPassword):
            await world.sign_in.confirm(member, "not it at all", "10.0.0.2")
    with pytest.raises(LoginThrottled):
        await world.sign_in.confirm(member, PASSWORD, "10.0.0.2")
