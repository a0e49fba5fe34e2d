"""Staff accounts: validation, invites, roles, the last-owner rule, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import ValidationFailed
from domain.staff import (
    INVITE_TTL,
    STAFF_ROLES,
    InvalidInvite,
    LastOwner,
    Permission,
    Role,
    StaffMember,
    StaffStatus,
    validate_password,
)
from tests.unit.fakes import FixedClock

NOW = FixedClock().now()


def active(role: Role = Role.OPERATOR, username: str = "alice") -> StaffMember:
    return StaffMember.register(username, "Alice", role, NOW).with_password("hash")


def test_register_normalises_the_username_and_defaults_the_display_name():
    member = StaffMember.register("  Alice.W ", "  ", "finance", NOW)
    assert (member.username, member.display_name, member.role) == ("alice.w", "alice.w", Role.FINANCE)
    assert member.status is StaffStatus.INVITED and member.password_hash is None


@pytest.mark.parametrize(
    ("username", "name", "role", "field", "problem"),
    [
        ("ab", "x", "clerk", "username", "invalid_username"),
        ("-dash", "x", "clerk", "username", "invalid_username"),
        ("has space", "x", "clerk", "username", "invalid_username"),
        ("a" * 33, "x", "clerk", "username", "invalid_username"),
        ("alice", "x" * 65, "clerk", "display_name", "too_long"),
        ("alice", "x", "admin", "role", "invalid_role"),
    ],
)
def test_register_names_each_invalid_field(username, name, role, field, problem):
    with pytest.raises(ValidationFailed) as caught:
        StaffMember.register(username, name, role, NOW)
    assert caught.value.errors == {field: problem}


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "password_too_short"), ("x" * 129, "password_too_long"), ("Alice.Smith", "password_is_username")],
)
def test_password_policy(password, problem):
    with pytest.raises(ValidationFailed) as caught:
        validate_password(password, "alice.smith")
    assert caught.value.errors == {"password": problem}


def test_a_long_passphrase_is_accepted():
    validate_password("correct horse battery staple", "alice")


def test_setting_a_password_activates_an_invited_account_and_ends_other_sessions():
    member = StaffMember.register("alice", "", Role.CLERK, NOW)
    updated = member.with_password("h")
    assert updated.status is StaffStatus.ACTIVE
    assert updated.auth_version == member.auth_version + 1


def test_an_invite_works_with_its_token_until_it_expires():
    member, token = StaffMember.register("bob", "", Role.SUPPORT, NOW).invited(NOW)
    assert member.invite_token_hash and token not in member.invite_token_hash
    member.check_invite(token, NOW + INVITE_TTL - timedelta(seconds=1))
    with pytest.raises(InvalidInvite):
        member.check_invite(token, NOW + INVITE_TTL)
    with pytest.raises(InvalidInvite):
        member.check_invite(token + "x", NOW)


def test_an_accepted_invite_cannot_be_used_again():
    member, token = StaffMember.register("bob", "", Role.SUPPORT, NOW).invited(NOW)
    accepted = member.with_password("h")
    with pytest.raises(InvalidInvite):
        accepted.check_invite(token, NOW)


def test_only_accounts_without_a_password_can_be_invited():
    with pytest.raises(InvalidInvite):
        active().invited(NOW)


def test_a_new_invite_replaces_the_old_link():
    member, first = StaffMember.register("bob", "", Role.SUPPORT, NOW).invited(NOW)
    member, second = member.invited(NOW)
    member.check_invite(second, NOW)
    with pytest.raises(InvalidInvite):
        member.check_invite(first, NOW)


def test_the_last_active_owner_can_be_neither_demoted_nor_disabled():
    owner = active(Role.OWNER)
    with pytest.raises(LastOwner):
        owner.with_role(Role.OPERATOR, active_owners=1)
    with pytest.raises(LastOwner):
        owner.disabled(active_owners=1)
    assert owner.with_role(Role.OPERATOR, active_owners=2).role is Role.OPERATOR
    assert owner.disabled(active_owners=2).status is StaffStatus.DISABLED


def test_role_change_and_disable_end_existing_sessions():
    member = active()
    assert member.with_role(Role.FINANCE, active_owners=1).auth_version == member.auth_version + 1
    assert member.disabled(active_owners=1).auth_version == member.auth_version + 1


def test_enabling_returns_an_account_to_where_it_was():
    assert active().disabled(1).enabled().status is StaffStatus.ACTIVE
    invited = StaffMember.register("bob", "", Role.CLERK, NOW)
    assert invited.disabled(1).enabled().status is StaffStatus.INVITED


def test_permissions_follow_the_role_and_need_an_active_account():
    assert active(Role.OWNER).can(Permission.MANAGE_STAFF)
    assert not active(Role.OPERATOR).can(Permission.MANAGE_STAFF)
    assert not active(Role.FINANCE).can(Permission.VIEW_AUDIT)
    assert all(active(role).can(Permission.USE_ADMIN) for role in STAFF_ROLES)
    assert not any(active(role).can(Permission.USE_PORTAL) for role in STAFF_ROLES)


def test_a_reseller_login_opens_its_portal_only_and_never_becomes_staff():
    login = StaffMember.register("shop-a", "", Role.RESELLER, NOW, reseller_id=7).with_password("h")
    assert login.can(Permission.USE_PORTAL) and login.reseller_id == 7
    assert not any(login.can(p) for p in Permission if p is not Permission.USE_PORTAL)
    with pytest.raises(ValidationFailed):
        StaffMember.register("shop-b", "", Role.RESELLER, NOW)  # a reseller login names its reseller
    with pytest.raises(ValidationFailed):
        StaffMember.register("clerk", "", Role.CLERK, NOW, reseller_id=7)
    with pytest.raises(ValidationFailed):
        login.with_role(Role.OWNER, active_owners=1)
    with pytest.raises(ValidationFailed):
        active(Role.CLERK).with_role(Role.RESELLER, active_owners=1)
    assert not active(Role.OWNER).disabled(active_owners=2).can(Permission.USE_ADMIN)
    assert not StaffMember.register("bob", "", Role.OWNER, NOW).can(Permission.USE_ADMIN)


def test_locale_must_be_supported():
    assert active().with_locale("en").locale == "en"
    with pytest.raises(ValidationFailed):
        active().with_locale("fr")


def test_disabling_an_invited_account_kills_its_invite_for_good():
    member, token = StaffMember.register("bob", "", Role.SUPPORT, NOW).invited(NOW)
    revived = member.disabled(active_owners=1).enabled()
    assert revived.status is StaffStatus.INVITED
    with pytest.raises(InvalidInvite):
        revived.check_invite(token, NOW)


def test_choosing_the_same_role_changes_nothing():
    member = active()
    assert member.with_role(member.role, active_owners=1) is member
