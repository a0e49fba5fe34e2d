"""Code files in and out. In: text (UTF-8 with or without BOM, or GB18030 as Chinese Excel saves
CSV) with a sniffed delimiter, and XLSX workbooks read row by row. Streams: memory stays flat for
text files; a workbook is held as its compressed bytes while openpyxl walks it in read-only mode.
Out: exports of a batch as CSV or XLSX, every cell made safe against formula injection."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date, datetime
from itertools import islice
from typing import Any

from openpyxl import Workbook, load_workbook

from domain.codefile import SAMPLE_LINES, detect_delimiter, split_line
from domain.codepool import CardSecret
from domain.imports import BadCodeFile, ImportFormat
from domain.ports import FileRow

SNIFF_BYTES = 64 * 1024
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
    """(line without its ending, permille of the file read so far), decoding incrementally."""
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
        lines = text.splitlines(keepends=True)
        # An unfinished last line (or a lone \r that may be half of \r\n) waits for the next piece.
        pending = lines.pop() if lines and not lines[-1].endswith("\n") else ""
        for line in lines:
            yield line.rstrip("\r\n"), consumed * 1000 // size
    rest = pending + decoder.decode(b"", final=True)
    for line in rest.splitlines():
        yield line, 1000


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
    if not buffer.getvalue().startswith(b"PK\x03\x04"):
        raise BadCodeFile("not_a_workbook")
    try:
        workbook = await asyncio.to_thread(load_workbook, buffer, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise BadCodeFile("not_a_workbook") from None
    try:
        sheet = workbook.active
        total = max(sheet.max_row or 0, 1)
        rows = sheet.iter_rows(values_only=True)
        number = 0
        while True:
            # openpyxl is synchronous; read in steps off the event loop so other work keeps flowing.
            step = await asyncio.to_thread(lambda: list(islice(rows, ROWS_PER_STEP)))
            if not step:
                return
            for values in step:
                number += 1
                yield FileRow(number, [_cell(value) for value in values], min(1000, number * 1000 // total))
    finally:
        workbook.close()


def _cell(value: Any) -> str:
    """Text as a person reads the cell: whole numbers without '.0', dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


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


async def xlsx_export(secrets: AsyncIterator[CardSecret]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("codes")
    sheet.append(EXPORT_HEADER)
    async for secret in secrets:
        sheet.append((spreadsheet_safe(secret.number), spreadsheet_safe(secret.pin)))
    buffer = io.BytesIO()
    await asyncio.to_thread(workbook.save, buffer)
    return buffer.getvalue()
