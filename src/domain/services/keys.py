"""Key rotation: re-seal every code under the key ring's active key, in small resumable steps.

Safe to stop and run again: what is left is simply whatever another key still seals. Remove an old
key from the ring only once `status()` says it seals nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.audit import Actor, AuditEntry
from domain.ports import BackgroundJobs, Clock, CodeVault, UnitOfWorkFactory

STEP = 1000


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
        """Sealed items per key id (codes, and uploads of imports still running); an old key may leave the
        ring once it seals nothing: after a full re-seal and once running imports have finished."""
        async with self.uow(read_only=True) as uow:
            return await uow.codes.count_by_key()

    async def reseal_all(self, actor: Actor, progress: Callable[[int], None] | None = None) -> int:
        """Re-seal, a step at a time, every code not under the active key; returns how many were re-sealed."""
        active, after, done = self.vault.active_key, 0, 0
        while True:
            async with self.uow() as uow:
                found = await uow.codes.sealed_by_other_keys(active, after, STEP)
                if not found:
                    break
                resealed = [
                    (code.id, self.vault.seal(self.vault.open(code.sealed, binding=code.binding), binding=code.binding))
                    for code in found
                ]
                await uow.codes.reseal(resealed)
                await uow.commit()
            after, done = found[-1].id, done + len(found)
            if progress:
                progress(done)
        async with self.uow() as uow:
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "keys.reseal", active, {"codes": done}))
            await uow.commit()
        return done
