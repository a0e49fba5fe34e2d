"""The unit of work and repositories on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from adapters.db.uow import SqlUnitOfWorkFactory
from domain.audit import Actor, AuditEntry
from domain.operations import WorkerBeat
from domain.staff import Role, StaffMember, UsernameTaken

NOW = datetime(2026, 11, 1, 8, 0, 0, 123456, tzinfo=UTC)


def member(username: str = "alice", role: Role = Role.OPERATOR) -> StaffMember:
    return StaffMember.register(username, username.title(), role, NOW).with_password("argon2-hash")


async def test_nothing_is_kept_unless_committed(container):
    uow = SqlUnitOfWorkFactory(container.engine)
    async with uow() as tx:
        await tx.staff.add(member())
    async with uow() as tx:
        await tx.staff.add(member("bob"))
        await tx.commit()
    with pytest.raises(RuntimeError):
        async with uow() as tx:
            await tx.staff.add(member("carol"))
            raise RuntimeError("half-way failure")
    async with uow(read_only=True) as tx:
        assert [m.username for m in await tx.staff.all()] == ["bob"]


async def test_a_member_round_trips_exactly(container):
    uow = SqlUnitOfWorkFactory(container.engine)
    original, _ = StaffMember.register("dora", "朵拉", Role.FINANCE, NOW).invited(NOW)
    async with uow() as tx:
        stored = await tx.staff.add(original)
        await tx.commit()
    async with uow(read_only=True) as tx:
        loaded = await tx.staff.get(stored.id)
        by_token = await tx.staff.by_invite_token_hash(original.invite_token_hash)
    assert loaded == stored == by_token
    assert loaded.created_at == NOW and loaded.created_at.tzinfo is not None
    assert loaded.invite_expires_at == original.invite_expires_at


async def test_a_duplicate_username_leaves_the_transaction_usable(container):
    uow = SqlUnitOfWorkFactory(container.engine)
    async with uow() as tx:
        await tx.staff.add(member())
        with pytest.raises(UsernameTaken):
            await tx.staff.add(member())
        await tx.staff.add(member("bob"))
        await tx.audit.record(AuditEntry(NOW, Actor.cli(), "staff.create", "bob", {"role": "operator"}))
        await tx.commit()
    async with uow(read_only=True) as tx:
        assert len(await tx.staff.all()) == 2
        [entry] = await tx.audit.page(before_id=None, limit=10)
    assert (entry.action, entry.actor.kind, entry.details) == ("staff.create", "cli", {"role": "operator"})


async def test_a_read_only_unit_of_work_refuses_to_commit(container):
    async with SqlUnitOfWorkFactory(container.engine)(read_only=True) as tx:
        with pytest.raises(RuntimeError):
            await tx.commit()


async def test_audit_pages_run_newest_first(container):
    uow = SqlUnitOfWorkFactory(container.engine)
    async with uow() as tx:
        for n in range(7):
            await tx.audit.record(AuditEntry(NOW + timedelta(seconds=n), Actor.cli(), f"a{n}"))
        await tx.commit()
    async with uow(read_only=True) as tx:
        first = await tx.audit.page(before_id=None, limit=3)
        second = await tx.audit.page(before_id=first[-1].id, limit=3)
        last = await tx.audit.page(before_id=second[-1].id, limit=3)
    assert [e.action for e in first + second + last] == ["a6", "a5", "a4", "a3", "a2", "a1", "a0"]


async def test_worker_beats_upsert_and_forget_long_gone_workers(container):
    uow = SqlUnitOfWorkFactory(container.engine)
    async with uow() as tx:
        await tx.worker_beats.record(WorkerBeat("old:1", NOW - timedelta(days=2), timedelta(0)))
        await tx.worker_beats.record(WorkerBeat("w:1", NOW - timedelta(seconds=30), timedelta(milliseconds=5)))
        await tx.worker_beats.record(WorkerBeat("w:1", NOW, timedelta(milliseconds=7)))
        await tx.commit()
    async with uow(read_only=True) as tx:
        assert await tx.worker_beats.all() == [WorkerBeat("w:1", NOW, timedelta(milliseconds=7))]


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(container):
    if container.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    async with container.engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 30_000


async def test_sqlite_write_transactions_take_the_write_lock_at_begin(container, settings):
    """BEGIN IMMEDIATE: a writer holds the lock from its first moment, so two writers never deadlock on upgrade."""
    if container.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    path = settings.effective_database_url.split("///", 1)[1]
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with SqlUnitOfWorkFactory(container.engine)() as _writer:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            async with SqlUnitOfWorkFactory(container.engine)(read_only=True) as reader:
                assert await reader.staff.all() == []  # readers are not blocked by the writer
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_two_owners_disabling_each_other_at_once_leave_one_owner(container):
    """The last-owner rule holds under a real race: one disable wins, the other sees the last owner."""
    admin = container.staff_admin
    ann = await admin.create("ann", "", Role.OWNER, "ann's long password", Actor.cli())
    ben = await admin.create("ben", "", Role.OWNER, "ben's long password", Actor.cli())
    as_ann = Actor.staff(ann.id, "ann", None)
    as_ben = Actor.staff(ben.id, "ben", None)
    for _ in range(5):
        results = await asyncio.gather(
            admin.disable(ben.id, as_ann), admin.disable(ann.id, as_ben), return_exceptions=True
        )
        assert sorted(type(r).__name__ for r in results) == ["LastOwner", "StaffMember"]
        assert sum(m.is_active_owner for m in await admin.team()) == 1
        survivor = next(m for m in await admin.team() if m.is_active_owner)
        other = ben if survivor.id == ann.id else ann
        await admin.enable(other.id, Actor.cli())


async def test_a_sign_in_racing_a_disable_never_revives_the_account(container):
    """Sign-in saves the member it read; a row lock keeps it from writing back a stale 'active'."""
    admin = container.staff_admin
    await admin.create("boss", "", Role.OWNER, "boss's long password", Actor.cli())
    clerk = await admin.create("carl", "", Role.CLERK, "carl's long password", Actor.cli())
    for _ in range(5):
        await asyncio.gather(
            container.sign_in.log_in("carl", "carl's long password", "10.0.0.1"),
            admin.disable(clerk.id, Actor.cli()),
            return_exceptions=True,
        )
        assert (await admin.get(clerk.id)).status.value == "disabled"
        await admin.enable(clerk.id, Actor.cli())


async def test_an_invite_link_raced_by_two_tabs_is_used_once(container):
    admin = container.staff_admin
    _, token = await admin.invite("dana", "", Role.CLERK, Actor.cli())
    results = await asyncio.gather(
        admin.accept_invite(token, "first tab password", None),
        admin.accept_invite(token, "second tab password", None),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["InvalidInvite", "StaffMember"]
    assert [e.action for e in await container.operations.audit_page(None)].count("staff.accept_invite") == 1
