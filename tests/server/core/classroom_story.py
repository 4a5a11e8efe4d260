"""A classroom's term in a few minutes, through the real API only: what the storage tests write, then
check after a restart, an upgrade or a copy to another database.

`fill(srv)` (a core_harness server with car-1): a class, four kids (one named with a diacritic), levels,
a shared car, graded lesson attempts (a pass, a fail the teacher overrides), a saved Blockly program
and a saved Scratch project. It returns the facts as JSON-able data; `check(srv, facts)` reads every one
of them back through the API. It uses nothing newer than the code before versioned migrations, so
tests/server/core/fixtures/make_classroom_v0.py runs it on that code to make the upgrade fixture.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from core_harness import CALL_TIMEOUT_S, wait_for

LESSON = "l1-wake-up"
NEXT_LESSON = "l1-around-the-corner"  # unlocked by passing LESSON
FEEDBACK_WAIT_S = 30.0  # the car drives 180 cm, rests, then the judge grades (no coach model)


def sb3_bytes(title: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project.json", json.dumps({"targets": [{"isStage": True, "name": title}], "meta": {}}))
    return buf.getvalue()


async def _attempt(srv, sio, feedback: list, program: dict, blocks: list) -> dict:
    before = len(feedback)
    started = await sio.call("run_start", {"source": "blockly", "program": program, "lesson_id": LESSON},
                             namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert started["status"] == "ok", started
    for block, args in blocks:
        r = await sio.call("block", {"block": block, "args": args, "run_id": started["run_id"]}, namespace="/kid",
                           timeout=CALL_TIMEOUT_S)
        assert r["status"] == "done", r
    await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                   timeout=CALL_TIMEOUT_S)
    await wait_for(lambda: len(feedback) > before, "the attempt's feedback", FEEDBACK_WAIT_S)
    return feedback[-1]


async def fill(srv) -> dict[str, Any]:
    from curriculum.coach import Coach, CoachConfig
    from server.lessons.service import ATTEMPTS

    service = srv.handle.app[ATTEMPTS]
    service.coach = Coach(CoachConfig(enabled=False))  # the checks' words: no model in these tests
    teacher = await srv.teacher()
    try:
        status, body = await teacher.post("/api/teacher/classes", {"name": "Class 4B"})
        assert status == 201, body
        code = body["code"]
        kids = {name: await srv.join(name, class_code=code) for name in ("Mia", "Leo", "Ada", "Zoë")}
        status, _ = await teacher.post(f"/api/teacher/classes/{code}/kids/{kids['Ada']['kid_id']}/level", {"level": 3})
        assert status == 200
        status, _ = await teacher.post("/api/teacher/cars/car-1/assign",
                                       {"kid_ids": [kids["Mia"]["kid_id"], kids["Leo"]["kid_id"]]})
        assert status == 200

        mia = kids["Mia"]
        auth = {"Authorization": f"Bearer {mia['token']}"}
        async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": LESSON}, headers=auth) as resp:
            assert resp.status == 200, await resp.text()
        await wait_for(lambda: abs(srv.classroom.latest_telemetry("car-1").pose.x_cm - 50) < 2,
                       "the car placed at the lesson's start")
        feedback: list[dict] = []
        sio = await srv.kid_socket(mia["token"], {"feedback": feedback.append})
        lesson = service.lesson_set.get(LESSON)
        good = await _attempt(srv, sio, feedback, lesson.solution.blockly, [("move_forward", {"distance": 180})])
        assert good["passed"] and good["stars"] >= 1, good
        bad = await _attempt(srv, sio, feedback, lesson.wrong_solution.blockly, [("move_forward", {"distance": 60})])
        assert not bad["passed"] and bad["stars"] == 0, bad
        status, body = await teacher.post(f"/api/teacher/attempts/{bad['attempt_id']}/override",
                                          {"stars": 1, "comment": "The garage door was stuck!"})
        assert status == 200, body

        program = lesson.solution.blockly
        async with srv.http.put(f"{srv.url}/api/programs/current", json={"program": program}, headers=auth) as resp:
            assert resp.status == 200, await resp.text()
        leo_auth = {"Authorization": f"Bearer {kids['Leo']['token']}"}
        async with srv.http.put(f"{srv.url}/api/programs/scratch", data=sb3_bytes("Leo's stage"),
                                headers={**leo_auth, "Content-Type": "application/x.scratch.sb3"}) as resp:
            assert resp.status == 200, await resp.text()
    finally:
        await teacher.http.close()
    return {
        "code": code,
        "kids": {name: {"kid_id": k["kid_id"], "level": 3 if name == "Ada" else 1,
                        "car_id": "car-1" if name in ("Mia", "Leo") else None} for name, k in kids.items()},
        "attempts": [{"attempt_id": bad["attempt_id"], "stars": 1, "judge_stars": 0, "overridden": True},
                     {"attempt_id": good["attempt_id"], "stars": good["stars"], "judge_stars": good["stars"],
                      "overridden": False}],
        "blockly_program": program,
        "scratch_title": "Leo's stage",
    }


async def check(srv, facts: dict[str, Any]) -> None:
    """Every fact `fill` wrote, read back through the API (kids rejoin by name: no old token needed)."""
    code = facts["code"]
    teacher = await srv.teacher()
    try:
        status, roster = await teacher.get(f"/api/teacher/classes/{code}/roster")
        assert status == 200, roster
        assert {k["name"]: (k["kid_id"], k["level"], k["car_id"]) for k in roster["kids"]} == {
            name: (k["kid_id"], k["level"], k["car_id"]) for name, k in facts["kids"].items()}
        mia_id = facts["kids"]["Mia"]["kid_id"]
        status, listed = await teacher.get(f"/api/teacher/attempts?kid={mia_id}")
        assert status == 200, listed
        got = [{key: a[key] for key in ("attempt_id", "stars", "judge_stars", "overridden")} for a in listed["attempts"]]
        assert got == facts["attempts"]  # newest first, the teacher's override kept beside the judge's stars
        assert all(a["status"] == "graded" and a["lesson_id"] == LESSON for a in listed["attempts"])
    finally:
        await teacher.http.close()

    mia = await srv.join("mia", class_code=code, rejoin=True)
    assert mia["kid_id"] == mia_id and mia["car_id"] == "car-1"
    auth = {"Authorization": f"Bearer {mia['token']}"}
    async with srv.http.get(f"{srv.url}/api/lessons", headers=auth) as resp:
        lessons = {lesson["id"]: lesson for lesson in (await resp.json())["lessons"]}
    assert not lessons[NEXT_LESSON]["locked"]  # passing the first lesson unlocked the next, still
    async with srv.http.get(f"{srv.url}/api/programs/current", headers=auth) as resp:
        assert (await resp.json())["program"] == facts["blockly_program"]
    leo = await srv.join("LEO", class_code=code, rejoin=True)
    async with srv.http.get(f"{srv.url}/api/programs/scratch",
                            headers={"Authorization": f"Bearer {leo['token']}"}) as resp:
        assert resp.status == 200
        with zipfile.ZipFile(io.BytesIO(await resp.read())) as zf:
            assert json.loads(zf.read("project.json"))["targets"][0]["name"] == facts["scratch_title"]
    zoe = await srv.join("ZOË", class_code=code, rejoin=True)  # her name's key (case folded) found her
    assert zoe["kid_id"] == facts["kids"]["Zoë"]["kid_id"]
