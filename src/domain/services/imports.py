"""Importing codes: take the upload now, read and stage it in a worker, add it to the pool in one step."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, replace

from domain.audit import Actor, AuditEntry
from domain.catalog import DeliveryKind
from domain.codefile import CodeColumns
from domain.codepool import Batch, BatchDetails, CardSecret, Sealed, new_voucher
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.imports import (
    MAX_UPLOAD_BYTES,
    BadCodeFile,
    CodeImport,
    ImportFormat,
    ImportProgress,
    ImportSuperseded,
    check_generation,
    format_of,
)
from domain.ports import (
    BackgroundJobs,
    Clock,
    CodeFileReader,
    CodeVault,
    FileRow,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.services.stock import Stock, seal_secret

STAGE_EVERY = 2000  # rows sealed and staged per transaction; progress is saved with each


class NotVoucherProduct(DomainError):
    """Codes are generated only for own vouchers; card codes come from their issuer."""

    code = "not_a_voucher_product"


async def _own(uow: UnitOfWork, job: CodeImport) -> None:
    """Lock the job and make sure this run still owns it; otherwise stop (see `run`)."""
    assert job.id is not None
    current = await uow.imports.get(job.id)
    if current is None or current.finished or current.attempt != job.attempt:
        raise ImportSuperseded()


def _chunk_binding(import_id: int, seq: int) -> str:
    return f"kaquan:import:{import_id}:{seq}"


@dataclass(frozen=True, slots=True)
class CodeImports:
    uow: UnitOfWorkFactory
    vault: CodeVault
    reader: CodeFileReader
    jobs: BackgroundJobs
    stock: Stock
    clock: Clock

    async def start(
        self,
        product_id: int,
        file_name: str,
        content: AsyncIterable[bytes],
        details: BatchDetails,
        actor: Actor,
    ) -> CodeImport:
        """Store the upload (sealed: it holds codes in plain text) and queue its import."""
        product = await self.stock.pooled_product(product_id)
        job = CodeImport(
            product.id or 0, format_of(file_name), file_name or "paste.txt", details.source, details.unit_cost,
            details.expires_at, actor.name, self.clock.now(),
        )  # fmt: skip
        async with self.uow() as uow:
            job = await uow.imports.add(job)
            assert job.id is not None
            size, seq = 0, 0
            async for piece in content:
                size += len(piece)
                if size > MAX_UPLOAD_BYTES:
                    raise BadCodeFile("too_large", limit_mb=MAX_UPLOAD_BYTES // 2**20)
                if piece:
                    await uow.imports.add_chunk(
                        job.id, seq, self.vault.seal(piece, binding=_chunk_binding(job.id, seq))
                    )
                    seq += 1
            if size == 0:
                raise BadCodeFile("empty_file")
            job = replace(job, size=size)
            await uow.imports.save(job)
            await uow.audit.record(
                AuditEntry(job.created_at, actor, "codes.import_started", product.sku, {"import": job.id})
            )
            await uow.commit()
        await self.jobs.import_codes(job.id)
        return job

    async def generate(
        self, product_id: int, count: int, length: int, details: BatchDetails, actor: Actor
    ) -> CodeImport:
        """Queue `count` new voucher codes of `length` characters for a voucher product."""
        product = await self.stock.pooled_product(product_id)
        if product.delivery_kind is not DeliveryKind.VOUCHER:
            raise NotVoucherProduct(f"{product.sku} sells {product.delivery_kind} codes, not own vouchers")
        check_generation(count, length)
        job = CodeImport(
            product.id or 0, ImportFormat.GENERATED, f"{count} × {length}", details.source, details.unit_cost,
            details.expires_at, actor.name, self.clock.now(), generate_count=count, generate_length=length,
        )  # fmt: skip
        async with self.uow() as uow:
            job = await uow.imports.add(job)
            await uow.audit.record(
                AuditEntry(
                    job.created_at, actor, "codes.generate_started", product.sku, {"import": job.id, "count": count}
                )
            )
            await uow.commit()
        await self.jobs.import_codes(job.id or 0)
        return job

    async def run(self, import_id: int) -> CodeImport | None:
        """Read, seal and stage the whole file, then add it to the pool at once.

        Safe to run again, even while another run is going: a run claims the job as a new attempt
        (only when it is queued, or its current run went silent) and checks, every time it writes,
        that the job is still its own. A superseded run stops without touching anything.
        """
        async with self.uow() as uow:
            job = await uow.imports.get(import_id)
            if job is None or not job.claimable(self.clock.now()):
                return job
            job = job.started(self.clock.now())
            await uow.imports.clear_staged(import_id)
            await uow.imports.save(job)
            await uow.commit()
        try:
            job = await (self._generate_all(job) if job.format is ImportFormat.GENERATED else self._stage_all(job))
            return await self._finish(job)
        except BadCodeFile as bad:
            return await self.fail(import_id, bad.problem, attempt=job.attempt)
        except ImportSuperseded:
            return await self.get(import_id)

    async def fail(self, import_id: int, problem: str, *, attempt: int | None = None) -> CodeImport | None:
        """Give the import up (nothing is added); `attempt` limits this to that run's own job."""
        async with self.uow() as uow:
            job = await uow.imports.get(import_id)
            if job is None or job.finished or (attempt is not None and job.attempt != attempt):
                return job
            job = job.failed(problem, self.clock.now())
            await uow.imports.clear(import_id)
            await uow.imports.save(job)
            await uow.commit()
        return job

    async def sweep(self) -> list[int]:
        """Queue again every import whose run or message was lost (a restart, a dead worker, Redis down)."""
        now = self.clock.now()
        async with self.uow(read_only=True) as uow:
            lost = [job.id for job in await uow.imports.unfinished() if job.id is not None and job.stale(now)]
        for import_id in lost:
            await self.jobs.import_codes(import_id)
        return lost

    async def get(self, import_id: int) -> CodeImport:
        async with self.uow(read_only=True) as uow:
            job = await uow.imports.get(import_id)
        if job is None:
            raise NotFound(f"no import #{import_id}")
        return job

    async def of_product(self, product_id: int, limit: int = 20) -> list[CodeImport]:
        async with self.uow(read_only=True) as uow:
            return await uow.imports.of_product(product_id, limit)

    async def _stage_all(self, job: CodeImport) -> CodeImport:
        assert job.id is not None
        columns: CodeColumns[FileRow] = CodeColumns()
        progress = ImportProgress()
        pending: list[tuple[int, bytes, Sealed]] = []
        rejected: list[tuple[int, str]] = []
        rows, permille = 0, 0
        async for row in self.reader.rows(job.format, self._upload(job), job.size):
            permille = row.done_permille
            for read in columns.feed(row, row.cells):
                rows += 1
                self._seal_row(job, columns, read, pending, rejected)
            if rows >= STAGE_EVERY:
                progress = await self._stage(job, progress, rows, pending, rejected, permille)
                rows, pending, rejected = 0, [], []
        for read in columns.finish():
            rows += 1
            self._seal_row(job, columns, read, pending, rejected)
        progress = await self._stage(job, progress, rows, pending, rejected, 1000)
        if progress.rows_read == 0:
            raise BadCodeFile("empty_file")
        return job.advanced(progress, self.clock.now())

    def _seal_row(
        self,
        job: CodeImport,
        columns: CodeColumns[FileRow],
        read: tuple[FileRow, str, str],
        pending: list[tuple[int, bytes, Sealed]],
        rejected: list[tuple[int, str]],
    ) -> None:
        """Seal one row into `pending`, or note in `rejected` why it cannot be a code."""
        row, number, pin = read
        try:
            if problem := next((row.problems[i] for i in columns.positions if i in row.problems), None):
                raise ValidationFailed({"number": problem})
            secret = CardSecret.of(number, pin)
        except ValidationFailed as problem:
            rejected.append((row.line, next(iter(problem.errors.values()))))
            return
        pending.append((row.line, *seal_secret(self.vault, job.product_id, secret)))

    async def _generate_all(self, job: CodeImport) -> CodeImport:
        """Exactly `generate_count` codes, none already in the pool: collisions are simply made again."""
        assert job.id is not None and job.generate_count and job.generate_length
        count, length = job.generate_count, job.generate_length
        progress, line = ImportProgress(), 0
        while progress.staged < count:
            pending = []
            for _ in range(min(STAGE_EVERY, count - progress.staged)):
                line += 1
                secret = CardSecret.of(new_voucher(length))
                pending.append((line, *seal_secret(self.vault, job.product_id, secret)))
            permille = min(999, (progress.staged + len(pending)) * 1000 // count)
            progress = await self._stage(job, progress, len(pending), pending, [], permille)
            if progress.staged == count:
                async with self.uow() as uow:
                    await _own(uow, job)
                    taken = await uow.imports.pool_collisions(job.id, job.product_id)
                    if taken:
                        await uow.imports.unstage(job.id, taken)
                        progress = replace(progress, staged=progress.staged - len(taken))
                        await uow.imports.save(job.advanced(progress, self.clock.now()))
                    await uow.commit()
        return job.advanced(progress, self.clock.now())

    async def _stage(
        self,
        job: CodeImport,
        progress: ImportProgress,
        rows: int,
        pending: list[tuple[int, bytes, Sealed]],
        rejected: list[tuple[int, str]],
        permille: int,
    ) -> ImportProgress:
        assert job.id is not None
        async with self.uow() as uow:
            await _own(uow, job)
            staged = await uow.imports.stage(job.id, pending)
            progress = progress.with_chunk(rows, staged, rejected, permille)
            await uow.imports.save(job.advanced(progress, self.clock.now()))
            await uow.commit()
        return progress

    async def _finish(self, job: CodeImport) -> CodeImport:
        """One transaction: the batch and all its codes appear together, or nothing does."""
        assert job.id is not None
        now = self.clock.now()
        async with self.uow() as uow:
            await _own(uow, job)
            batch = await uow.codes.add_batch(
                Batch(
                    job.product_id,
                    job.source,
                    job.unit_cost,
                    job.requested_by,
                    now,
                    job.expires_at,
                    job.progress.staged,
                )
            )
            assert batch.id is not None
            imported = await uow.imports.move_staged(job.id, batch, now)
            if imported:
                await uow.codes.set_batch_total(batch.id, imported)
            else:
                await uow.codes.discard_batch(batch.id)
            await uow.imports.clear(job.id)
            job = job.completed(imported, batch.id if imported else None, now)
            await uow.imports.save(job)
            product = await uow.products.get(job.product_id)
            await uow.audit.record(
                AuditEntry(
                    now,
                    Actor.system(),
                    "codes.import",
                    product.sku if product else "",
                    {"import": job.id, "imported": imported},
                )
            )
            await uow.commit()
        return job

    async def _upload(self, job: CodeImport) -> AsyncIterator[bytes]:
        """The uploaded file, chunk by chunk, opened one short read at a time."""
        assert job.id is not None
        seq, read = 0, 0
        while True:
            async with self.uow(read_only=True) as uow:
                sealed = await uow.imports.chunk(job.id, seq)
            if sealed is None:
                break
            piece = self.vault.open(sealed, binding=_chunk_binding(job.id, seq))
            read += len(piece)
            yield piece
            seq += 1
        if read != job.size:
            # The upload is gone: another run of this import finished (or failed) and cleared it.
            raise ImportSuperseded()
