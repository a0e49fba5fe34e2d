"""Handling codes one by one or a batch at a time: look (masked), reveal, freeze, void, export.

Every reveal and export is written to the audit log before the plain text leaves this service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from domain.audit import Actor, AuditEntry
from domain.codepool import UNSOLD, Batch, CardSecret, CodeAction, StoredCode, check_transition
from domain.errors import NotFound
from domain.paging import Page, PageRequest
from domain.ports import Clock, CodeVault, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class CodeView:
    code: StoredCode
    masked: str


@dataclass(frozen=True, slots=True)
class Codes:
    uow: UnitOfWorkFactory
    vault: CodeVault
    clock: Clock

    async def batch(self, product_id: int, batch_id: int) -> Batch:
        async with self.uow(read_only=True) as uow:
            return await _batch(uow, product_id, batch_id)

    async def of_batch(self, product_id: int, batch_id: int, page: PageRequest) -> Page[CodeView]:
        """A page of the batch's codes, masked (ABCD****WXYZ): opened here, never shown whole."""
        async with self.uow(read_only=True) as uow:
            await _batch(uow, product_id, batch_id)
            found = await uow.codes.of_batch(batch_id, page)
        views = [CodeView(code, self._open(code).masked) for code in found.items]
        return Page(views, found.total, found.request)

    async def view(self, product_id: int, code_id: int) -> CodeView:
        async with self.uow(read_only=True) as uow:
            code = await _code(uow, product_id, code_id)
        return CodeView(code, self._open(code).masked)

    async def reveal(self, product_id: int, code_id: int, actor: Actor) -> tuple[StoredCode, CardSecret]:
        async with self.uow() as uow:
            code = await _code(uow, product_id, code_id)
            secret = self._open(code)
            await uow.audit.record(
                AuditEntry(
                    self.clock.now(), actor, "code.reveal", secret.masked, {"code": code.id, "state": code.state}
                )
            )
            await uow.commit()
        return code, secret

    async def apply(
        self,
        product_id: int,
        action: CodeAction,
        actor: Actor,
        *,
        code_id: int | None = None,
        batch_id: int | None = None,
    ) -> int:
        """Freeze, unfreeze or void one code or a whole batch; returns how many codes changed."""
        now = self.clock.now()
        async with self.uow() as uow:
            if code_id is not None:
                code = await _code(uow, product_id, code_id)
                if code.state not in action.sources:
                    check_transition(code.state, action.target)  # says why, e.g. a sold code cannot be voided
                    return 0  # already where the action would put it
            else:
                await _batch(uow, product_id, batch_id or 0)
            moved = await uow.codes.apply(action, now, code_id=code_id, batch_id=batch_id)
            target = f"code#{code_id}" if code_id is not None else f"batch#{batch_id}"
            await uow.audit.record(AuditEntry(now, actor, f"codes.{action}", target, {"changed": moved}))
            await uow.commit()
        return moved

    async def export(self, product_id: int, batch_id: int, actor: Actor) -> AsyncIterator[CardSecret]:
        """The batch's unsold codes in plain text, for a download. The export is audited before it starts."""
        async with self.uow() as uow:
            await _batch(uow, product_id, batch_id)
            counts = (await uow.codes.counts(product_id)).get(batch_id)
            unsold = sum(counts.of(state) for state in UNSOLD) if counts else 0
            await uow.audit.record(
                AuditEntry(self.clock.now(), actor, "codes.export", f"batch#{batch_id}", {"codes": unsold})
            )
            await uow.commit()
        return self._stream_unsold(batch_id)

    async def _stream_unsold(self, batch_id: int) -> AsyncIterator[CardSecret]:
        async with self.uow(read_only=True) as uow:
            async for code in uow.codes.unsold(batch_id):
                yield self._open(code)

    def _open(self, code: StoredCode) -> CardSecret:
        return CardSecret.from_plaintext(self.vault.open(code.sealed, binding=code.binding))


async def _batch(uow: UnitOfWork, product_id: int, batch_id: int) -> Batch:
    batch = await uow.codes.batch(batch_id)
    if batch is None or batch.product_id != product_id:
        raise NotFound(f"no batch #{batch_id} for product #{product_id}")
    return batch


async def _code(uow: UnitOfWork, product_id: int, code_id: int) -> StoredCode:
    code = await uow.codes.get(code_id)
    if code is None or code.product_id != product_id:
        raise NotFound(f"no code #{code_id} for product #{product_id}")
    return code
