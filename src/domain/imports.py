"""Importing codes from a file or a paste: the job's life, its progress, and what it reports.

A job stages every row (sealed) first and moves them into the pool in one final step, so a failure
half-way leaves the batch either complete or absent, never half.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from domain.codepool import VOUCHER_MAX, VOUCHER_MIN
from domain.errors import DomainError, ValidationFailed
from domain.money import Money

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# A running import saves progress every few thousand rows; one silent this long has lost its worker.
STALE_AFTER = timedelta(minutes=2)
REJECTED_KEPT = 1000  # rejected lines listed in the result; the count covers them all


class ImportFormat(StrEnum):
    TEXT = "text"  # pasted text, .txt or .csv: one code per line, optional PIN column
    XLSX = "xlsx"
    GENERATED = "generated"  # own voucher codes, made by the worker instead of read from a file


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportSuperseded(Exception):
    """This run lost the job to a newer attempt (or it finished meanwhile); it stops without a trace."""


class BadCodeFile(DomainError):
    """The file cannot be imported at all; `code` says why (empty_file, binary_file, too_large, …)."""

    code = "bad_code_file"

    def __init__(self, problem: str, **params: object) -> None:
        super().__init__(problem, **params)
        self.problem = self.code = problem


@dataclass(frozen=True, slots=True)
class ImportProgress:
    rows_read: int = 0
    staged: int = 0
    duplicates_in_file: int = 0
    duplicates_in_pool: int = 0
    imported: int = 0
    rejected_count: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    done_permille: int = 0  # how far through the file, for the progress bar

    def with_chunk(self, rows: int, staged: int, rejected: list[tuple[int, str]], done_permille: int) -> ImportProgress:
        """Fold in one staged chunk: rows that were read, how many were new within the file, which were bad."""
        good = rows - len(rejected)
        return replace(
            self,
            rows_read=self.rows_read + rows,
            staged=self.staged + staged,
            duplicates_in_file=self.duplicates_in_file + good - staged,
            rejected_count=self.rejected_count + len(rejected),
            rejected=(self.rejected + rejected)[:REJECTED_KEPT],
            done_permille=done_permille,
        )


@dataclass(frozen=True, slots=True)
class CodeImport:
    product_id: int
    format: ImportFormat
    file_name: str
    source: str
    unit_cost: Money
    expires_at: datetime | None
    requested_by: str
    created_at: datetime
    status: ImportStatus = ImportStatus.QUEUED
    size: int = 0
    # For generated vouchers: how many codes, of what length.
    generate_count: int | None = None
    generate_length: int | None = None
    progress: ImportProgress = field(default_factory=ImportProgress)
    error: str | None = None
    batch_id: int | None = None
    finished_at: datetime | None = None
    # Which run owns the job: a newer run supersedes an older one that may still be going.
    attempt: int = 0
    updated_at: datetime | None = None
    id: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    def stale(self, now: datetime) -> bool:
        """Unfinished and silent for too long: its worker (or its queue message) is gone."""
        last = self.updated_at or self.created_at
        return not self.finished and now - last > STALE_AFTER

    def claimable(self, now: datetime) -> bool:
        """A run may take the job when it is queued, or when the run that had it went silent."""
        return self.status is ImportStatus.QUEUED or (self.status is ImportStatus.RUNNING and self.stale(now))

    def started(self, now: datetime) -> CodeImport:
        """(Re)start from the beginning as a new attempt: staged rows of any earlier attempt go."""
        return replace(
            self,
            status=ImportStatus.RUNNING,
            progress=ImportProgress(),
            error=None,
            attempt=self.attempt + 1,
            updated_at=now,
        )

    def advanced(self, progress: ImportProgress, now: datetime) -> CodeImport:
        return replace(self, progress=progress, updated_at=now)

    def completed(self, imported: int, batch_id: int | None, now: datetime) -> CodeImport:
        progress = replace(self.progress, imported=imported, duplicates_in_pool=self.progress.staged - imported)
        return replace(
            self, status=ImportStatus.DONE, progress=progress, batch_id=batch_id, finished_at=now, updated_at=now
        )

    def failed(self, problem: str, now: datetime) -> CodeImport:
        return replace(self, status=ImportStatus.FAILED, error=problem, finished_at=now, updated_at=now)


MAX_GENERATE = 1_000_000


def check_generation(count: int, length: int) -> None:
    errors: dict[str, str] = {}
    if not 1 <= count <= MAX_GENERATE:
        errors["count"] = "generate_count"
    if not VOUCHER_MIN <= length <= VOUCHER_MAX:
        errors["length"] = "voucher_length"
    if errors:
        raise ValidationFailed(errors)


def format_of(file_name: str) -> ImportFormat:
    """By extension: .xlsx is a workbook; .csv, .txt and pasted text are read as delimited text."""
    name = file_name.lower()
    if name.endswith(".xlsx"):
        return ImportFormat.XLSX
    if name.endswith((".csv", ".txt")) or name == "":
        return ImportFormat.TEXT
    raise BadCodeFile("unsupported_file_type")
