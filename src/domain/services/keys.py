"""Key rotation: re-seal everything the key ring sealed — codes, delivered units' links and contents, API keys'
and upstreams' secrets — under the ring's active key, in small resumable steps.

Safe to stop and run again: what is left is simply whatever another key still seals. Remove an old
key from the ring only once `status()` says it seals nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from domain.audit import Actor, AuditEntry
from domain.codepool import Sealed
from domain.ports import BackgroundJobs, Clock, CodeVault, UnitOfWork, UnitOfWorkFactory
from domain.redemption import content_binding, token_binding
from domain.services import api_keys, upstreams

STEP = 1000

# One step of one kind: re-seal the next sealed values after an id; returns the ids of the rows it re-sealed.
Step = Callable[[UnitOfWork, int], Awaitable[list[int]]]


@dataclass(frozen=True, slots=True)
class KeyRotation:
    uow: UnitOfWorkFactory
    vault: CodeVault
    jobs: BackgroundJobs
    clock: Clock

    async def reseal_if_needed(self) -> bool:
        """After a rotation (and the restart that brings the new key), hand the re-seal to the workers."""
        async with self.uow(read_only=True) as uow:
            needed = await uow.codes.sealed_by_another_key(self.vault.active_key)
        if needed:
            await self.jobs.reseal_codes()
        return needed

    async def status(self) -> dict[str, int]:
        """Sealed values per key id (codes, delivered units, API keys' and upstreams' secrets, and uploads of
        imports still running); an old key may leave the ring once it seals nothing: after a full re-seal and once
        running imports have finished."""
        async with self.uow(read_only=True) as uow:
            return await uow.codes.count_by_key()

    async def reseal_all(self, actor: Actor, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
        """Re-seal, a step at a time, everything not under the active key; returns how many of each kind (codes,
        delivered units, API keys, upstreams) were re-sealed. `progress` hears (kind, how many so far)."""
        steps: dict[str, Step] = {
            "codes": self._codes,
            "delivered_units": self._delivered_units,
            "api_keys": self._api_keys,
            "upstreams": self._upstreams,
        }
        done = {kind: await self._in_steps(kind, step, progress) for kind, step in steps.items()}
        async with self.uow() as uow:
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "keys.reseal", self.vault.active_key, done))
            await uow.commit()
        return done

    async def _in_steps(self, kind: str, step: Step, progress: Callable[[str, int], None] | None) -> int:
        after, done = 0, 0
        while True:
            async with self.uow() as uow:
                resealed = await step(uow, after)
                if not resealed:
                    return done
                await uow.commit()
            after, done = resealed[-1], done + len(resealed)
            if progress:
                progress(kind, done)

    async def _codes(self, uow: UnitOfWork, after: int) -> list[int]:
        found = await uow.codes.sealed_by_other_keys(self.vault.active_key, after, STEP)
        await uow.codes.reseal([(code.id, self._renew(code.sealed, code.binding)) for code in found])
        return [code.id for code in found]

    async def _delivered_units(self, uow: UnitOfWork, after: int) -> list[int]:
        found = await uow.deliveries.sealed_by_other_keys(self.vault.active_key, after, STEP)
        renewed = [
            replace(
                unit,
                token=self._renew(unit.token, token_binding(number, unit.unit)),
                content=self._renew(unit.content, content_binding(number, unit.unit)) if unit.content else None,
            )
            for number, unit in found
        ]
        await uow.deliveries.reseal(renewed)
        return [unit.id or 0 for unit in renewed]

    async def _api_keys(self, uow: UnitOfWork, after: int) -> list[int]:
        found = await uow.api_keys.sealed_by_other_keys(self.vault.active_key, after, STEP)
        renewed = [
            replace(
                key,
                secret=self._renew(key.secret, api_keys.secret_binding(key.key_id)),
                webhook_secret=self._renew(key.webhook_secret, api_keys.webhook_binding(key.key_id)),
            )
            for key in found
        ]
        await uow.api_keys.reseal(renewed)
        return [key.id or 0 for key in renewed]

    async def _upstreams(self, uow: UnitOfWork, after: int) -> list[int]:
        found = await uow.suppliers.sealed_by_other_keys(self.vault.active_key, after, STEP)
        renewed = [
            replace(
                upstream,
                secret=self._renew(upstream.secret, upstreams.secret_binding(upstream.name)),
                webhook_secret=(
                    self._renew(upstream.webhook_secret, upstreams.webhook_binding(upstream.name))
                    if upstream.webhook_secret
                    else None
                ),
            )
            for upstream in found
        ]
        await uow.suppliers.reseal(renewed)
        return [upstream.id or 0 for upstream in renewed]

    def _renew(self, sealed: Sealed, binding: str) -> Sealed:
        """Sealed again under the active key (one already under it is left as it is)."""
        if sealed.key_id == self.vault.active_key:
            return sealed
        return self.vault.seal(self.vault.open(sealed, binding=binding), binding=binding)
