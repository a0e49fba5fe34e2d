"""Reading code files: delimiters, headers in Chinese and English, PIN columns, blank lines."""

from __future__ import annotations

import pytest

from domain.codefile import CodeColumns, detect_delimiter, split_line
from domain.imports import BadCodeFile, ImportFormat, format_of


def read(text: str) -> list[tuple[int, str, str]]:
    lines = text.splitlines()
    delimiter, columns = detect_delimiter(lines), CodeColumns[int]()
    found = [row for n, line in enumerate(lines, start=1) for row in columns.feed(n, split_line(line, delimiter))]
    return found + columns.finish()


def test_one_code_per_line_with_blank_lines_and_whitespace():
    assert read("  AAAA-1111 \n\nBBBB-2222\r\n") == [(1, "AAAA-1111", ""), (3, "BBBB-2222", "")]


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|", "----"])
def test_number_and_pin_with_any_common_delimiter(delimiter):
    text = f"AAAA{delimiter}1111\nBBBB{delimiter} 2222 \n"
    assert read(text) == [(1, "AAAA", "1111"), (2, "BBBB", "2222")]


def test_a_chinese_header_is_skipped_and_picks_the_columns():
    text = "序号,密码,卡号\n1,p-1,CARD-1\n2,p-2,CARD-2\n"
    assert read(text) == [(2, "CARD-1", "p-1"), (3, "CARD-2", "p-2")]


def test_an_english_header_without_pin_column():
    assert read("Card Number\nX-1\nX-2\n") == [(2, "X-1", ""), (3, "X-2", "")]


def test_a_header_naming_only_a_password_has_no_code_column():
    with pytest.raises(BadCodeFile) as caught:
        read("password,remark\nabc,def\n")
    assert caught.value.problem == "no_code_column"


def test_a_title_above_the_header_and_full_width_or_unlisted_names():
    text = "京东E卡卡密明细（2024-06）\n序号，充值卡号：,卡密密码\n1,JD-0001,1111\n2,JD-0002,2222\n"
    assert read(text.replace("，", ",")) == [(3, "JD-0001", "1111"), (4, "JD-0002", "2222")]


def test_without_a_header_the_first_rows_are_codes_in_order():
    text = "".join(f"CODE-{n},PIN{n}\n" for n in range(1, 15))
    assert read(text)[:2] == [(1, "CODE-1", "PIN1"), (2, "CODE-2", "PIN2")] and len(read(text)) == 14


def test_quoted_csv_cells_keep_their_commas():
    assert read('"A,1",pin\n"B,2",pin2\n') == [(1, "A,1", "pin"), (2, "B,2", "pin2")]


def test_delimiter_detection_prefers_the_consistent_one():
    assert detect_delimiter(["a,b", "c,d", "e;f"]) == ","
    assert detect_delimiter(["abc", "def"]) is None
    assert detect_delimiter(["a----b", "c----d"]) == "----"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("codes.CSV", ImportFormat.TEXT),
        ("a.txt", ImportFormat.TEXT),
        ("b.xlsx", ImportFormat.XLSX),
        ("", ImportFormat.TEXT),
    ],
)
def test_file_formats_by_name(name, expected):
    assert format_of(name) == expected


@pytest.mark.parametrize("name", ["codes.xls", "codes.pdf", "codes.zip"])
def test_unsupported_file_types_are_refused(name):
    with pytest.raises(BadCodeFile) as caught:
        format_of(name)
    assert caught.value.problem == "unsupported_file_type"
