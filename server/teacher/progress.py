"""What the teacher console needs to know about progress, read through the core's lesson book.

One small adapter, so the console's roster, CSV and lesson list do not depend on how lessons and
attempts are stored: lessons, a kid's results and locks, the lesson a kid picked, a kid's latest
attempt and the class-wide lesson modes all come from ``app[LESSONS]`` (server/core/lesson_book.py),
which the lessons feature provides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.core.lesson_book import LessonMode
from server.core.types import Kid
from server.teacher.progress_csv import KidProgressRow, LessonColumn
from server.web.state import CLASSROOM, LESSONS

log = logging.getLogger(__name__)


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
        except Exception:  # a broken lesson book must not take the roster down with it
            log.exception("lesson book failed")
            return []

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
        book = self.app[LESSONS]
        p.last_attempt_at, last_lesson = book.last_attempt(kid.kid_id)
        # current lesson: the one running now, else the one the kid picked, else the latest attempt's
        run = self.app[CLASSROOM].active_run(kid.kid_id)
        current = (run.lesson_id if run and run.lesson_id else None) or book.selected_lesson(kid.kid_id) or last_lesson
        if current:
            p.current_lesson = {"id": current, "title": titles.get(current, current)}
        return p

    def csv_row(self, kid: Kid) -> KidProgressRow:
        p = self.for_kid(kid)
        return KidProgressRow(kid.name, kid.level, p.lessons_passed, p.stars, p.last_attempt_at)

    def lessons_for_class(self, code: str) -> list[dict[str, Any]]:
        modes = self.app[LESSONS].class_lesson_modes(code)
        passed: dict[str, int] = {}
        for kid in self.app[CLASSROOM].kids_in_class(code):
            for lesson in self._lessons(kid):
                if lesson.get("passed"):
                    passed[str(lesson["id"])] = passed.get(str(lesson["id"]), 0) + 1
        out = []
        for lesson in self._lessons(None):
            lesson_id = str(lesson["id"])
            mode = modes.get(lesson_id, "auto")
            out.append({"id": lesson_id, "title": lesson.get("title") or lesson_id, "level": lesson.get("level"),
                        "mode": mode, "locked": mode == "locked", "passed_by": passed.get(lesson_id, 0)})
        return out

    def set_lesson_mode(self, code: str, lesson_id: str, mode: LessonMode) -> None:
        if lesson_id not in {str(l["id"]) for l in self._lessons(None)}:
            raise UnknownLesson(lesson_id)
        self.app[LESSONS].set_class_lesson_mode(code, lesson_id, mode)
