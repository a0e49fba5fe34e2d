"""Resellers' Open API keys: made (secrets shown once, stored sealed), revoked, and checked on every request —
signature, clock, nonce, address allowlist and a rate limit per key."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from domain.api import (
    CLOCK_SKEW,
    AddressNotAllowed,
    ApiAuthFailed,
    ApiKey,
    NewKey,
    RateLimited,
    SignedRequest,
    check_label,
    new_key_id,
    new_secret,
    parse_allowlist,
)
from domain.audit import Actor, AuditEntry
from domain.errors import NotFound, ValidationFailed
from domain.ports import Clock, CodeVault, Counters, UnitOfWorkFactory
from domain.resellers import Reseller, check_active
from domain.services.offers import chain_of
from domain.services.resellers import find_reseller
from domain.webhooks import new_secret as new_webhook_secret

MAX_KEYS = 20
RATE_WINDOW = timedelta(minutes=1)
# A key's last use is written at most this often: not a write for every request.
LAST_USED_EVERY = timedelta(minutes=1)


def secret_binding(key_id: str) -> str:
    return f"api-key:{key_id}:secret"


def webhook_binding(key_id: str) -> str:
    return f"api-key:{key_id}:webhook"


@dataclass(frozen=True, slots=True)
class ApiKeys:
    uow: UnitOfWorkFactory
    vault: CodeVault
    counters: Counters
    clock: Clock
    rate_per_minute: int

    async def create(self, reseller_id: int, label: str, allowed_ips: str, actor: Actor) -> NewKey:
        """A new key for the reseller; its secrets are in the answer and nowhere else in plain text."""
        label, networks = check_label(label), parse_allowlist(allowed_ips)
        key_id, secret, webhook_secret = new_key_id(), new_secret(), new_webhook_secret()
        now = self.clock.now()
        async with self.uow() as uow:
            reseller = await find_reseller(uow, reseller_id)
            if len([k for k in await uow.api_keys.of_reseller(reseller_id) if k.is_active]) >= MAX_KEYS:
                raise ValidationFailed({"label": "too_many_keys"})  # revoke one first
            key = await uow.api_keys.add(
                ApiKey(
                    key_id=key_id,
                    reseller_id=reseller_id,
                    label=label,
                    secret=self.vault.seal(secret.encode(), binding=secret_binding(key_id)),
                    webhook_secret=self.vault.seal(webhook_secret.encode(), binding=webhook_binding(key_id)),
                    allowed_ips=networks,
                    created_at=now,
                )
            )
            details = {"reseller": reseller_id, "key_id": key_id, "allowed_ips": list(networks)}
            await uow.audit.record(AuditEntry(now, actor, "api_key.create", reseller.name, details))
            await uow.commit()
        return NewKey(key, secret, webhook_secret)

    async def revoke(self, reseller_id: int, api_key_id: int, actor: Actor) -> ApiKey:
        """The key stops working at once. Another reseller's key is not found."""
        now = self.clock.now()
        async with self.uow() as uow:
            key = await uow.api_keys.get(api_key_id)
            if key is None or key.reseller_id != reseller_id:
                raise NotFound(f"no API key #{api_key_id}")
            if key.is_active:
                key = replace(key, revoked_at=now)
                await uow.api_keys.revoke(api_key_id, now)
                details = {"reseller": reseller_id, "key_id": key.key_id}
                await uow.audit.record(AuditEntry(now, actor, "api_key.revoke", key.key_id, details))
                await uow.commit()
        return key

    async def of_reseller(self, reseller_id: int) -> list[ApiKey]:
        async with self.uow(read_only=True) as uow:
            return await uow.api_keys.of_reseller(reseller_id)

    async def authenticate(self, request: SignedRequest, address: str) -> tuple[ApiKey, Reseller]:
        """The key and reseller behind a signed request, or the reason it is refused (ApiAuthFailed 401,
        AddressNotAllowed / ResellerDisabled 403, RateLimited 429). Counted against the limit only once the
        signature holds: a key id is no secret, and a stranger must not be able to spend a caller's limit."""
        now = self.clock.now()
        request.check_shape(now)
        async with self.uow(read_only=True) as uow:
            key = await uow.api_keys.by_key_id(request.key_id)
            reseller = await uow.resellers.get(key.reseller_id) if key else None
            chain = await chain_of(uow, reseller) if reseller else []
        if key is None or reseller is None:
            raise ApiAuthFailed("invalid_api_key", "unknown API key")
        if not key.is_active:
            raise ApiAuthFailed("revoked_api_key", "this API key was revoked")
        request.check_signature(self.vault.open(key.secret, binding=secret_binding(key.key_id)).decode())
        if not key.admits(address):
            raise AddressNotAllowed(f"{address} is not on this key's allowlist", address=address)
        check_active(chain)
        nonce = await self.counters.add(f"api-nonce:{key.key_id}:{request.nonce}", 1, CLOCK_SKEW * 2)
        if nonce.count > 1:
            raise ApiAuthFailed("nonce_reused", "this X-Nonce was used already")
        used = await self.counters.add(f"api-rate:{key.key_id}", 1, RATE_WINDOW)
        if used.count > self.rate_per_minute:
            raise RateLimited(used.resets_in)
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
            async with self.uow() as uow:
                await uow.api_keys.touch(key.id or 0, now)
                await uow.commit()
        return key, reseller
