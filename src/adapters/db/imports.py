from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import insert_for
from adapters.db.tables import code_import_chunks, code_import_rows, code_imports, codes
from domain.codepool import Batch, CodeState, Sealed
from domain.imports import CodeImport, ImportFormat, ImportProgress, ImportStatus
from domain.money import Money

ADVISORY_IMPORT = 0x4B51  # advisory lock namespace for moving imports into a product's pool
_STAGED_COLUMNS = ("import_id", "line", "fingerprint", "key_id", "nonce", "ciphertext")


class SqlImports:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self._db = connection
        self._lock = lock

    async def add(self, job: CodeImport) -> CodeImport:
        values = _values(job)
        new_id = (await self._db.execute(insert(code_imports).values(values).returning(code_imports.c.id))).scalar_one()
        return await self.get(new_id) or job

    async def get(self, import_id: int) -> CodeImport | None:
        query = select(code_imports).where(code_imports.c.id == import_id)
        row = (await self._db.execute(query.with_for_update() if self._lock else query)).mappings().first()
        return _job(row) if row else None

    async def save(self, job: CodeImport) -> None:
        await self._db.execute(update(code_imports).where(code_imports.c.id == job.id).values(_values(job)))

    async def of_product(self, product_id: int, limit: int) -> list[CodeImport]:
        rows = await self._db.execute(
            select(code_imports)
            .where(code_imports.c.product_id == product_id)
            .order_by(code_imports.c.id.desc())
            .limit(limit)
        )
        return [_job(row) for row in rows.mappings()]

    async def unfinished(self) -> list[CodeImport]:
        rows = await self._db.execute(
            select(code_imports).where(
                code_imports.c.status.in_([ImportStatus.QUEUED.value, ImportStatus.RUNNING.value])
            )
        )
        return [_job(row) for row in rows.mappings()]

    async def add_chunk(self, import_id: int, seq: int, sealed: Sealed) -> None:
        await self._db.execute(
            insert(code_import_chunks).values(
                import_id=import_id, seq=seq, key_id=sealed.key_id, nonce=sealed.nonce, ciphertext=sealed.ciphertext
            )
        )

    async def chunk(self, import_id: int, seq: int) -> Sealed | None:
        row = (
            await self._db.execute(
                select(code_import_chunks).where(
                    code_import_chunks.c.import_id == import_id, code_import_chunks.c.seq == seq
                )
            )
        ).first()
        return Sealed(row.key_id, row.nonce, row.ciphertext) if row else None

    async def stage(self, import_id: int, rows: Sequence[tuple[int, bytes, Sealed]]) -> int:
        if not rows:
            return 0
        values = [
            (import_id, line, fingerprint, sealed.key_id, sealed.nonce, sealed.ciphertext)
            for line, fingerprint, sealed in rows
        ]
        # Straight to the driver, inside this unit of work's transaction: the rows are plain tuples, and
        # SQLAlchemy's per-row parameter processing would cost more than sealing them did.
        driver = (await self._db.get_raw_connection()).driver_connection
        if self._db.dialect.name == "postgresql":
            return await _copy_and_stage(driver, values)
        placeholders = ", ".join("?" * len(_STAGED_COLUMNS))
        cursor = await driver.executemany(
            f"INSERT OR IGNORE INTO code_import_rows ({', '.join(_STAGED_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
            values,
        )
        return cursor.rowcount

    async def pool_collisions(self, import_id: int, product_id: int) -> list[bytes]:
        """Fingerprints staged for this import that the product's pool already has."""
        rows = await self._db.execute(
            select(code_import_rows.c.fingerprint)
            .join(codes, (codes.c.product_id == product_id) & (codes.c.fingerprint == code_import_rows.c.fingerprint))
            .where(code_import_rows.c.import_id == import_id)
        )
        return [bytes(fingerprint) for fingerprint in rows.scalars()]

    async def unstage(self, import_id: int, fingerprints: Sequence[bytes]) -> None:
        await self._db.execute(
            delete(code_import_rows).where(
                code_import_rows.c.import_id == import_id, code_import_rows.c.fingerprint.in_(fingerprints)
            )
        )

    async def move_staged(self, import_id: int, batch: Batch, now: datetime) -> int:
        """One statement; on PostgreSQL behind a per-product lock, so overlapping imports wait, not deadlock."""
        if self._db.dialect.name == "postgresql":
            await self._db.execute(select(func.pg_advisory_xact_lock(ADVISORY_IMPORT, batch.product_id)))
        staged = (
            select(
                literal(batch.product_id),
                literal(batch.id),
                literal(CodeState.AVAILABLE.value),
                code_import_rows.c.fingerprint,
                code_import_rows.c.key_id,
                code_import_rows.c.nonce,
                code_import_rows.c.ciphertext,
                literal(now, type_=codes.c.state_changed_at.type),
            )
            .where(code_import_rows.c.import_id == import_id)
            .order_by(code_import_rows.c.line)
        )
        await self._db.execute(
            insert_for(self._db, codes)
            .from_select(
                ["product_id", "batch_id", "state", "fingerprint", "key_id", "nonce", "ciphertext", "state_changed_at"],
                staged,
            )
            .on_conflict_do_nothing(index_elements=[codes.c.product_id, codes.c.fingerprint])
        )
        # Counted rather than taken from rowcount, which SQLite drivers do not report for INSERT … SELECT.
        moved = select(func.count()).select_from(codes).where(codes.c.batch_id == batch.id)
        return (await self._db.execute(moved)).scalar_one()

    async def clear(self, import_id: int) -> None:
        """Forget the staged rows and the uploaded file."""
        await self._db.execute(delete(code_import_rows).where(code_import_rows.c.import_id == import_id))
        await self._db.execute(delete(code_import_chunks).where(code_import_chunks.c.import_id == import_id))

    async def clear_staged(self, import_id: int) -> None:
        await self._db.execute(delete(code_import_rows).where(code_import_rows.c.import_id == import_id))


