"""Progress and unlocks: which lessons a kid may pick, and when a kid moves up a level.

Pure rules over plain data (what the kid passed, the teacher's overrides), so the server, the teacher
console and tests all agree:

- lessons above the kid's level are locked ("unlocks at level N"); lessons below it are open;
- in the kid's level the first lesson is open, and passing a lesson opens what it unlocks
  (its ``unlocks`` list, else the next one by order);
- passing every lesson of the kid's level moves the kid up one level (:func:`level_up`);
- the teacher's overrides win: a lock or unlock for the whole class, or for one kid (kid beats class).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curriculum.lesson import Lesson
from curriculum.levels import MAX_LEVEL
from curriculum.loader import LessonSet


@dataclass
class LessonResult:
    passed: bool = False
    best_stars: int = 0
    attempts: int = 0


@dataclass
class Overrides:
    class_locks: dict[str, bool] = field(default_factory=dict)  # lesson_id -> locked (teacher console, per class)
    kid_locks: dict[str, bool] = field(default_factory=dict)  # lesson_id -> locked (one kid)


def unlocked_by_passing(lessons: LessonSet, results: dict[str, LessonResult]) -> set[str]:
    opened: set[str] = set()
    for lesson_id, r in results.items():
        if r.passed and lesson_id in lessons.lessons:
            opened |= {l.id for l in lessons.next_lessons(lessons.get(lesson_id))}
    return opened


def lock_state(lesson: Lesson, lessons: LessonSet, kid_level: int, results: dict[str, LessonResult],
               overrides: Overrides) -> tuple[bool, str]:
    """(locked, why) for one lesson and one kid; `why` is a kid sentence when locked."""
    if lesson.id in overrides.kid_locks:
        locked = overrides.kid_locks[lesson.id]
        return locked, "Your teacher has locked this lesson for now." if locked else ""
    if lesson.id in overrides.class_locks:
        locked = overrides.class_locks[lesson.id]
        return locked, "Your teacher has locked this lesson for now." if locked else ""
    if lesson.level > kid_level:
        return True, f"This lesson unlocks at level {lesson.level}."
    if lesson.level < kid_level or results.get(lesson.id, LessonResult()).attempts > 0:
        return False, ""
    first = min((l.order for l in lessons.for_level(lesson.level)), default=lesson.order)
    if lesson.order == first or lesson.id in unlocked_by_passing(lessons, results):
        return False, ""
    before = [l for l in lessons.for_level(lesson.level) if l.order < lesson.order]
    prev = before[-1].title if before else "the lesson before"
    return True, f"Pass “{prev}” to open this one."


def lesson_list(lessons: LessonSet, kid_level: int | None, results: dict[str, LessonResult] | None = None,
                overrides: Overrides | None = None) -> list[dict[str, Any]]:
    """What the lesson picker shows; kid_level None: every lesson, nothing locked (a teacher's view)."""
    results, overrides = results or {}, overrides or Overrides()
    out = []
    for lesson in lessons.ordered():
        r = results.get(lesson.id, LessonResult())
        locked, why = (False, "") if kid_level is None else lock_state(lesson, lessons, kid_level, results, overrides)
        out.append({**lesson.summary(locked=locked, passed=r.passed, best_stars=r.best_stars),
                    "stars": r.best_stars, "attempts": r.attempts, "locked_reason": why})
    return out


def level_complete(lessons: LessonSet, level: int, results: dict[str, LessonResult]) -> bool:
    in_level = lessons.for_level(level)
    return bool(in_level) and all(results.get(l.id, LessonResult()).passed for l in in_level)


def level_up(lessons: LessonSet, kid_level: int, results: dict[str, LessonResult]) -> int | None:
    """The kid's new level when they have passed every lesson of their level (None: stay)."""
    if kid_level < MAX_LEVEL and level_complete(lessons, kid_level, results):
        return kid_level + 1
    return None


def newly_unlocked(lessons: LessonSet, kid_level: int, before: dict[str, LessonResult],
                   after: dict[str, LessonResult], overrides: Overrides, new_level: int | None = None) -> list[str]:
    """Lessons that were locked before an attempt and are open after it (for the kid's feedback)."""
    was = {l.id for l in lessons.ordered() if lock_state(l, lessons, kid_level, before, overrides)[0]}
    level_now = new_level or kid_level
    return [l.id for l in lessons.ordered()
            if l.id in was and not lock_state(l, lessons, level_now, after, overrides)[0]]
