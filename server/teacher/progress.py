"""What the teacher console needs to know about progress, read from the lessons side.

One small adapter, so the console's roster, CSV and lesson list do not depend on how lessons and
attempts store their data: lessons and a kid's results come from the lesson registry
(``fn(kid) -> [lesson dict]`` with passed / stars / locked per kid); attempt times and the lesson a
kid picked from the attempts' storage. Class-wide lesson locks live here (kv namespace LOCKS_NS)
and the lesson gate reads them (server/lessons/service.py): locked, opened, or absent = follow progress.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from server.core.classroom import Kid
from server.teacher.progress_csv import KidProgressRow, LessonColumn
from server.web.state import CLASSROOM, LESSONS, STORAGE

log = logging.getLogger(__name__)

LOCKS_NS = "teacher_lesson_locks"  # kv: class code -> {lesson_id: True (locked) | False (opened)}
SELECTED_NS = "attempts_selected_lesson"  # kv of server/lessons/service.py: kid_id -> lesson the kid picked
LessonMode = Literal["auto", "open", "locked"]


class UnknownLesson(KeyError):
    pass


@dataclass
class KidProgress:
    current_lesson: dict[str, Any] | None = None  # {id, title}
    total_stars: int = 0
    best_stars: int = 0
    lessons_passed: int = 0
    stars: dict[str, int] = field(default_factory=dict)  # lesson_id -> best stars (teacher override included)
    last_attempt_at: float | None = None


def _stars(lesson: dict[str, Any]) -> int:
    for key in ("best_stars", "stars"):
        value = lesson.get(key)
        if isinstance(value, (int, float)):
            return int(value)
    return 0


class TeacherProgress:
    def __init__(self, app: web.Application) -> None:
        self.app = app

    def _lessons(self, kid: Kid | None) -> list[dict[str, Any]]:
        try:
            return self.app[LESSONS].lessons(kid)
        except Exception:  # a broken provider must not take the roster down with it
            log.exception("lesson provider failed")
            return []

    def _last_attempt(self, kid_id: str) -> tuple[float | None, str | None]:
        """(time, lesson) of the kid's latest attempt: the attempts table, else runs with a lesson."""
        try:
            rows = self.app[STORAGE].execute(
                "SELECT COALESCE(ended_at, started_at), lesson_id FROM attempts WHERE kid_id = ? "
                "ORDER BY started_at DESC LIMIT 1", (kid_id,))
            return (rows[0][0], rows[0][1]) if rows else (None, None)
        except sqlite3.OperationalError:  # no attempts feature on this server: runs are all we have
            runs = [r for _, r in self.app[STORAGE].kv_items("runs") if r.get("kid_id") == kid_id and r.get("lesson_id")]
            if not runs:
                return None, None
            last = max(runs, key=lambda r: r.get("started_at") or 0)
            return last.get("ended_at") or last.get("started_at"), last["lesson_id"]

    def lesson_columns(self) -> list[LessonColumn]:
        return [LessonColumn(str(l["id"]), str(l.get("title") or l["id"])) for l in self._lessons(None)]

    def for_kid(self, kid: Kid) -> KidProgress:
        lessons = self._lessons(kid)
        p = KidProgress()
        for lesson in lessons:
            s = _stars(lesson)
            if s or lesson.get("passed") or lesson.get("attempts"):
                p.stars[str(lesson["id"])] = s
            p.total_stars += s
            p.best_stars = max(p.best_stars, s)
            p.lessons_passed += 1 if lesson.get("passed") else 0
        titles = {str(l["id"]): str(l.get("title") or l["id"]) for l in lessons}
        p.last_attempt_at, last_lesson = self._last_attempt(kid.kid_id)
        # current lesson: the one running now, else the one the kid picked, else the latest attempt's
        run = self.app[CLASSROOM].active_run(kid.kid_id)
        selected = self.app[STORAGE].kv_get(SELECTED_NS, kid.kid_id)
        current = (run.lesson_id if run and run.lesson_id else None) or selected or last_lesson
        if current:
            p.current_lesson = {"id": current, "title": titles.get(current, current)}
        return p

    def csv_row(self, kid: Kid) -> KidProgressRow:
        p = self.for_kid(kid)
        return KidProgressRow(kid.name, kid.level, p.lessons_passed, p.stars, p.last_attempt_at)

    def lessons_for_class(self, code: str) -> list[dict[str, Any]]:
        locks = self.app[STORAGE].kv_get(LOCKS_NS, code, {}) or {}
        passed: dict[str, int] = {}
        for kid in self.app[CLASSROOM].kids_in_class(code):
            for lesson in self._lessons(kid):
                if lesson.get("passed"):
                    passed[str(lesson["id"])] = passed.get(str(lesson["id"]), 0) + 1
        out = []
        for lesson in self._lessons(None):
            lesson_id = str(lesson["id"])
            mode = "auto" if lesson_id not in locks else ("locked" if locks[lesson_id] else "open")
            out.append({"id": lesson_id, "title": lesson.get("title") or lesson_id, "level": lesson.get("level"),
                        "mode": mode, "locked": mode == "locked", "passed_by": passed.get(lesson_id, 0)})
        return out

    def set_lesson_mode(self, code: str, lesson_id: str, mode: LessonMode) -> None:
        if lesson_id not in {str(l["id"]) for l in self._lessons(None)}:
            raise UnknownLesson(lesson_id)
        storage = self.app[STORAGE]
        locks = dict(storage.kv_get(LOCKS_NS, code, {}) or {})
        if mode == "auto":
            locks.pop(lesson_id, None)
        else:
            locks[lesson_id] = mode == "locked"
        storage.kv_put(LOCKS_NS, code, locks)
