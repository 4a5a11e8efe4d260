"""A run that names a lesson names one the kid can do: an unknown or locked lesson id is refused with the
rule, the value and the fix, and nothing starts (before, it silently became a free run, never graded).
A real server on 127.0.0.1 with a simulated car, and a real kid socket.io client."""

from __future__ import annotations

import pytest

from core_harness import CALL_TIMEOUT_S, classroom_server

from server.lessons.service import ATTEMPTS

pytestmark = pytest.mark.timeout(90)


async def _run_start(sio, lesson_id: str) -> dict:
    return await sio.call("run_start", {"source": "blockly", "program": {"blocks": {}}, "lesson_id": lesson_id},
                          namespace="/kid", timeout=CALL_TIMEOUT_S)


async def test_an_unknown_lesson_id_is_refused_and_no_run_starts(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        refused = await _run_start(sio, "l9-no-such-lesson")
        assert refused["status"] == "refused" and refused["rule"] == "lesson_id", refused
        assert "'l9-no-such-lesson'" in refused["detail"] and "fix: start the run with the id of a lesson" in refused["detail"]
        assert "l1-wake-up" in refused["detail"]  # the fix names real lesson ids
        assert refused["kid_text"] and "lesson" in refused["kid_text"].lower()
        assert srv.classroom.active_run(kid["kid_id"]) is None and not srv.classroom.runs
        assert srv.handle.app[ATTEMPTS].store.rows_of_kid(kid["kid_id"]) == []

        started = await _run_start(sio, "l1-wake-up")  # the control: a real lesson id starts an attempt
        assert started["status"] == "ok", started
        assert [r["lesson_id"] for r in srv.handle.app[ATTEMPTS].store.rows_of_kid(kid["kid_id"])] == ["l1-wake-up"]


async def test_a_locked_lesson_id_is_refused_with_the_reason(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Leo")  # level 1: level-2 lessons are locked
        sio = await srv.kid_socket(kid["token"])
        refused = await _run_start(sio, "l2-speed-run")
        assert refused["status"] == "refused" and refused["rule"] == "lesson_locked", refused
        assert refused["kid_text"].startswith("This lesson unlocks at level 2."), refused
        assert srv.classroom.active_run(kid["kid_id"]) is None
        assert srv.handle.app[ATTEMPTS].store.rows_of_kid(kid["kid_id"]) == []
