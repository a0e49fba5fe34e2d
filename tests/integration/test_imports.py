"""Importing code files on real SQLite and PostgreSQL: formats, dedupe, rejects, bad files, and a
failure half-way that leaves the batch absent until the import is run again."""

from __future__ import annotations

import codecs
import io
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from adapters.db.tables import code_import_chunks, code_import_rows, codes
from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails, CardSecret, Sealed, binding, is_valid_voucher
from domain.errors import ValidationFailed
from domain.imports import BadCodeFile, ImportStatus
from domain.money import Money
from domain.services.imports import NotVoucherProduct

DETAILS = BatchDetails("supplier", Money(950))


class RecordedJobs:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def import_codes(self, import_id: int) -> None:
        self.sent.append(import_id)


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
        sheet.append([6200000000000000 + n, 1000 + n])
    buffer = io.BytesIO()
    book.save(buffer)
    job = await run(imports, pid, "codes.xlsx", buffer.getvalue())
    assert job.status is ImportStatus.DONE and job.progress.imported == 500
    reserved = await container.stock.reserve(pid, 1, "peek")
    sealed = await _sealed(container, reserved[0])
    fingerprint, stored = sealed
    secret = CardSecret.from_plaintext(container.stock.vault.open(stored, binding=binding(pid, fingerprint)))
    assert secret == CardSecret("6200000000000001", "1001")


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
    done = await imports.run(job.id)
    again = await imports.run(job.id)
    assert done.status is ImportStatus.DONE and done.progress.imported == 5000 and again == done
    stock = await container.stock.of_product(pid)
    assert len(stock.batches) == 1 and stock.counts.available == 5000


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
