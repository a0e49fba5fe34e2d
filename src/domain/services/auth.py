"""Signing staff in and out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.audit import Actor, AuditEntry
from domain.ports import Clock, Counters, Hits, PasswordHasher, UnitOfWork, UnitOfWorkFactory
from domain.resellers import ResellerDisabled, check_active
from domain.services.offers import chain_of
from domain.staff import (
    InvalidCredentials,
    LoginThrottled,
    StaffMember,
    StaffStatus,
    WrongPassword,
    could_be_username,
    normalize_username,
)
from domain.throttle import LoginThrottle


@dataclass(frozen=True, slots=True)
class SignIn:
    uow: UnitOfWorkFactory
    passwords: PasswordHasher
    counters: Counters
    clock: Clock
    throttle: LoginThrottle
    # A real argon2 hash of a random password: unknown usernames cost as much time as known ones.
    decoy_hash: str

    async def log_in(self, username: str, password: str, ip: str) -> StaffMember:
        """The staff member whose password this is; raises LoginThrottled or InvalidCredentials."""
        username = normalize_username(username)
        throttle, window = self.throttle, self.throttle.window
        ip_key = throttle.ip_key(ip)
        await self._count(ip_key, throttle.per_ip, throttle.check_address, ip, username)
        if not could_be_username(username):
            # No account can have this name; no counter is kept for it, but it costs a hash all the same.
            await self.passwords.verify(self.decoy_hash, password)
            await self._audit(Actor.anonymous(ip), "staff.login_failed", username[:64])
            raise InvalidCredentials("invalid username or password")
        account_key = throttle.account_key(username)
        await self._count(account_key, throttle.per_account, throttle.check_account, ip, username)

        async with self.uow(read_only=True) as uow:
            member = await uow.staff.by_username(username)
            upstream_ok = member is not None and await _reseller_may_act(uow, member)
        password_ok = await self.passwords.verify(
            member.password_hash if member and member.password_hash else self.decoy_hash, password
        )
        # A reseller switched off (or one above it) is refused like a disabled account: nothing to learn here.
        active = member is not None and member.status is StaffStatus.ACTIVE and upstream_ok
        if member is None or member.id is None or not password_ok or not active:
            await self._audit(Actor.anonymous(ip), "staff.login_failed", username)
            raise InvalidCredentials("invalid username or password")

        # Successful logins do not count against the address, nor do earlier failures against the account.
        await self.counters.reset(account_key)
        await self.counters.add(ip_key, -1, window)
        new_hash = (
            await self.passwords.hash(password) if self.passwords.needs_rehash(member.password_hash or "") else None
        )
        async with self.uow() as uow:
            current = await uow.staff.get(member.id)
            # Changed while the password was being checked (disabled, new password, new role): start over.
            if (
                current is None
                or current.status is not StaffStatus.ACTIVE
                or current.auth_version != member.auth_version
            ):
                raise InvalidCredentials("the account changed during sign-in")
            current = current.logged_in(self.clock.now())
            if new_hash:
                current = current.rehashed(new_hash)
            await uow.staff.save(current)
            await uow.audit.record(
                AuditEntry(self.clock.now(), Actor.staff(member.id, username, ip), "staff.login", username)
            )
            await uow.commit()
        return current

    async def confirm(self, member: StaffMember, password: str, ip: str) -> None:
        """Ask for the password again before something sensitive (an export); throttled like a login."""
        key = self.throttle.confirm_key(member.username)
        await self._count(key, self.throttle.per_account, self.throttle.check_account, ip, member.username)
        if not member.password_hash or not await self.passwords.verify(member.password_hash, password):
            await self._audit(Actor.staff(member.id, member.username, ip), "staff.confirm_failed", member.username)
            raise WrongPassword("wrong password")
        await self.counters.reset(key)

    async def _count(self, key: str, limit: int, check: Callable[[Hits], None], ip: str, username: str) -> None:
        hits = await self.counters.add(key, 1, self.throttle.window)
        try:
            check(hits)
        except LoginThrottled:
            if self.throttle.newly_refused(hits, limit):
                await self._audit(Actor.anonymous(ip), "staff.login_throttled", username[:64])
            raise

    async def log_out(self, member: StaffMember, ip: str | None) -> None:
        await self._audit(Actor.staff(member.id, member.username, ip), "staff.logout", member.username)

    async def session_member(self, staff_id: int, auth_version: int) -> StaffMember | None:
        """The member behind a session, or None once the session has been ended by a change to the account."""
        async with self.uow(read_only=True) as uow:
            member = await uow.staff.get(staff_id)
            if member is None or member.status is not StaffStatus.ACTIVE or member.auth_version != auth_version:
                return None
            return member if await _reseller_may_act(uow, member) else None

    async def _audit(self, actor: Actor, action: str, target: str) -> None:
        async with self.uow() as uow:
            await uow.audit.record(AuditEntry(self.clock.now(), actor, action, target))
            await uow.commit()


async def _reseller_may_act(uow: UnitOfWork, member: StaffMember) -> bool:
    """Staff: always. A reseller's login: while its reseller and every one above it is active."""
    if member.reseller_id is None:
        return True
    reseller = await uow.resellers.get(member.reseller_id)
    if reseller is None:
        return False
    try:
        check_active(await chain_of(uow, reseller))
    except ResellerDisabled:
        return False
    return True
