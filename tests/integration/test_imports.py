"""Importing code files on real SQLite and PostgreSQL: formats, dedupe, rejects, bad files, and a
failure half-way that leaves the batch absent until the import is run again."""

from __future__ import annotations

import asyncio
import codecs
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from adapters.db.tables import code_import_chunks, code_import_rows, codes
from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails, CardSecret, Sealed, binding, is_valid_voucher
from domain.errors import ValidationFailed
from domain.imports import STALE_AFTER, BadCodeFile, ImportStatus
from domain.money import Money
from domain.services.imports import NotVoucherProduct

DETAILS = BatchDetails("supplier", Money(950))


class Later:
    """The system clock, shifted: lets a test see what the sweeper sees minutes from now."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


class RecordedJobs:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def import_codes(self, import_id: int) -> None:
        self.sent.append(import_id)

    async def reseal_codes(self) -> None:
        raise AssertionError("no re-seal here")


@pytest.fixture
def imports(container):
    return replace(container.imports, jobs=RecordedJobs())


async def product(container, sku: str = "IMP-1") -> int:
    draft = ProductDraft(sku=sku, name="Import card", face_value="10", retail_price="9")
    return (await container.catalog.create(draft, Actor.cli())).id


async def pieces(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def run(imports, product_id: int, name: str, data: bytes):
    job = await imports.start(product_id, name, pieces(data), DETAILS, Actor.cli())
    assert imports.jobs.sent == [job.id]
    return await imports.run(job.id)


async def table_count(container, table, **where) -> int:
    async with container.engine.connect() as connection:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return (await connection.execute(query)).scalar_one()


async def test_a_csv_with_header_duplicates_and_bad_rows(container, imports):
    pid = await product(container)
    await container.stock.add_codes(pid, [(1, "IN-POOL-1", "")], DETAILS, Actor.cli())
    lines = ["卡号,密码", "A-0001,p1", "A-0002,p2", "A-0001,again", "", "IN-POOL-1,x", "BAD\x07CODE,p", "A-0003,"]
    data = codecs.BOM_UTF8 + "\r\n".join(lines).encode()
    job = await run(imports, pid, "codes.csv", data)
    assert job.status is ImportStatus.DONE and job.error is None
    p = job.progress
    assert (p.rows_read, p.imported, p.duplicates_in_file, p.duplicates_in_pool) == (6, 3, 1, 1)
    assert p.rejected == [(7, "control_characters")] and p.rejected_count == 1 and p.done_permille == 1000
    stock = await container.stock.of_product(pid)
    assert stock.counts.available == 4 and sorted(b.total for b, _ in stock.batches) == [1, 3]
    assert await table_count(container, code_import_rows) == 0 and await table_count(container, code_import_chunks) == 0
    assert await table_count(container, codes, product_id=pid) == 4


async def test_a_workbook_with_numeric_card_numbers(container, imports):
    pid = await product(container)
    book = Workbook()
    sheet = book.active
    sheet.append(["Card Number", "PIN"])
    for n in range(1, 501):
        sheet.append([62000000000000 + n, 1000 + n])  # 14 digits: numbers are exact up to 15
    buffer = io.BytesIO()
    book.save(buffer)
    job = await run(imports, pid, "codes.xlsx", buffer.getvalue())
    assert job.status is ImportStatus.DONE and job.progress.imported == 500
    reserved = await container.stock.reserve(pid, 1, "peek")
    sealed = await _sealed(container, reserved[0])
    fingerprint, stored = sealed
    secret = CardSecret.from_plaintext(container.stock.vault.open(stored, binding=binding(pid, fingerprint)))
    assert secret == CardSecret("62000000000001", "1001")


async def _sealed(container, code_id: int):
    async with container.engine.connect() as connection:
        row = (await connection.execute(select(codes).where(codes.c.id == code_id))).one()
    return row.fingerprint, Sealed(row.key_id, row.nonce, row.ciphertext)


async def test_gb18030_text_with_a_four_dash_delimiter(container, imports):
    pid = await product(container)
    data = "卡号----密码\n京东E卡001----密码一\n京东E卡002----密码二\n".encode("gb18030")
    job = await run(imports, pid, "jd.txt", data)
    assert job.progress.imported == 2 and job.progress.rejected == []


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("codes.txt", b"ABC\x00\x01\x02" * 100, "binary_file"),
        ("codes.xlsx", b"just text, not a zip", "not_a_workbook"),
        ("codes.csv", "密码,备注\nabc,def\n".encode(), "no_code_column"),
        ("codes.csv", b"\n\n  \n", "empty_file"),
        ("codes.csv", b"\xff\xfe\xfa\xfb" * 50, "not_text"),
    ],
)
async def test_a_bad_file_fails_with_a_reason_and_imports_nothing(container, imports, name, data, problem):
    pid = await product(container)
    job = await run(imports, pid, name, data)
    assert (job.status, job.error) == (ImportStatus.FAILED, problem)
    assert (await container.stock.of_product(pid)).batches == []
    assert await table_count(container, code_import_rows) == 0 and await table_count(container, code_import_chunks) == 0


async def test_files_refused_before_anything_is_stored(container, imports, monkeypatch):
    pid = await product(container)
    with pytest.raises(BadCodeFile) as caught:
        await imports.start(pid, "codes.pdf", pieces(b"x"), DETAILS, Actor.cli())
    assert caught.value.problem == "unsupported_file_type"
    with pytest.raises(BadCodeFile) as caught:
        await imports.start(pid, "codes.csv", pieces(b""), DETAILS, Actor.cli())
    assert caught.value.problem == "empty_file"
    monkeypatch.setattr("domain.services.imports.MAX_UPLOAD_BYTES", 10_000)
    with pytest.raises(BadCodeFile) as caught:
        await imports.start(pid, "codes.csv", pieces(b"CODE-1\n" * 5000), DETAILS, Actor.cli())
    assert caught.value.problem == "too_large"
    assert await imports.of_product(pid) == [] and imports.jobs.sent == []


async def test_a_crash_half_way_leaves_no_batch_and_a_rerun_imports_once(container, imports):
    pid = await product(container)
    data = "\n".join(f"CRASH-{n:05d}" for n in range(5000)).encode()
    job = await imports.start(pid, "codes.txt", pieces(data), DETAILS, Actor.cli())

    class Crash(Exception):
        pass

    real_reader = imports.reader

    class CrashingReader:
        async def rows(self, format, data, size):
            async for row in real_reader.rows(format, data, size):
                if row.line == 4500:
                    raise Crash()
                yield row

    with pytest.raises(Crash):
        await replace(imports, reader=CrashingReader()).run(job.id)
    half = await imports.get(job.id)
    assert half.status is ImportStatus.RUNNING and half.progress.staged == 4000
    assert (await container.stock.of_product(pid)).batches == [], "nothing reaches the pool half-way"
    assert (await imports.run(job.id)).status is ImportStatus.RUNNING, "a run that may still be alive is left alone"
    assert await imports.sweep() == []
    later = replace(imports, clock=Later(STALE_AFTER + timedelta(seconds=1)))
    assert await later.sweep() == [job.id] and imports.jobs.sent == [job.id, job.id], "the sweeper queues it again"
    done = await later.run(job.id)
    again = await later.run(job.id)
    assert done.status is ImportStatus.DONE and done.progress.imported == 5000 and again == done
    stock = await container.stock.of_product(pid)
    assert len(stock.batches) == 1 and stock.counts.available == 5000


async def test_two_runs_of_one_import_at_once_add_it_exactly_once(container, imports):
    pid = await product(container)
    data = "\n".join(f"TWICE-{n:05d}" for n in range(6000)).encode()
    job = await imports.start(pid, "codes.txt", pieces(data), DETAILS, Actor.cli())
    await asyncio.gather(imports.run(job.id), imports.run(job.id))
    final = await imports.get(job.id)
    assert final.status is ImportStatus.DONE and final.progress.imported == 6000
    stock = await container.stock.of_product(pid)
    assert len(stock.batches) == 1 and stock.counts.available == 6000


async def test_a_superseded_run_stops_without_touching_the_job(container, imports):
    pid = await product(container)
    data = "\n".join(f"OLD-{n:05d}" for n in range(5000)).encode()
    job = await imports.start(pid, "codes.txt", pieces(data), DETAILS, Actor.cli())
    paused = asyncio.Event()
    resume = asyncio.Event()
    real_reader = imports.reader

    class SlowReader:
        async def rows(self, format, data, size):
            async for row in real_reader.rows(format, data, size):
                if row.line == 2500:
                    paused.set()
                    await resume.wait()
                yield row

    old_run = asyncio.create_task(replace(imports, reader=SlowReader()).run(job.id))
    await paused.wait()
    later = replace(imports, clock=Later(STALE_AFTER + timedelta(seconds=1)))
    done = await later.run(job.id)  # the old run looks dead: a new attempt takes over and finishes
    resume.set()
    assert (await old_run) == done, "the old run noticed it was superseded and changed nothing"
    stock = await container.stock.of_product(pid)
    assert done.progress.imported == 5000 and len(stock.batches) == 1 and stock.counts.available == 5000


async def test_a_failed_import_can_be_given_up(container, imports):
    pid = await product(container)
    job = await imports.start(pid, "codes.txt", pieces(b"X-1\nX-2\n"), DETAILS, Actor.cli())
    failed = await imports.fail(job.id, "internal_error")
    assert failed.status is ImportStatus.FAILED and await table_count(container, code_import_chunks) == 0
    assert (await imports.run(job.id)).status is ImportStatus.FAILED, "a finished import is never run again"


async def voucher_product(container, sku: str = "VOUCH-1") -> int:
    draft = ProductDraft(sku=sku, name="Coffee voucher", face_value="20", retail_price="9.9", delivery_kind="voucher")
    return (await container.catalog.create(draft, Actor.cli())).id


async def test_generated_vouchers_are_unique_valid_and_in_the_pool(container, imports):
    pid = await voucher_product(container)
    job = await imports.generate(pid, 4500, 10, DETAILS, Actor.cli())
    assert imports.jobs.sent == [job.id] and job.format.value == "generated"
    done = await imports.run(job.id)
    assert done.status is ImportStatus.DONE and done.progress.imported == 4500
    async with container.engine.connect() as connection:
        rows = (await connection.execute(select(codes).where(codes.c.product_id == pid))).all()
    vault = container.stock.vault
    numbers = [
        CardSecret.from_plaintext(
            vault.open(Sealed(r.key_id, r.nonce, r.ciphertext), binding=binding(pid, r.fingerprint))
        ).number
        for r in rows
    ]
    assert len(set(numbers)) == 4500 and all(len(n) == 10 and is_valid_voucher(n) for n in numbers)


async def test_generation_makes_up_for_codes_that_collide(container, imports, monkeypatch):
    pid = await voucher_product(container)
    await container.stock.add_codes(pid, [(1, "TAKENCODE2", "")], DETAILS, Actor.cli())
    sequence = iter(["FIRSTCODE2", "FIRSTCODE2", "TAKENCODE2", "SECONDCDE2", "THIRDCODE2", "FOURTHCDE2"])
    monkeypatch.setattr("domain.services.imports.new_voucher", lambda length: next(sequence))
    job = await imports.generate(pid, 3, 10, DETAILS, Actor.cli())
    done = await imports.run(job.id)
    assert done.progress.imported == 3
    assert (await container.stock.of_product(pid)).counts.available == 4


async def test_vouchers_are_generated_only_for_voucher_products(container, imports):
    with pytest.raises(NotVoucherProduct):
        await imports.generate(await product(container), 10, 12, DETAILS, Actor.cli())
    with pytest.raises(ValidationFailed) as caught:
        await imports.generate(await voucher_product(container), 0, 40, DETAILS, Actor.cli())
    assert caught.value.errors == {"count": "generate_count", "length": "voucher_length"}


async def test_awkward_text_files_read_as_a_person_would(container, imports):
    pid = await product(container)
    long_line = "L" * 10_000
    data = (
        "FORM\x0cFEED\r\n"  # a form feed is a bad character, not a line break
        "LINE-2\r"  # old Mac line ending
        f"{long_line}\n"
        "LINE-4\u2028TAIL\n"
        "OK-5,\x01pin\n"
    ).encode()
    job = await run(imports, pid, "awkward.txt", data)
    assert job.status is ImportStatus.DONE
    assert job.progress.imported == 1
    assert job.progress.rejected == [
        (1, "control_characters"),
        (3, "too_long"),
        (4, "control_characters"),
        (5, "control_characters"),
    ]


async def test_workbook_cells_that_cannot_hold_codes_are_rejected_and_zero_padding_is_kept(container, imports):
    pid = await product(container)
    book = Workbook()
    sheet = book.active
    sheet.append(["卡号", "密码", "面值"])
    sheet.append(["GOOD-1", 42, 10.5])
    sheet["B2"].number_format = "000000"
    sheet.append([6212260200012345678, 1, 10])  # typed as a number: Excel already lost digits
    sheet.append(["GOOD-3", "=NA()", 10])
    sheet["B4"] = "#N/A"
    sheet["B4"].data_type = "e"
    buffer = io.BytesIO()
    book.save(buffer)
    job = await run(imports, pid, "codes.xlsx", buffer.getvalue())
    assert job.progress.imported == 1
    assert job.progress.rejected == [(3, "imprecise_number"), (4, "spreadsheet_error")]
    reserved = await container.stock.reserve(pid, 1, "peek")
    fingerprint, stored = await _sealed(container, reserved[0])
    assert CardSecret.from_plaintext(
        container.stock.vault.open(stored, binding=binding(pid, fingerprint))
    ) == CardSecret("GOOD-1", "000042")


async def test_a_broken_workbook_fails_without_quoting_its_content(container, imports, caplog):
    pid = await product(container)
    book = Workbook()
    book.active.append(["SECRET-CODE-1234"])
    buffer = io.BytesIO()
    book.save(buffer)
    broken = buffer.getvalue()[:-200]  # cut short: the zip directory is gone
    job = await run(imports, pid, "codes.xlsx", broken)
    assert (job.status, job.error) == (ImportStatus.FAILED, "not_a_workbook")
    assert "SECRET-CODE-1234" not in caplog.text


async def test_a_workbook_that_unpacks_too_big_is_refused_before_it_is_opened(container, imports, monkeypatch):
    pid = await product(container)
    book = Workbook()
    for n in range(2000):
        book.active.append([f"ZIP-{n:05d}"])
    buffer = io.BytesIO()
    book.save(buffer)
    monkeypatch.setattr("adapters.codefiles.MAX_UNPACKED", 50_000)  # the same check, at a size a test can build
    job = await run(imports, pid, "codes.xlsx", buffer.getvalue())
    assert (job.status, job.error) == (ImportStatus.FAILED, "too_large")
