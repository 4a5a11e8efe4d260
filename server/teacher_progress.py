"""What the teacher console needs to know about progress, read from the lessons side.

One small adapter, so the console's roster, CSV and lesson list do not depend on how lessons and
attempts store their data: lessons come from the lesson registry (``fn(kid) -> [lesson dict]``,
which marks a kid's progress: passed, stars, locked); runs and attempts from the classroom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.classroom import Kid
from server.progress_csv import KidProgressRow, LessonColumn
from server.state import CLASSROOM, LESSONS, STORAGE

LOCKS_NS = "teacher_lesson_locks"  # kv namespace: class code -> {lesson_id: locked}


@dataclass
class KidProgress:
    current_lesson: dict[str, Any] | None = None  # {id, title}
    total_stars: int = 0
    best_stars: int = 0
    lessons_passed: int = 0
    stars: dict[str, int] = field(default_factory=dict)
    last_attempt_at: float | None = None


def _stars(lesson: dict[str, Any]) -> int:
    for key in ("stars", "best_stars"):
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
            return []

    def lesson_columns(self) -> list[LessonColumn]:
        return [LessonColumn(str(l["id"]), str(l.get("title") or l["id"])) for l in self._lessons(None)]

    def for_kid(self, kid: Kid) -> KidProgress:
        lessons = self._lessons(kid)
        p = KidProgress()
        for lesson in lessons:
            s = _stars(lesson)
            if s or lesson.get("passed"):
                p.stars[str(lesson["id"])] = s
            p.total_stars += s
            p.best_stars = max(p.best_stars, s)
            p.lessons_passed += 1 if lesson.get("passed") else 0
        titles = {str(l["id"]): str(l.get("title") or l["id"]) for l in lessons}
        run = self.app[CLASSROOM].active_run(kid.kid_id)
        last_lesson = None
        for _, r in self.app[STORAGE].kv_items("runs"):
            if r.get("kid_id") == kid.kid_id:
                t = r.get("ended_at") or r.get("started_at")
                if r.get("lesson_id") and (p.last_attempt_at is None or (t or 0) >= p.last_attempt_at):
                    p.last_attempt_at, last_lesson = t, r.get("lesson_id")
        current = (run.lesson_id if run and run.lesson_id else None) or last_lesson
        if current is None:
            current = next((str(l["id"]) for l in lessons if not l.get("passed") and not l.get("locked")), None)
        if current:
            p.current_lesson = {"id": current, "title": titles.get(current, current)}
        return p

    def csv_row(self, kid: Kid) -> KidProgressRow:
        p = self.for_kid(kid)
        return KidProgressRow(kid.name, kid.level, p.lessons_passed, p.stars, p.last_attempt_at)

    def lessons_for_class(self, code: str) -> list[dict[str, Any]]:
        locks = self.app[STORAGE].kv_get(LOCKS_NS, code, {}) or {}
        return [{"id": l["id"], "title": l.get("title") or l["id"], "level": l.get("level"),
                 "locked": bool(locks.get(str(l["id"]), False))} for l in self._lessons(None)]

    def set_lesson_lock(self, code: str, lesson_id: str, locked: bool) -> dict[str, Any]:
        storage = self.app[STORAGE]
        locks = dict(storage.kv_get(LOCKS_NS, code, {}) or {})
        locks[lesson_id] = locked
        storage.kv_put(LOCKS_NS, code, locks)
        return {}
