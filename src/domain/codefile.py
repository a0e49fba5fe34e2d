"""How rows of a code file become codes: delimiter, optional header, which column holds what.

Files come from suppliers in every shape: `卡号,密码` CSV, tab- or `----`-separated text, a bare list,
spreadsheets with a header row in Chinese or English. These rules find the card number and PIN.
"""

from __future__ import annotations

import csv

from domain.imports import BadCodeFile

DELIMITERS = ("----", "\t", ",", ";", "|")
NUMBER_HEADERS = {"卡号", "卡密", "卡密号", "兑换码", "券码", "序列号", "card", "cardno", "card_no", "card number",
                  "number", "code", "codes", "cdk", "cdkey", "key", "serial", "voucher"}  # fmt: skip
PIN_HEADERS = {"密码", "卡密码", "pin", "password", "pwd", "pass", "secret", "cvv"}
OTHER_HEADERS = {"序号", "编号", "no", "id", "备注", "remark", "note", "面值", "金额", "amount", "value",
                 "有效期", "expiry", "expires", "批次", "batch"}  # fmt: skip
SAMPLE_LINES = 50


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


class CodeColumns:
    """Reads rows one at a time: the first non-blank row may be a header naming the columns."""

    def __init__(self) -> None:
        self._number_at, self._pin_at = 0, 1
        self._seen_first = False

    @property
    def positions(self) -> tuple[int, int]:
        """Where the card number and the PIN are (-1: no PIN column)."""
        return self._number_at, self._pin_at

    def read(self, cells: list[str]) -> tuple[str, str] | None:
        """(card number, PIN) for a row of cells; None for a blank row or the header."""
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            return None
        if not self._seen_first:
            self._seen_first = True
            if self._is_header(cells):
                return None
        number = cells[self._number_at] if self._number_at < len(cells) else ""
        pin = cells[self._pin_at] if 0 <= self._pin_at < len(cells) else ""
        return number, pin

    def _is_header(self, cells: list[str]) -> bool:
        names = [cell.lower().strip("#*: ") for cell in cells]
        if any(name in NUMBER_HEADERS for name in names):
            self._number_at = next(i for i, name in enumerate(names) if name in NUMBER_HEADERS)
            self._pin_at = next((i for i, name in enumerate(names) if name in PIN_HEADERS), -1)
            return True
        if all(name in PIN_HEADERS | OTHER_HEADERS for name in names if name):
            raise BadCodeFile("no_code_column")  # column names, but none of them holds codes
        return False
