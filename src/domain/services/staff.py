"""Managing the merchant's staff accounts: create, invite, change role, disable."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from domain.audit import Actor, AuditEntry
from domain.errors import NotFound
from domain.ports import Clock, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from domain.staff import (
    InvalidInvite,
    NotYourself,
    Role,
    StaffMember,
    hash_token,
    normalize_username,
    validate_password,
)

FIRST_OWNER = "owner"


@dataclass(frozen=True, slots=True)
class FirstOwner:
    username: str
    # Set only when we generated it: shown once, never stored in plain text.
    generated_password: str | None


@dataclass(frozen=True, slots=True)
class StaffAdmin:
    uow: UnitOfWorkFactory
    passwords: PasswordHasher
    clock: Clock

    async def create(
        self, username: str, display_name: str, role: Role | str, password: str, actor: Actor
    ) -> StaffMember:
        """An account that can log in right away (CLI and first-run set-up)."""
        member = StaffMember.register(username, display_name, role, self.clock.now())
        validate_password(password, member.username)
        member = member.with_password(await self.passwords.hash(password))
        async with self.uow() as uow:
            member = await uow.staff.add(member)
            await self._audit(uow, actor, "staff.create", member, role=member.role)
            await uow.commit()
        return member

    async def ensure_first_owner(self, password: str | None) -> FirstOwner | None:
        """Create the owner account on a fresh install; None when staff exist already."""
        async with self.uow(read_only=True) as uow:
            if await uow.staff.exists():
                return None
        generated = None if password else secrets.token_urlsafe(12)
        await self.create(FIRST_OWNER, "Owner", Role.OWNER, password or generated or "", Actor.cli())
        return FirstOwner(FIRST_OWNER, generated)

    async def invite(self, username: str, display_name: str, role: Role | str, actor: Actor) -> tuple[StaffMember, str]:
        """A new account that sets its own password through a one-time link; returns the link's token."""
        member, token = StaffMember.register(username, display_name, role, self.clock.now()).invited(self.clock.now())
        async with self.uow() as uow:
            member = await uow.staff.add(member)
            await self._audit(uow, actor, "staff.invite", member, role=member.role)
            await uow.commit()
        return member, token

    async def reinvite(self, staff_id: int, actor: Actor) -> tuple[StaffMember, str]:
        """A new invite link for an account that has not set its password; the old link stops working."""
        async with self.uow() as uow:
            member, token = (await self._get(uow, staff_id)).invited(self.clock.now())
            await uow.staff.save(member)
            await self._audit(uow, actor, "staff.reinvite", member)
            await uow.commit()
        return member, token

    async def invitee(self, token: str) -> StaffMember:
        """Who an invite link is for, if it is still valid."""
        async with self.uow(read_only=True) as uow:
            member = await uow.staff.by_invite_token_hash(hash_token(token))
        if member is None:
            raise InvalidInvite("this invite link is invalid or has expired")
        member.check_invite(token, self.clock.now())
        return member

    async def accept_invite(self, token: str, password: str, ip: str | None) -> StaffMember:
        validate_password(password, (await self.invitee(token)).username)
        password_hash = await self.passwords.hash(password)
        async with self.uow() as uow:
            # Checked again inside the transaction (the row is locked): a link is used once, even when raced.
            member = await uow.staff.by_invite_token_hash(hash_token(token))
            if member is None:
                raise InvalidInvite("this invite link is invalid or has expired")
            member.check_invite(token, self.clock.now())
            member = member.with_password(password_hash)
            await uow.staff.save(member)
            await self._audit(uow, Actor.staff(member.id, member.username, ip), "staff.accept_invite", member)
            await uow.commit()
        return member

    async def change_role(self, staff_id: int, role: Role | str, actor: Actor) -> StaffMember:
        self._not_yourself(staff_id, actor)
        async with self.uow() as uow:
            owners = await uow.staff.active_owner_count()  # locks owners first: one lock order, no deadlock
            member = await self._get(uow, staff_id)
            before = member.role
            member = member.with_role(role, owners)
            await uow.staff.save(member)
            await self._audit(uow, actor, "staff.change_role", member, before=before, after=member.role)
            await uow.commit()
        return member

    async def disable(self, staff_id: int, actor: Actor) -> StaffMember:
        self._not_yourself(staff_id, actor)
        async with self.uow() as uow:
            owners = await uow.staff.active_owner_count()
            member = (await self._get(uow, staff_id)).disabled(owners)
            await uow.staff.save(member)
            await self._audit(uow, actor, "staff.disable", member)
            await uow.commit()
        return member

    async def enable(self, staff_id: int, actor: Actor) -> StaffMember:
        self._not_yourself(staff_id, actor)
        async with self.uow() as uow:
            member = (await self._get(uow, staff_id)).enabled()
            await uow.staff.save(member)
            await self._audit(uow, actor, "staff.enable", member)
            await uow.commit()
        return member

    async def set_locale(self, staff_id: int, locale: str) -> StaffMember:
        async with self.uow() as uow:
            found = await uow.staff.get(staff_id)  # staff and reseller logins alike
            if found is None:
                raise NotFound(f"no account #{staff_id}")
            member = found.with_locale(locale)
            await uow.staff.save(member)
            await uow.commit()
        return member

    async def team(self) -> list[StaffMember]:
        async with self.uow(read_only=True) as uow:
            return [member for member in await uow.staff.all() if member.role is not Role.RESELLER]

    async def get(self, staff_id: int) -> StaffMember:
        async with self.uow(read_only=True) as uow:
            return await self._get(uow, staff_id)

    async def by_username(self, username: str) -> StaffMember:
        async with self.uow(read_only=True) as uow:
            member = await uow.staff.by_username(normalize_username(username))
        if member is None:
            raise NotFound(f"no staff member {username!r}")
        return member

    @staticmethod
    def _not_yourself(staff_id: int, actor: Actor) -> None:
        # Locking yourself out (or demoting yourself) is never what an owner means to do from this page.
        if actor.id == staff_id:
            raise NotYourself("you cannot change your own role or status")

    @staticmethod
    async def _get(uow: UnitOfWork, staff_id: int) -> StaffMember:
        """A member of the merchant's staff; resellers' logins are managed from their reseller's page."""
        member = await uow.staff.get(staff_id)
        if member is None or member.role is Role.RESELLER:
            raise NotFound(f"no staff member #{staff_id}")
        return member

    async def _audit(self, uow: UnitOfWork, actor: Actor, action: str, member: StaffMember, **details: Any) -> None:
        await uow.audit.record(AuditEntry(self.clock.now(), actor, action, member.username, details))
