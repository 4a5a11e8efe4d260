"""Class progress as CSV for the teacher: one row per kid, one stars column per lesson.

Pure functions (no server state), so the quoting and the formula-injection guard are easy to test.
A spreadsheet runs a cell that starts with = + - @ (or a tab / carriage return) as a formula, so a kid
named "=HYPERLINK(...)" must not become one: such cells get a leading apostrophe (OWASP's advice).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel opens a UTF-8 CSV as the local code page unless it starts with a byte order mark; with it,
# names like "Zoë" or "Łukasz" survive. Every other CSV reader skips or tolerates the mark.
UTF8_BOM = "\ufeff"


@dataclass(frozen=True)
class LessonColumn:
    lesson_id: str
    title: str


@dataclass
class KidProgressRow:
    name: str
    level: int
    lessons_passed: int = 0
    stars: dict[str, int] = field(default_factory=dict)  # lesson_id -> best stars (teacher override wins)
    last_attempt_at: float | None = None  # unix time


def safe_cell(value: object) -> str:
    """The cell's text, with a leading apostrophe if a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def iso_utc(t: float | None) -> str:
    if t is None:
        return ""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def progress_csv(lessons: list[LessonColumn], rows: list[KidProgressRow]) -> str:
    """RFC 4180 CSV (CRLF, quotes doubled, fields with , " or newlines quoted), BOM first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    header = ["kid", "level", "lessons passed"] + [f"stars: {c.title}" for c in lessons] + ["last attempt"]
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        cells: list[object] = [row.name, row.level, row.lessons_passed]
        cells += [row.stars.get(c.lesson_id, "") for c in lessons]
        cells.append(iso_utc(row.last_attempt_at))
        writer.writerow([safe_cell(c) for c in cells])
    return UTF8_BOM + out.getvalue()
