"""Staff management use cases, with the audit trail they leave."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.audit import Actor
from domain.errors import NotFound, ValidationFailed
from domain.staff import INVITE_TTL, InvalidInvite, LastOwner, NotYourself, Role, StaffStatus, UsernameTaken

PASSWORD = "a long enough password"


def owner_actor(member) -> Actor:
    return Actor.staff(member.id, member.username, "10.0.0.1")


async def test_the_first_owner_is_created_once_with_a_generated_password(world):
    first = await world.staff_admin.ensure_first_owner(None)
    assert first.username == "owner" and len(first.generated_password) >= 16
    assert (await world.sign_in.log_in("owner", first.generated_password, "1.1.1.1")).role is Role.OWNER
    assert await world.staff_admin.ensure_first_owner(None) is None


async def test_the_first_owner_can_take_a_given_password(world):
    first = await world.staff_admin.ensure_first_owner("owner's chosen password")
    assert first.generated_password is None
    await world.sign_in.log_in("owner", "owner's chosen password", "1.1.1.1")


async def test_usernames_are_unique_and_nothing_is_written_for_a_duplicate(world):
    await world.staff_admin.create("alice", "", Role.CLERK, PASSWORD, Actor.cli())
    commits = world.db.commits
    with pytest.raises(UsernameTaken):
        await world.staff_admin.create("ALICE", "", Role.CLERK, PASSWORD, Actor.cli())
    assert world.db.commits == commits


async def test_a_weak_password_is_refused_before_anything_is_stored(world):
    with pytest.raises(ValidationFailed):
        await world.staff_admin.create("alice", "", Role.CLERK, "short", Actor.cli())
    assert world.db.committed.staff == {}


async def test_an_invitee_sets_a_password_once_and_can_then_sign_in(world):
    owner = await world.staff_admin.create("boss", "", Role.OWNER, PASSWORD, Actor.cli())
    member, token = await world.staff_admin.invite("bob", "Bob", "support", owner_actor(owner))
    assert member.status is StaffStatus.INVITED
    assert (await world.staff_admin.invitee(token)).username == "bob"
    await world.staff_admin.accept_invite(token, "bob's new password", "10.0.0.2")
    assert (await world.sign_in.log_in("bob", "bob's new password", "10.0.0.2")).role is Role.SUPPORT
    with pytest.raises(InvalidInvite):
        await world.staff_admin.accept_invite(token, "another password", "10.0.0.2")
    actions = world.db.audit_actions
    assert actions.index("staff.invite") < actions.index("staff.accept_invite") < actions.index("staff.login")


async def test_an_expired_invite_is_refused(world):
    owner = await world.staff_admin.create("boss", "", Role.OWNER, PASSWORD, Actor.cli())
    _, token = await world.staff_admin.invite("bob", "", "support", owner_actor(owner))
    world.clock.advance(INVITE_TTL + timedelta(seconds=1))
    with pytest.raises(InvalidInvite):
        await world.staff_admin.accept_invite(token, "bob's new password", None)


async def test_reinviting_invalidates_the_previous_link(world):
    owner = await world.staff_admin.create("boss", "", Role.OWNER, PASSWORD, Actor.cli())
    member, old = await world.staff_admin.invite("bob", "", "support", owner_actor(owner))
    _, new = await world.staff_admin.reinvite(member.id, owner_actor(owner))
    with pytest.raises(InvalidInvite):
        await world.staff_admin.invitee(old)
    assert (await world.staff_admin.invitee(new)).username == "bob"


async def test_role_changes_are_audited_with_before_and_after(world):
    owner = await world.staff_admin.create("boss", "", Role.OWNER, PASSWORD, Actor.cli())
    clerk = await world.staff_admin.create("carl", "", Role.CLERK, PASSWORD, Actor.cli())
    await world.staff_admin.change_role(clerk.id, "finance", owner_actor(owner))
    entry = world.db.committed.audit[-1]
    assert entry.action == "staff.change_role" and entry.details == {"before": Role.CLERK, "after": Role.FINANCE}
    assert entry.actor.name == "boss"


async def test_an_owner_cannot_change_their_own_role_or_disable_themselves(world):
    owner = await world.staff_admin.create("boss", "", Role.OWNER, PASSWORD, Actor.cli())
    await world.staff_admin.create("boss2", "", Role.OWNER, PASSWORD, Actor.cli())
    with pytest.raises(NotYourself):
        await world.staff_admin.change_role(owner.id, "clerk", owner_actor(owner))
    with pytest.raises(NotYourself):
        await world.staff_admin.disable(owner.id, owner_actor(owner))


async def test_the_last_owner_stays(world):
    owner = await world.staff_admin.create("boss", "", Role.OWNER, PASSWORD, Actor.cli())
    with pytest.raises(LastOwner):
        await world.staff_admin.disable(owner.id, Actor.cli())
    with pytest.raises(LastOwner):
        await world.staff_admin.change_role(owner.id, "operator", Actor.cli())
    assert world.db.committed.staff[owner.id].is_active_owner


async def test_unknown_staff_is_not_found(world):
    with pytest.raises(NotFound):
        await world.staff_admin.disable(404, Actor.cli())
    with pytest.raises(NotFound):
        await world.staff_admin.by_username("ghost")
