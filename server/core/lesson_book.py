"""What the lessons feature tells the rest of the server, through the core.

The lesson list a kid sees (GET /api/lessons), which lesson a kid picked, a kid's latest attempt, and
the teacher's class-wide lesson modes. server/lessons provides the book (``app[LESSONS]``); the kid API
and the teacher's progress read through it, so nothing else touches the attempts table or the lessons'
key-value namespaces. Without the lessons feature the book is empty.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from server.core.types import Kid

LessonMode = Literal["auto", "open", "locked"]  # follow progress / open for the class / locked for the class


class LessonBook(Protocol):
    def lessons(self, kid: Kid | None) -> list[dict[str, Any]]:
        """Every lesson in course order; with a kid: their stars, passed and locked (with the reason)."""

    def selected_lesson(self, kid_id: str) -> str | None: ...

    def last_attempt(self, kid_id: str) -> tuple[float | None, str | None]:
        """(unix time, lesson id) of the kid's latest attempt, or (None, None)."""

    def class_lesson_modes(self, class_code: str) -> dict[str, LessonMode]:
        """The teacher's modes for a class; a lesson not listed follows progress ("auto")."""

    def set_class_lesson_mode(self, class_code: str, lesson_id: str, mode: LessonMode) -> None: ...


class NoLessons:
    """The book of a server without the lessons feature."""

    def lessons(self, kid: Kid | None) -> list[dict[str, Any]]:
        return []

    def selected_lesson(self, kid_id: str) -> str | None:
        return None

    def last_attempt(self, kid_id: str) -> tuple[float | None, str | None]:
        return None, None

    def class_lesson_modes(self, class_code: str) -> dict[str, LessonMode]:
        return {}

    def set_class_lesson_mode(self, class_code: str, lesson_id: str, mode: LessonMode) -> None:
        raise KeyError(lesson_id)
