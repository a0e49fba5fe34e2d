"""Code files in and out. In: text (UTF-8 with or without BOM, or GB18030 as Chinese Excel saves
CSV) with a sniffed delimiter, and XLSX workbooks read row by row. Streams: memory stays flat for
text files; a workbook is held as its compressed bytes while openpyxl walks it in read-only mode.
Out: exports of a batch as CSV or XLSX, every cell made safe against formula injection."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import zipfile
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from openpyxl import Workbook, load_workbook

from domain.codefile import SAMPLE_LINES, detect_delimiter, split_line
from domain.codepool import CardSecret
from domain.imports import BadCodeFile, ImportFormat
from domain.ports import FileRow

SNIFF_BYTES = 64 * 1024
MAX_LINE = 4096  # characters; far beyond any real code and PIN, short enough to bound memory
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
ROWS_PER_STEP = 2000


class CodeFiles:
    async def rows(self, format: ImportFormat, data: AsyncIterator[bytes], size: int) -> AsyncIterator[FileRow]:
        reader = _text_rows if format is ImportFormat.TEXT else _workbook_rows
        async for row in reader(data, size):
            yield row


async def _text_rows(data: AsyncIterator[bytes], size: int) -> AsyncIterator[FileRow]:
    lines = _decoded_lines(data, size)
    head = []
    async for item in lines:
        head.append(item)
        if len(head) == SAMPLE_LINES:
            break
    delimiter = detect_delimiter([text for text, _ in head])
    number = 0
    for text, permille in head:
        number += 1
        yield FileRow(number, split_line(text, delimiter), permille)
    async for text, permille in lines:
        number += 1
        yield FileRow(number, split_line(text, delimiter), permille)


async def _decoded_lines(data: AsyncIterator[bytes], size: int) -> AsyncIterator[tuple[str, int]]:
    """(line without its ending, permille of the file read so far), decoding incrementally.

    Lines end only at \\n, \\r\\n or \\r: other characters Python counts as line breaks (form feed,
    U+2028, …) stay in the line, where validation rejects them. A line longer than MAX_LINE is cut
    there (and then rejected as too long) so a file without line breaks cannot fill the memory.
    """
    first = await _first_bytes(data)
    if b"\x00" in first[:SNIFF_BYTES]:
        raise BadCodeFile("binary_file")
    decoder = codecs.getincrementaldecoder(_encoding_of(first))(errors="strict")
    consumed, pending = 0, ""

    async def pieces() -> AsyncIterator[bytes]:
        yield first
        async for piece in data:
            yield piece

    async for piece in pieces():
        consumed += len(piece)
        try:
            text = pending + decoder.decode(piece)
        except UnicodeDecodeError:
            raise BadCodeFile("not_text") from None
        lines = _LINE_BREAK.split(text)
        # The last part is unfinished; so is a trailing \\r that may be half of \\r\\n.
        pending = lines.pop()
        if text.endswith("\r") and lines:
            pending = lines.pop() + "\r" + pending
        for line in lines:
            yield line[:MAX_LINE], consumed * 1000 // size
        if len(pending) > MAX_LINE:
            pending = pending[: MAX_LINE + 1]  # over the limit, and marked so by its length
    rest = pending + decoder.decode(b"", final=True)
    for line in _LINE_BREAK.split(rest) if rest else []:
        yield line[:MAX_LINE], 1000


async def _first_bytes(data: AsyncIterator[bytes]) -> bytes:
    """At least SNIFF_BYTES (or the whole file), enough to judge its encoding and whether it is text."""
    first = b""
    async for piece in data:
        first += piece
        if len(first) >= SNIFF_BYTES:
            break
    return first


def _encoding_of(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise BadCodeFile("not_text") from None


async def _workbook_rows(data: AsyncIterator[bytes], size: int) -> AsyncIterator[FileRow]:
    buffer = io.BytesIO()
    async for piece in data:
        buffer.write(piece)
    if bytes(buffer.getbuffer()[:4]) != b"PK\x03\x04":
        raise BadCodeFile("not_a_workbook")
    _check_unpacked_size(buffer)
    try:
        workbook = await asyncio.to_thread(load_workbook, buffer, read_only=True, data_only=True)
    except Exception:  # openpyxl's errors may quote cell text, i.e. codes: none of it may reach a log
        raise BadCodeFile("not_a_workbook") from None
    try:
        sheet = workbook.active
        total = max(sheet.max_row or 0, 1)
        rows = sheet.iter_rows()
        number = 0
        while True:
            # openpyxl is synchronous; read in steps off the event loop so other work keeps flowing.
            try:
                step = await asyncio.to_thread(lambda: list(islice(rows, ROWS_PER_STEP)))
            except Exception:
                raise BadCodeFile("not_a_workbook") from None
            if not step:
                return
            for cells in step:
                number += 1
                read = [_cell(cell) for cell in cells]
                problems = {i: problem for i, (_, problem) in enumerate(read) if problem}
                yield FileRow(number, [text for text, _ in read], min(1000, number * 1000 // total), problems)
    finally:
        workbook.close()


# A workbook is a zip: what it unpacks to, not its size on the wire, is what openpyxl holds in memory.
MAX_UNPACKED = 1024 * 1024 * 1024


def _check_unpacked_size(buffer: io.BytesIO) -> None:
    try:
        with zipfile.ZipFile(buffer) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise BadCodeFile("not_a_workbook") from None
    if unpacked > MAX_UNPACKED:
        raise BadCodeFile("too_large", limit_mb=MAX_UNPACKED // 2**20)
    buffer.seek(0)


_ZERO_PADDED = re.compile(r"^0+$")


def _cell(cell: Any) -> tuple[str, str | None]:
    """A cell as the text a person sees in it, or why it cannot hold a code.

    Numbers lose digits past 15 significant ones (Excel keeps no more): such a cell cannot be trusted
    to hold the code that was typed. Zero-padded formats (000000) keep their leading zeros.
    """
    value = getattr(cell, "value", None)
    kind = getattr(cell, "data_type", None)
    if value is None:
        return "", None
    if kind == "e":
        return "", "spreadsheet_error"
    if isinstance(value, bool):
        return str(value).upper(), None
    if isinstance(value, int | float):
        if abs(value) >= 1e15:
            return "", "imprecise_number"
        if isinstance(value, float) and not value.is_integer():
            return str(value), None
        text = str(int(value))
        number_format = getattr(cell, "number_format", "") or ""
        return (text.zfill(len(number_format)) if _ZERO_PADDED.match(number_format) else text), None
    if isinstance(value, datetime | date):
        return value.isoformat(), None
    return str(value), None


# A cell starting like a formula is run by spreadsheet programs when opened (CSV/formula injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_HEADER = ("card_number", "pin")


def spreadsheet_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


async def csv_export(secrets: AsyncIterator[CardSecret]) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM (so Excel opens Chinese text right), one code per line, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_HEADER)
    yield codecs.BOM_UTF8 + buffer.getvalue().encode()
    async for secret in secrets:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow((spreadsheet_safe(secret.number), spreadsheet_safe(secret.pin)))
        yield buffer.getvalue().encode()


def table_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A small table (a statement, say) as CSV: UTF-8 with a BOM, every text cell spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    # Text is made spreadsheet-safe; numbers stay as written (a "-19.80" is a debit, not a formula).
    writer.writerows([str(cell) if isinstance(cell, int | Decimal) else spreadsheet_safe(str(cell)) for cell in row]
                     for row in rows)  # fmt: skip
    return codecs.BOM_UTF8 + buffer.getvalue().encode()


def table_xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """The same small table as a workbook: numbers stay numbers (a statement's amounts add up in the
    spreadsheet), text is spreadsheet-safe."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([cell if isinstance(cell, int | Decimal) else spreadsheet_safe(str(cell)) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def xlsx_export(secrets: AsyncIterator[CardSecret]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("codes")
    sheet.append(EXPORT_HEADER)
    async for secret in secrets:
        sheet.append((spreadsheet_safe(secret.number), spreadsheet_safe(secret.pin)))
    buffer = io.BytesIO()
    await asyncio.to_thread(workbook.save, buffer)
    return buffer.getvalue()
