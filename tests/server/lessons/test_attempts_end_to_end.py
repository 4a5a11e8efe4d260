"""One lesson attempt end to end: a real server on 127.0.0.1, a real simulated car over the real link,
a real kid socket.io client. Pick a lesson, run the reference program, get stars and feedback;
the teacher reads the evidence and overrides the grade, and the kid hears about it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for  # noqa: E402
from fake_ollama import FakeOllama, reply  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

FEEDBACK_WAIT_S = 20.0  # the car finishes, rests, then judge + frames (~50 ms) + coach (local stand-in)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.timeout(120)


async def _run(sio, program, blocks, lesson_id):
    started = await sio.call("run_start", {"source": "blockly", "program": program, "lesson_id": lesson_id},
                             namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert started["status"] == "ok", started
    for block, args in blocks:
        r = await sio.call("block", {"block": block, "args": args, "run_id": started["run_id"]}, namespace="/kid",
                           timeout=CALL_TIMEOUT_S)
        assert r["status"] == "done", r
    await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                   timeout=CALL_TIMEOUT_S)
    return started["run_id"]


async def test_kid_attempt_is_graded_with_feedback_and_teacher_override_reaches_the_kid(tmp_path):
    fake = await FakeOllama().start()
    fake.replies = [reply("Your car drove straight into the garage.",
                          "Try move forward 180 cm at a speed of 30 again to be even calmer.", True)]
    try:
        async with classroom_server(tmp_path, cars=["car-1"]) as srv:
            srv.handle.app[ATTEMPTS].coach = Coach(CoachConfig(host=fake.url, timeout_s=5))
            kid = await srv.join("Mia")
            auth = {"Authorization": f"Bearer {kid['token']}"}
            async with srv.http.get(f"{srv.url}/api/lessons", headers=auth) as resp:
                lessons = {l["id"]: l for l in (await resp.json())["lessons"]}
            assert not lessons["l1-wake-up"]["locked"] and lessons["l1-around-the-corner"]["locked"]
            assert lessons["l2-speed-run"]["locked_reason"] == "This lesson unlocks at level 2."
            assert lessons["l1-wake-up"]["arena"]["zones"][0]["name"] == "garage"

            async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"},
                                     headers=auth) as resp:
                assert resp.status == 200, await resp.text()
            async with srv.http.get(f"{srv.url}/api/arena?car=car-1") as resp:
                assert (await resp.json())["arena"]["name"] == "breakfast run"
            await wait_for(lambda: abs(srv.classroom.latest_telemetry("car-1").pose.x_cm - 50) < 2,
                           "the car placed at the lesson's start")

            feedback: list[dict] = []
            sio = await srv.kid_socket(kid["token"], {"feedback": feedback.append})
            lesson = srv.handle.app[ATTEMPTS].lesson_set.get("l1-wake-up")
            await _run(sio, lesson.solution.blockly, [("move_forward", {"distance": 180})], "l1-wake-up")
            await wait_for(lambda: feedback, "feedback after the good run", FEEDBACK_WAIT_S)
            first = feedback[0]  # stars and checks at once, the checks' words while the coach writes
            assert first["passed"] and first["coach_pending"] and first["source"] == "checks"
            await wait_for(lambda: len(feedback) >= 2, "the coach's words after the good run", FEEDBACK_WAIT_S)
            good = feedback[-1]
            assert good["attempt_id"] == first["attempt_id"] and good["coach_update"] and not good["coach_pending"]
            assert good["passed"] and good["stars"] >= 2 and good["source"] == "model"
            assert "stopped inside the garage" in [c["kid_text"] for c in good["checks"]]
            assert good["text"].startswith("Your car drove straight into the garage.")
            assert "l1-around-the-corner" in first["unlocked"]
            sent = fake.received[0]["messages"][-1]
            assert len(sent["images"]) >= 3 and "move forward 180 cm" in sent["content"]

            # a second, wrong attempt (no model reply queued: the fake answers "{}" -> checks-only feedback)
            await _run(sio, lesson.wrong_solution.blockly, [("move_forward", {"distance": 60})], "l1-wake-up")
            await wait_for(lambda: len(feedback) >= 4, "feedback and the coach's answer after the wrong run",
                           FEEDBACK_WAIT_S)
            bad = feedback[-1]
            assert not bad["passed"] and bad["stars"] == 0 and bad["source"] == "checks"
            assert any("from the garage" in c["kid_text"] for c in bad["checks"] if not c["passed"])

            async with srv.http.get(f"{srv.url}/api/attempts", headers=auth) as resp:
                mine = (await resp.json())["attempts"]
            assert [a["attempt_id"] for a in mine] == [bad["attempt_id"], good["attempt_id"]]
            async with srv.http.get(f"{srv.url}/api/attempts/compare?a={good['attempt_id']}&b={bad['attempt_id']}",
                                    headers=auth) as resp:
                cmp = await resp.json()
            assert cmp["better_attempt"] == good["attempt_id"] and "earlier attempt was better" in cmp["kid_text"]

            async with srv.http.get(f"{srv.url}/api/attempts/{good['attempt_id']}", headers=auth) as resp:
                detail = await resp.json()
            assert detail["program"] == lesson.solution.blockly and detail["recording"]["samples"] > 20
            assert "overlay.png" in detail["frames"] and detail["recording"]["end_reason"] == "program_finished"
            async with srv.http.get(srv.url + detail["images"]["overlay"]) as resp:
                assert resp.status == 200 and (await resp.read()).startswith(PNG_MAGIC)

            other = await srv.join("Leo")
            async with srv.http.get(f"{srv.url}/api/attempts/{good['attempt_id']}",
                                    headers={"Authorization": f"Bearer {other['token']}"}) as resp:
                assert resp.status == 404  # another kid's attempt does not exist for Leo
            async with srv.http.get(srv.url + detail["images"]["overlay"].split("?")[0]) as resp:
                assert resp.status == 401  # frames never go to someone who is not signed in

            teacher = await srv.teacher()
            status, body = await teacher.get(f"/api/attempts/{bad['attempt_id']}")
            assert status == 200 and body["verdict"]["checks"][0]["measured"] > 0
            assert body["images"]["key_frames"] and body["program_text"] == "move forward 60 cm"
            status, _ = await teacher.post(f"/api/teacher/attempts/{bad['attempt_id']}/override",
                                           {"stars": 1, "comment": "The garage door was stuck!"}, csrf=False)
            assert status == 403
            status, body = await teacher.post(f"/api/teacher/attempts/{bad['attempt_id']}/override",
                                              {"stars": 1, "comment": "The garage door was stuck!"})
            assert status == 200, body
            await wait_for(lambda: len(feedback) >= 5, "the override reaching the kid", 5)
            assert feedback[-1]["overridden"] and feedback[-1]["stars"] == 1
            assert feedback[-1]["teacher_comment"] == "The garage door was stuck!"
    finally:
        await fake.stop()


async def test_lesson_time_limit_ends_the_attempt_and_only_the_lessons_blocks_may_run(tmp_path):
    from curriculum.blockly_json import forward, go_to, program
    from curriculum.loader import LessonSet

    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        service = srv.handle.app[ATTEMPTS]
        service.coach = Coach(CoachConfig(enabled=False))
        kid = await srv.join("Ada")
        auth = {"Authorization": f"Bearer {kid['token']}"}
        async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-square-dance"},
                                 headers=auth) as resp:
            body = await resp.json()
            assert resp.status == 403 and body["error"]["rule"] == "lesson_locked" and "Pass" in body["error"]["message"]

        quick = service.lesson_set.get("l1-wake-up").model_copy(update={"time_limit_s": 1.0})
        item = service.lesson_set.lessons["l1-wake-up"]
        service.lesson_set = LessonSet({"l1-wake-up": type(item)(quick, item.path, item.root)})
        async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"},
                                 headers=auth) as resp:
            assert resp.status == 200
        feedback: list[dict] = []
        sio = await srv.kid_socket(kid["token"], {"feedback": feedback.append})
        refused = await sio.call("run_start", {"source": "blockly", "program": program(go_to(200, 100))},
                                 namespace="/kid", timeout=CALL_TIMEOUT_S)
        assert refused["status"] == "refused" and refused["rule"] == "lesson_blocks"
        assert "go to x" in refused["kid_text"]

        started = await sio.call("run_start", {"source": "blockly", "program": program(forward(250))},
                                 namespace="/kid", timeout=CALL_TIMEOUT_S)
        assert started["status"] == "ok"
        reply = await sio.call("block", {"block": "move_forward", "args": {"distance": 250},
                                         "run_id": started["run_id"]}, namespace="/kid", timeout=CALL_TIMEOUT_S)
        assert reply["status"] == "cancelled"  # the lesson's time ran out mid-move
        await wait_for(lambda: feedback, "feedback after the time limit", FEEDBACK_WAIT_S)
        fb = feedback[-1]
        assert not fb["passed"] and fb["source"] == "checks"
        async with srv.http.get(f"{srv.url}/api/attempts/{fb['attempt_id']}", headers=auth) as resp:
            detail = await resp.json()
        assert detail["end_reason"] == "time_limit" and detail["coach"]["teacher_note"].startswith("the coach model is switched off")
        assert detail["recording"]["duration_s"] < 4.0



def test_an_attempt_cut_by_a_server_crash_is_interrupted_after_the_restart_not_graded_0_stars(tmp_path):
    """SIGKILL the whole `dojo demo` mid-attempt; the next server on the same data dir judges what reached disk:
    the goal was not reached yet, so the attempt is `interrupted` (no stars, no failed try), its evidence kept."""
    import os
    import signal
    import time

    from demo_harness import connect_kid_socket, join_kid_http, start_demo

    with start_demo(tmp_path, cars=1) as demo:
        kid = join_kid_http(demo, "Zoe")
        sio = connect_kid_socket(demo, kid["token"])
        started = sio.call("run_start", {"source": "blockly", "program": {"blocks": {}}, "lesson_id": "l1-wake-up"},
                           namespace="/kid", timeout=CALL_TIMEOUT_S)
        moved = sio.call("block", {"block": "move_forward", "args": {"distance": 60}, "run_id": started["run_id"]},
                         namespace="/kid", timeout=CALL_TIMEOUT_S)
        assert moved["status"] == "done", moved
        time.sleep(1.2)  # more than the recording's one-second fsync period
        os.killpg(demo.process.pid, signal.SIGKILL)  # no shutdown, no end line, no grading
        demo.process.wait()
        sio.disconnect()

    async def restart() -> dict:
        async with classroom_server(tmp_path / "server", cars=[]) as srv:
            service = srv.handle.app[ATTEMPTS]
            service.coach = Coach(CoachConfig(enabled=False))
            rows = service.store.rows_of_kid(kid["kid_id"])
            assert len(rows) == 1
            await wait_for(lambda: service.store.row(rows[0]["attempt_id"])["status"] == "interrupted", "the recovered attempt")
            row = service.store.row(rows[0]["attempt_id"])
            return {"row": row, "rec": service.recording(row)}

    got = asyncio.run(restart())
    assert got["row"]["end_reason"] == "error"  # the end was never written: the crash is visible to the teacher
    assert got["rec"].samples[-1].x > 100  # the 60 cm drive that happened before the crash is in the recording
    assert got["row"]["verdict"]["checks"][0]["id"] == "reach_zone"
    assert got["row"]["stars"] is None and got["row"]["final_stars"] is None  # a crash never gives 0 stars
