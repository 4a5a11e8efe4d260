"""Progress rules over the shipped lessons: what a kid may pick, what passing opens, when a kid levels up,
and the teacher's overrides."""

from __future__ import annotations

from curriculum.loader import default_lessons
from curriculum.progress import LessonResult, Overrides, lesson_list, level_up, lock_state, newly_unlocked

LESSONS = default_lessons()


def _locks(level: int, results=None, overrides=None) -> dict[str, bool]:
    return {l["id"]: l["locked"] for l in lesson_list(LESSONS, level, results or {}, overrides or Overrides())}


def test_new_kid_sees_only_the_first_lesson_of_level_one_open():
    locks = _locks(1)
    assert not locks["l1-wake-up"]
    assert locks["l1-around-the-corner"] and locks["l1-square-dance"] and locks["l2-speed-run"]
    reason = lock_state(LESSONS.get("l2-speed-run"), LESSONS, 1, {}, Overrides())[1]
    assert reason == "This lesson unlocks at level 2."


def test_passing_a_lesson_opens_the_next_and_its_unlock_list():
    after_first = {"l1-wake-up": LessonResult(True, 2, 1)}
    assert not _locks(1, after_first)["l1-around-the-corner"]
    assert _locks(1, after_first)["l1-square-dance"]
    after_second = {**after_first, "l1-around-the-corner": LessonResult(True, 1, 3)}
    assert not _locks(1, after_second)["l1-square-dance"]  # opened by the explicit `unlocks:` list
    assert newly_unlocked(LESSONS, 1, after_first, after_second, Overrides()) == ["l1-square-dance"]


def test_failed_attempts_do_not_unlock_anything():
    tried = {"l1-wake-up": LessonResult(False, 0, 4)}
    assert _locks(1, tried)["l1-around-the-corner"]
    assert level_up(LESSONS, 1, tried) is None


def test_passing_every_lesson_of_a_level_moves_the_kid_up_and_opens_the_next_level():
    all_one = {l.id: LessonResult(True, 1, 1) for l in LESSONS.for_level(1)}
    assert level_up(LESSONS, 1, all_one) == 2
    opened = newly_unlocked(LESSONS, 1, {}, all_one, Overrides(), new_level=2)
    assert "l2-stop-at-the-wall" in opened and "l2-speed-run" not in opened
    everything = {l.id: LessonResult(True, 3, 1) for l in LESSONS.ordered()}
    assert level_up(LESSONS, 4, everything) is None


def test_teacher_overrides_win_and_a_kid_override_beats_the_class():
    class_locked = Overrides(class_locks={"l1-wake-up": True, "l1-square-dance": False})
    locks = _locks(1, overrides=class_locked)
    assert locks["l1-wake-up"] and not locks["l1-square-dance"]
    kid_open = Overrides(class_locks={"l1-wake-up": True}, kid_locks={"l1-wake-up": False, "l3-treasure-map": False})
    locks = _locks(1, overrides=kid_open)
    assert not locks["l1-wake-up"] and not locks["l3-treasure-map"]


def test_teacher_view_lists_every_lesson_unlocked_in_course_order():
    items = lesson_list(LESSONS, None)
    assert [i["id"] for i in items] == [l.id for l in LESSONS.ordered()]
    assert not any(i["locked"] for i in items)
    assert all("solution" not in i for i in items)  # the picker never shows the answers
