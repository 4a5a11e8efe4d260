"""Class progress CSV: proper quoting, formula-injection-safe cells, one stars column per lesson."""

from __future__ import annotations

import csv
import io

import pytest

from server.teacher.progress_csv import UTF8_BOM, KidProgressRow, LessonColumn, progress_csv, safe_cell

LESSONS = [LessonColumn("l1_first_drive", "First drive"), LessonColumn("l1_square", 'The "square", again')]


def parse(text: str) -> list[list[str]]:
    assert text.startswith(UTF8_BOM)
    return list(csv.reader(io.StringIO(text[len(UTF8_BOM):], newline="")))


@pytest.mark.parametrize("value", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Mia", "Zoë", "3", "", "a=b", "First drive"])
def test_ordinary_cells_are_unchanged(value):
    assert safe_cell(value) == value


def test_progress_csv_has_one_row_per_kid_and_a_stars_column_per_lesson():
    rows = [KidProgressRow("Mia", 2, 1, {"l1_first_drive": 3}, 1_763_700_000.0),
            KidProgressRow("Leo", 1, 0, {}, None)]
    table = parse(progress_csv(LESSONS, rows))
    assert table[0] == ["kid", "level", "lessons passed", "stars: First drive", 'stars: The "square", again', "last attempt"]
    assert table[1] == ["Mia", "2", "1", "3", "", "2025-11-21 04:40:00 UTC"]
    assert table[2] == ["Leo", "1", "0", "", "", ""]


def test_progress_csv_quotes_commas_quotes_and_newlines_and_defuses_formulas():
    lessons = [LessonColumn("evil", "=cmd|' /C calc'!A0"), LessonColumn("comma", "Left, then right\nand stop")]
    text = progress_csv(lessons, [KidProgressRow("@Ann", 1, 0, {"evil": 1}, None)])
    assert text.endswith("\r\n") and '"stars: Left, then right\nand stop"' in text  # RFC 4180 quoting
    table = parse(text)
    assert table[0][3] == "stars: =cmd|' /C calc'!A0"  # starts with "s": a spreadsheet shows it as text
    assert table[0][4] == "stars: Left, then right\nand stop"
    assert table[1][0] == "'@Ann"
    for row in table:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