def _values(job: CodeImport) -> dict[str, Any]:
    progress = asdict(job.progress)
    progress["rejected"] = [list(item) for item in job.progress.rejected]
    return {
        "product_id": job.product_id,
        "status": job.status.value,
        "format": job.format.value,
        "file_name": job.file_name[:255],
        "size": job.size,
        "generate_count": job.generate_count,
        "generate_length": job.generate_length,
        "source": job.source,
        "unit_cost_minor": job.unit_cost.minor,
        "currency": job.unit_cost.currency,
        "expires_at": job.expires_at,
        "requested_by": job.requested_by,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "batch_id": job.batch_id,
        "attempt": job.attempt,
        "updated_at": job.updated_at,
        **progress,
    }


def _job(row: RowMapping) -> CodeImport:
    return CodeImport(
        id=row["id"],
        product_id=row["product_id"],
        format=ImportFormat(row["format"]),
        file_name=row["file_name"],
        source=row["source"],
        unit_cost=Money(row["unit_cost_minor"], row["currency"]),
        expires_at=row["expires_at"],
        requested_by=row["requested_by"],
        created_at=row["created_at"],
        status=ImportStatus(row["status"]),
        size=row["size"],
        generate_count=row["generate_count"],
        generate_length=row["generate_length"],
        progress=ImportProgress(
            rows_read=row["rows_read"],
            staged=row["staged"],
            duplicates_in_file=row["duplicates_in_file"],
            duplicates_in_pool=row["duplicates_in_pool"],
            imported=row["imported"],
            rejected_count=row["rejected_count"],
            rejected=[(int(line), str(problem)) for line, problem in row["rejected"]],
            done_permille=row["done_permille"],
        ),
        error=row["error"],
        batch_id=row["batch_id"],
        finished_at=row["finished_at"],
        attempt=row["attempt"],
        updated_at=row["updated_at"],
    )


async def _copy_and_stage(driver: Any, values: list[tuple[object, ...]]) -> int:
    """PostgreSQL: COPY the chunk into a session temp table, then insert it skipping staged duplicates."""
    columns = ", ".join(_STAGED_COLUMNS)
    async with driver.cursor() as cursor:
        await cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_chunk (LIKE code_import_rows) ON COMMIT DELETE ROWS"
        )
        async with cursor.copy(f"COPY import_chunk ({columns}) FROM STDIN") as copy:
            for value in values:
                await copy.write_row(value)
        await cursor.execute(
            f"INSERT INTO code_import_rows ({columns}) SELECT {columns} FROM import_chunk ON CONFLICT DO NOTHING"  # noqa: S608 — constant column names
        )
        staged = cursor.rowcount
        await cursor.execute("TRUNCATE import_chunk")
    return staged
