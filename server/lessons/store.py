"""The only code that reads or writes the attempts table and the lessons' key-value namespaces.

The attempts table (its own migration), and three namespaces in the storage's key-value place: which
lesson a kid picked, the teacher's class-wide lesson modes, and per-kid lesson locks. The service and
the routes go through here; the rest of the server asks the core's lesson book (server/core/lesson_book.py).
"""

from __future__ import annotations

import json
from typing import Any

from curriculum.progress import LessonResult, Overrides
from server.core.lesson_book import LessonMode
from server.core.storage import Storage
from server.core.types import Kid

MIGRATION = ("attempts:1", """
CREATE TABLE IF NOT EXISTS attempts (
  attempt_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, kid_id TEXT NOT NULL, class_code TEXT NOT NULL,
  lesson_id TEXT NOT NULL, car_id TEXT, source TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL,
  end_reason TEXT, status TEXT NOT NULL, passed INTEGER, stars INTEGER, final_stars INTEGER,
  verdict TEXT, feedback TEXT, override TEXT, dir TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_by_kid ON attempts (kid_id, lesson_id)
""")
COLUMNS = ("attempt_id", "run_id", "kid_id", "class_code", "lesson_id", "car_id", "source", "started_at", "ended_at",
           "end_reason", "status", "passed", "stars", "final_stars", "verdict", "feedback", "override", "dir")
JSON_COLUMNS = ("verdict", "feedback", "override")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM attempts"

CLASS_MODES_NS = "teacher_lesson_locks"  # class code -> {lesson_id: True (locked) | False (opened)}; absent: auto
KID_LOCKS_NS = "attempts_kid_locks"  # kid_id -> {lesson_id: locked}
SELECTED_NS = "attempts_selected_lesson"  # kid_id -> lesson id the kid picked


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values))
    for key in JSON_COLUMNS:
        row[key] = json.loads(row[key]) if row[key] else None
    return row


class AttemptStore:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        storage.migrate(*MIGRATION)

    # --- attempts ---------------------------------------------------------------------------------

    def add(self, attempt_id: str, run_id: str, kid: Kid, lesson_id: str, car_id: str | None, source: str,
            started_at: float, directory: str) -> None:
        self.storage.execute(
            "INSERT INTO attempts (attempt_id, run_id, kid_id, class_code, lesson_id, car_id, source, started_at, "
            "status, dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'recording', ?)",
            (attempt_id, run_id, kid.kid_id, kid.class_code, lesson_id, car_id, source, started_at, directory))

    def update(self, attempt_id: str, **values: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        data = tuple(json.dumps(v) if k in JSON_COLUMNS and v is not None else v for k, v in values.items())
        self.storage.execute(f"UPDATE attempts SET {cols} WHERE attempt_id = ?", data + (attempt_id,))

    def row(self, attempt_id: str) -> dict[str, Any] | None:
        rows = self.storage.execute(f"{_SELECT} WHERE attempt_id = ?", (attempt_id,))
        return _row(rows[0]) if rows else None

    def rows_of_kid(self, kid_id: str, lesson_id: str | None = None) -> list[dict[str, Any]]:
        sql, params = f"{_SELECT} WHERE kid_id = ?", (kid_id,)
        if lesson_id:
            sql, params = sql + " AND lesson_id = ?", (kid_id, lesson_id)
        return [_row(r) for r in self.storage.execute(sql + " ORDER BY started_at DESC", params)]

    def recent(self, lesson_id: str | None, limit: int) -> list[dict[str, Any]]:
        """Every kid's attempts, newest first (at one lesson, if given)."""
        sql = _SELECT + (" WHERE lesson_id = ?" if lesson_id else "") + " ORDER BY started_at DESC LIMIT ?"
        return [_row(r) for r in self.storage.execute(sql, ((lesson_id,) if lesson_id else ()) + (limit,))]

    def unfinished(self) -> list[str]:
        """Attempts a crash or restart interrupted (still recording or grading)."""
        return [r[0] for r in self.storage.execute("SELECT attempt_id FROM attempts WHERE status IN ('recording', 'grading')")]

    def coach_waiting(self) -> list[str]:
        """Graded attempts whose coach's words were still expected (a restart dropped the coach queue)."""
        rows = self.storage.execute("SELECT attempt_id, feedback FROM attempts WHERE status = 'graded' "
                                    "AND feedback LIKE '%coach_pending%'")
        return [attempt_id for attempt_id, fb in rows if fb and json.loads(fb).get("coach_pending")]

    def results_of(self, kid_id: str) -> dict[str, LessonResult]:
        out: dict[str, LessonResult] = {}
        rows = self.storage.execute("SELECT lesson_id, final_stars, status FROM attempts WHERE kid_id = ?", (kid_id,))
        for lesson_id, stars, status in rows:
            r = out.setdefault(lesson_id, LessonResult())
            r.attempts += 1
            if status == "graded" and stars is not None:
                r.best_stars = max(r.best_stars, int(stars))
                r.passed = r.passed or int(stars) > 0
        return out

    def last_attempt(self, kid_id: str) -> tuple[float | None, str | None]:
        """(time, lesson) of the kid's latest attempt."""
        rows = self.storage.execute("SELECT COALESCE(ended_at, started_at), lesson_id FROM attempts WHERE kid_id = ? "
                                    "ORDER BY started_at DESC LIMIT 1", (kid_id,))
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    # --- the lesson a kid picked, and the locks ------------------------------------------------------

    def selected(self, kid_id: str) -> str | None:
        return self.storage.kv_get(SELECTED_NS, kid_id)

    def select(self, kid_id: str, lesson_id: str | None) -> None:
        if lesson_id is None:
            self.storage.kv_delete(SELECTED_NS, kid_id)
        else:
            self.storage.kv_put(SELECTED_NS, kid_id, lesson_id)

    def class_modes(self, class_code: str) -> dict[str, LessonMode]:
        locks = self.storage.kv_get(CLASS_MODES_NS, class_code, {}) or {}
        return {str(k): "locked" if v else "open" for k, v in locks.items()}

    def set_class_mode(self, class_code: str, lesson_id: str, mode: LessonMode) -> None:
        locks = dict(self.storage.kv_get(CLASS_MODES_NS, class_code, {}) or {})
        if mode == "auto":
            locks.pop(lesson_id, None)
        else:
            locks[lesson_id] = mode == "locked"
        self.storage.kv_put(CLASS_MODES_NS, class_code, locks)

    def set_kid_lock(self, kid_id: str, lesson_id: str, locked: bool) -> None:
        locks = dict(self.storage.kv_get(KID_LOCKS_NS, kid_id, {}) or {})
        locks[lesson_id] = locked
        self.storage.kv_put(KID_LOCKS_NS, kid_id, locks)

    def overrides_of(self, kid: Kid) -> Overrides:
        """The teacher's word on top of progress: class-wide modes, then per-kid locks."""
        class_locks = self.storage.kv_get(CLASS_MODES_NS, kid.class_code, {}) or {}
        kid_locks = self.storage.kv_get(KID_LOCKS_NS, kid.kid_id, {}) or {}
        return Overrides({str(k): bool(v) for k, v in class_locks.items()}, {str(k): bool(v) for k, v in kid_locks.items()})
