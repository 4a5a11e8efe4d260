"""A try waiting for the coach's words when the server restarts never stays "still thinking": the coach
queue lives in memory, so after the restart the try keeps its stars and checks and says the coach's words
are not coming. A real server on 127.0.0.1, a real simulated car, a real kid socket.io client, the local
Ollama stand-in made to hang; then a second server on the same data directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for  # noqa: E402
from fake_ollama import FakeOllama  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from server.lessons.service import ATTEMPTS, COACH_RESTART_NOTE  # noqa: E402

FEEDBACK_WAIT_S = 20.0  # the car finishes, rests, then judge + frames
RECOVER_WAIT_S = 10.0  # the restarted server's recovery runs right after start-up
pytestmark = pytest.mark.timeout(120)


async def test_a_try_waiting_for_the_coach_at_a_restart_shows_its_checks_and_says_the_words_are_not_coming(tmp_path):
    fake = await FakeOllama().start()
    fake.hold()  # the model hangs: the try is still waiting for the coach when the server stops
    try:
        feedback: list[dict] = []
        async with classroom_server(tmp_path, cars=["car-1"]) as srv:
            service = srv.handle.app[ATTEMPTS]
            service.coach = Coach(CoachConfig(host=fake.url, timeout_s=120))
            lesson = service.lesson_set.get("l1-wake-up")
            kid = await srv.join("Mia")
            auth = {"Authorization": f"Bearer {kid['token']}"}
            async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": lesson.id}, headers=auth) as resp:
                assert resp.status == 200
            sio = await srv.kid_socket(kid["token"], {"feedback": feedback.append})
            await wait_for(lambda: abs(srv.classroom.latest_telemetry("car-1").pose.x_cm - 50) < 2, "car at the start")
            started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly,
                                                   "lesson_id": lesson.id}, namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert started["status"] == "ok", started
            moved = await srv.block(sio, "move_forward", {"distance": 180}, run_id=started["run_id"])
            assert moved["status"] == "done", moved
            await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                           timeout=CALL_TIMEOUT_S)
            await wait_for(lambda: feedback, "the stars", FEEDBACK_WAIT_S)
            await wait_for(lambda: fake.in_flight == 1, "the coach asked")
            assert feedback[0]["coach_pending"] and feedback[0]["stars"] >= 2
            attempt_id = feedback[0]["attempt_id"]
        # the server is gone while the model still hangs: the row says "coach pending"
        fake.release()

        async with classroom_server(tmp_path, cars=["car-1"]) as srv:
            service = srv.handle.app[ATTEMPTS]
            await wait_for(lambda: not service.store.row(attempt_id)["feedback"]["coach_pending"],
                           "the restarted server settled the coach's part", RECOVER_WAIT_S)
            row = service.store.row(attempt_id)
            assert row["status"] == "graded" and row["final_stars"] == feedback[0]["stars"]  # the grade is kept
            assert row["feedback"]["teacher_note"] == COACH_RESTART_NOTE
            assert row["feedback"]["text"] == feedback[0]["text"]  # the checks' feedback stays
            async with srv.http.get(f"{srv.url}/api/attempts", headers=auth) as resp:
                listed = (await resp.json())["attempts"]
            assert [a["attempt_id"] for a in listed] == [attempt_id]
            async with srv.http.get(f"{srv.url}/api/attempts/{attempt_id}", headers=auth) as resp:
                detail = await resp.json()
            assert not detail["coach"]["coach_pending"] and "not coming" in detail["coach"]["teacher_note"]
            assert detail["coach"]["coach_note"].startswith("The coach couldn't look at this drive")
    finally:
        fake.release()
        await fake.stop()
