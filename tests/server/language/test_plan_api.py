"""Tell the car through the real server: a real app on 127.0.0.1, a real simulated car, real HTTP and socket.io
clients, and the recording Ollama stand-in. Every way the model can fail gives a clear answer and never a run;
the kid's rate and the teacher's switch hold; the teacher sees each sentence and what it became; a lesson can
say no; and an attempt made with planned blocks says so."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for  # noqa: E402
from fake_ollama import FakeOllama, plan_reply  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from curriculum.gate import PLAN_BURST  # noqa: E402
from curriculum.planner import Planner, PlannerConfig  # noqa: E402
from server.language.routes import PLANS  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

pytestmark = pytest.mark.timeout(120)
FEEDBACK_WAIT_S = 20.0  # a 190 cm drive at level 1's speed, the car settling, then the judge (checks only)
FORWARD_30 = {"block": "move_forward", "distance": 30}


async def ask(srv, kid, sentence, front_end="blockly"):
    async with srv.http.post(f"{srv.url}/api/plan", json={"sentence": sentence, "front_end": front_end},
                             headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body


async def test_every_model_failure_gives_a_clear_answer_and_no_car_moves(tmp_path):
    fake = await FakeOllama().start()
    try:
        async with classroom_server(tmp_path, cars=["car-1"]) as srv:
            srv.handle.app[PLANS].planner = Planner(PlannerConfig(host=fake.url, timeout_s=0.5))
            srv.classroom.gate._plan_burst = 50  # this test asks many times in a row; the rate has its own test
            kid = await srv.join("Mia")
            start = srv.cars["car-1"].pose
            fake.replies = [plan_reply(FORWARD_30, note="Off you go!"),  # good
                            "not json", "{\"steps\": 3}",  # malformed twice
                            plan_reply({"block": "do_skill", "skill": "drift"}),  # out of level twice
                            plan_reply({"block": "do_skill", "skill": "drift"}),
                            ("sleep", 2.0), "{}"]  # slow
            good = await ask(srv, kid, "forward 30")
            assert (good["outcome"], good["answered_by"], good["lines"]) == ("planned", "model", ["move forward 30 cm"])
            assert good["kid_text"].endswith("Off you go!") and good["plan_id"].startswith("p")
            assert good["blockly"]["blocks"]["blocks"][0]["data"] == f"tell:{good['plan_id']}"
            assert good["scratch_xml"].startswith("<xml") and good["python"].endswith("car.forward(30)\n")
            malformed = await ask(srv, kid, "turn left")
            assert (malformed["outcome"], malformed["answered_by"], malformed["lines"]) == \
                ("planned", "reader", ["turn left 90 degrees"])
            assert "not usable" in malformed["teacher_note"]
            locked = await ask(srv, kid, "drift")
            assert (locked["outcome"], locked["rule"]) == ("explained", "skill_locked") and "blockly" not in locked
            assert "unlocks at level 4" in locked["kid_text"]
            slow = await ask(srv, kid, "go back a bit")
            assert (slow["answered_by"], slow["lines"]) == ("reader", ["move backward 10 cm"])
            assert "took longer" in slow["teacher_note"]
            rude = await ask(srv, kid, "forward 30 you stupid car")
            assert (rude["outcome"], rude["rule"]) == ("refused", "rude")
            sent = len(fake.received)
            await fake.stop()  # down
            down = await ask(srv, kid, "forward 20 then turn right")
            assert down["answered_by"] == "reader" and "not reachable" in down["teacher_note"]
            assert len(fake.received) == sent, "the rude sentence never reached the model"

            # never a run: no run started, no block reached the car, the car did not move
            assert srv.classroom.runs == {}
            await srv.classroom.flush_request_log()
            assert srv.classroom.storage.recent_requests() == []
            end = srv.cars["car-1"].pose
            assert abs(end.x_cm - start.x_cm) < 0.5 and abs(end.y_cm - start.y_cm) < 0.5
    finally:
        await fake.stop()


async def test_the_kids_plan_rate_and_the_teachers_switch(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        srv.handle.app[PLANS].planner = Planner(PlannerConfig(enabled=False))
        mia, leo = await srv.join("Mia"), await srv.join("Leo")
        answers = [await ask(srv, mia, "forward 10") for _ in range(PLAN_BURST + 1)]
        assert [a["outcome"] for a in answers] == ["planned"] * PLAN_BURST + ["refused"]
        assert answers[-1]["rule"] == "plan_rate" and "few seconds" in answers[-1]["kid_text"]
        assert (await ask(srv, leo, "turn left"))["outcome"] == "planned", "each kid has their own rate"

        teacher = await srv.teacher()
        status, _ = await teacher.post("/api/teacher/classes/TEST/plans/switch", {"enabled": False}, csrf=False)
        assert status == 403
        status, body = await teacher.post("/api/teacher/classes/TEST/plans/switch", {"enabled": "no"})
        assert status == 400 and body["error"]["rule"].startswith("SwitchBody.enabled")
        status, body = await teacher.post("/api/teacher/classes/TEST/plans/switch", {"enabled": False})
        assert status == 200 and body == {"class_code": "TEST", "enabled": False}
        async with srv.http.get(f"{srv.url}/api/plan", headers={"Authorization": f"Bearer {leo['token']}"}) as resp:
            assert await resp.json() == {"enabled": False, "rule": "planning_off",
                                         "kid_text": "Tell the car is switched off right now — build it with the blocks!"}
        off = await ask(srv, leo, "turn left")
        assert (off["outcome"], off["rule"]) == ("refused", "planning_off")

        status, log = await teacher.get("/api/teacher/classes/TEST/plans")
        assert status == 200 and log["enabled"] is False
        rows = log["plans"]
        assert [(r["name"], r["sentence"], r["outcome"]) for r in rows[:2]] == \
            [("Leo", "turn left", "refused"), ("Leo", "turn left", "planned")]
        assert rows[1]["lines"] == ["turn left 90 degrees"] and rows[1]["answered_by"] == "reader"
        assert len(rows) == PLAN_BURST + 3
        async with srv.http.get(f"{srv.url}/api/teacher/classes/TEST/plans",
                                headers={"Authorization": f"Bearer {mia['token']}"}) as resp:
            assert resp.status == 401, "a kid token never reads the teacher's log"
        status, _ = await teacher.post("/api/teacher/classes/TEST/plans/switch", {"enabled": True})
        assert (await ask(srv, leo, "turn right"))["outcome"] == "planned"


async def test_a_personal_sentence_is_refused_and_the_log_keeps_it_without_the_personal_part(tmp_path):
    async with classroom_server(tmp_path) as srv:
        srv.handle.app[PLANS].planner = Planner(PlannerConfig(enabled=False))
        kid = await srv.join("Mia")
        answer = await ask(srv, kid, "my phone is 0176 1234567, drive forward")
        assert answer["outcome"] == "refused" and answer["rule"] == "personal_data"
        teacher = await srv.teacher()
        _, log = await teacher.get("/api/teacher/classes/TEST/plans")
        assert log["plans"][0]["sentence"] == "[removed], drive forward"
        async with srv.http.post(f"{srv.url}/api/plan", json={"sentence": ""},
                                 headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["rule"].startswith("PlanBody.sentence")
        async with srv.http.post(f"{srv.url}/api/plan", json={"sentence": "forward 30"}) as resp:
            assert resp.status == 401


async def test_a_lesson_can_say_no_and_an_attempt_with_planned_blocks_says_where_they_came_from(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        app = srv.handle.app
        app[PLANS].planner = Planner(PlannerConfig(enabled=False))
        app[ATTEMPTS].coach = Coach(CoachConfig(enabled=False))
        kid = await srv.join("Mia")
        auth = {"Authorization": f"Bearer {kid['token']}"}
        async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"}, headers=auth) as r:
            assert r.status == 200
        planned = await ask(srv, kid, "drive into the garage")
        assert planned["lines"] == ["move forward 190 cm"] and planned["lesson_id"] == "l1-wake-up"

        sio = await srv.kid_socket(kid["token"], {"feedback": (feedback := []).append})
        started = await sio.call("run_start", {"source": "blockly", "program": planned["blockly"],
                                               "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
        assert started["status"] == "ok", started
        done = await sio.call("block", {"block": "move_forward", "args": {"distance": 190}, "run_id": started["run_id"]},
                              namespace="/kid", timeout=CALL_TIMEOUT_S)
        assert done["status"] == "done", done
        await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                       timeout=CALL_TIMEOUT_S)
        await wait_for(lambda: feedback, "the graded attempt", FEEDBACK_WAIT_S)
        async with srv.http.get(f"{srv.url}/api/attempts/{feedback[-1]['attempt_id']}", headers=auth) as r:
            detail = await r.json()
        assert detail["verdict"]["program"]["from_sentence"] is True
        assert detail["verdict"]["program"]["plans"] == [planned["plan_id"]]
        teacher = await srv.teacher()
        _, log = await teacher.get("/api/teacher/classes/TEST/plans")
        assert log["plans"][0]["runs"][0]["run_id"] == started["run_id"]

        # the teacher's lesson says "build it yourself": the box is closed and planned blocks may not run
        for lessons in (app[PLANS].lessons, app[ATTEMPTS].lesson_set):
            item = lessons.lessons["l1-wake-up"]
            item.lesson = item.lesson.model_copy(update={"planning": False})
        async with srv.http.get(f"{srv.url}/api/plan", headers=auth) as r:
            assert (await r.json())["rule"] == "lesson_planning"
        assert (await ask(srv, kid, "forward 30"))["rule"] == "lesson_planning"
        refused = await sio.call("run_start", {"source": "blockly", "program": planned["blockly"],
                                               "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
        assert refused["status"] == "refused" and refused["rule"] == "lesson_planned_blocks"
