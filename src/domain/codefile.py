"""How rows of a code file become codes: delimiter, optional header, which column holds what.

Files come from suppliers in every shape: `卡号,密码` CSV, tab- or `----`-separated text, a bare list,
spreadsheets with a header row in Chinese or English. These rules find the card number and PIN.
"""

from __future__ import annotations

import csv
import unicodedata
from typing import Generic, TypeVar

from domain.imports import BadCodeFile

DELIMITERS = ("----", "\t", ",", ";", "|")
NUMBER_HEADERS = {"卡号", "卡密", "卡密号", "兑换码", "券码", "序列号", "card", "cardno", "card_no", "card number",
                  "number", "code", "codes", "cdk", "cdkey", "key", "serial", "voucher"}  # fmt: skip
PIN_HEADERS = {"密码", "卡密码", "pin", "password", "pwd", "pass", "secret", "cvv"}
OTHER_HEADERS = {"序号", "编号", "no", "id", "备注", "remark", "note", "面值", "金额", "amount", "value",
                 "有效期", "expiry", "expires", "批次", "batch"}  # fmt: skip
SAMPLE_LINES = 50

T = TypeVar("T")


def detect_delimiter(sample: list[str]) -> str | None:
    """The delimiter that splits most sample lines into 2+ cells; None for one code per line."""
    lines = [line for line in sample if line.strip()]
    best, best_hits = None, 0
    for delimiter in DELIMITERS:
        hits = sum(1 for line in lines if delimiter in line)
        if hits > best_hits and hits >= max(1, len(lines) // 2):
            best, best_hits = delimiter, hits
    return best


def split_line(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return [line]
    if len(delimiter) == 1 and delimiter != "|":
        try:
            return next(csv.reader([line], delimiter=delimiter), [])  # honours "quoted, cells"
        except csv.Error:
            return [line]  # unreadable as CSV (a stray NUL, say): one cell, which validation rejects
    return line.split(delimiter)


class CodeColumns(Generic[T]):
    """Finds the columns, then reads rows into (card number, PIN).

    The header may sit below a title row or two, so the first HEADER_SCAN non-blank rows are held
    back until a header is found among them (rows above it are a title: skipped) or is not (they
    are all codes, card number first, PIN second). Feed rows in order; `finish` at the end.
    """

    def __init__(self) -> None:
        self._number_at, self._pin_at = 0, 1
        self._held: list[tuple[T, list[str]]] | None = []

    @property
    def positions(self) -> tuple[int, int]:
        """Where the card number and the PIN are (-1: no PIN column)."""
        return self._number_at, self._pin_at

    def feed(self, item: T, cells: list[str]) -> list[tuple[T, str, str]]:
        """The rows now known to be codes: (item, card number, PIN); blank rows and headers are dropped."""
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            return []
        if self._held is None:
            return [self._read(item, cells)]
        if self._is_header(cells):
            self._held = None  # everything above the header was a title
            return []
        self._held.append((item, cells))
        return self.finish() if len(self._held) >= HEADER_SCAN else []

    def finish(self) -> list[tuple[T, str, str]]:
        """No header among the first rows (or the file ended): the held rows are codes after all."""
        held, self._held = self._held or [], None
        return [self._read(item, cells) for item, cells in held]

    def _read(self, item: T, cells: list[str]) -> tuple[T, str, str]:
        number = cells[self._number_at] if self._number_at < len(cells) else ""
        pin = cells[self._pin_at] if 0 <= self._pin_at < len(cells) else ""
        return item, number, pin

    def _is_header(self, cells: list[str]) -> bool:
        names = [_header_name(cell) for cell in cells]
        number_at = next((i for i, name in enumerate(names) if _names_codes(name)), None)
        if number_at is not None:
            self._number_at = number_at
            self._pin_at = next((i for i, name in enumerate(names) if _names_pins(name)), -1)
            return True
        if all(_names_pins(name) or name in OTHER_HEADERS for name in names if name):
            raise BadCodeFile("no_code_column")  # column names, but none of them holds codes
        return False


HEADER_SCAN = 10
_PUNCTUATION = "#*:()[]<>【】「」 "
_CODE_SUFFIXES = ("卡号", "卡密", "券码", "兑换码", "序列号", "激活码")


def _header_name(cell: str) -> str:
    """Full-width forms folded (NFKC: ：→: （→( ), case and punctuation dropped."""
    return unicodedata.normalize("NFKC", cell).lower().strip(_PUNCTUATION)


def _names_pins(name: str) -> bool:
    return name in PIN_HEADERS or (len(name) <= 8 and name.endswith("密码"))


def _names_codes(name: str) -> bool:
    """A column name for card numbers: a known one, or a short Chinese one ending like 充值卡号."""
    if _names_pins(name):
        return False
    return name in NUMBER_HEADERS or (len(name) <= 8 and name.endswith(_CODE_SUFFIXES))
