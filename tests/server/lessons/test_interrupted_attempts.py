"""An attempt cut by a crash is marked `interrupted`, never graded 0 stars: a car process SIGKILLed mid-skill
(the real `dojo car --sim` process, killed for real), and the server killed before the attempt's end was
written (the recovery after a restart). Neither counts as a failed try; the recording stays for the teacher."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core_harness import CALL_TIMEOUT_S, classroom_server, token_for, wait_for

from server.lessons.service import ATTEMPTS

REPO = Path(__file__).resolve().parents[3]
CAR_START_S = 60.0  # a `dojo car --sim` process importing pydantic/socketio on a busy 2-core box
GRADE_WAIT_S = 30.0  # the car rests, then judge + frames in a thread
pytestmark = pytest.mark.timeout(180)


async def test_a_car_killed_mid_skill_leaves_an_interrupted_attempt_not_a_failed_one(tmp_path: Path) -> None:
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = subprocess.Popen([sys.executable, "-m", "dojo", "car", "--sim", "--name", "car-1", "--server", srv.url],
                               cwd=REPO, env={**os.environ, "DOJO_CAR_TOKEN": token_for("car-1")},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "car-1 connected", CAR_START_S)
            kid = await srv.join("Mia")
            assert kid["car_id"] == "car-1"
            async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"},
                                     headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
                assert resp.status == 200, await resp.text()
            sio = await srv.kid_socket(kid["token"])
            started = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {}},
                                                   "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert started["status"] == "ok", started
            service = srv.handle.app[ATTEMPTS]
            moving = asyncio.create_task(srv.block(sio, "move_forward", {"distance": 150}, run_id=started["run_id"]))

            def driving() -> bool:
                tel = srv.classroom.latest_telemetry("car-1")
                return tel is not None and abs(tel.speed_cm_s) > 5

            await wait_for(driving, "car-1 driving the move", CALL_TIMEOUT_S)
            car.send_signal(signal.SIGKILL)  # mid-skill: no goodbye, no result
            car.wait()
            reply = await moving
            assert reply["status"] == "failed" and "car-1" in reply["kid_text"], reply  # its one final answer
            await sio.call("run_end", {"run_id": started["run_id"], "reason": "failed"}, namespace="/kid",
                           timeout=CALL_TIMEOUT_S)
            rows = service.store.rows_of_kid(kid["kid_id"])
            assert len(rows) == 1
            await wait_for(lambda: service.store.row(rows[0]["attempt_id"])["status"] not in ("recording", "grading"),
                           "the cut attempt settled", GRADE_WAIT_S)
            row = service.store.row(rows[0]["attempt_id"])
            assert row["status"] == "interrupted", row["status"]
            assert row["stars"] is None and row["final_stars"] is None  # not 0 stars: no grade at all
            assert row["verdict"]["checks"], "the teacher still sees what was measured"
            result = service.store.results_of(kid["kid_id"])["l1-wake-up"]
            assert not result.passed and result.best_stars == 0
            async with srv.http.get(f"{srv.url}/api/attempts", headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
                listed = (await resp.json())["attempts"]
            assert [a["status"] for a in listed] == ["interrupted"]
        finally:
            if car.poll() is None:
                car.kill()
                car.wait()


async def test_the_same_attempt_without_a_crash_is_graded(tmp_path: Path) -> None:
    """The control: the same short drive, ended by the kid, is an ordinary graded attempt with 0 stars."""
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"},
                                 headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
            assert resp.status == 200
        sio = await srv.kid_socket(kid["token"])
        started = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {}}, "lesson_id": "l1-wake-up"},
                                 namespace="/kid", timeout=CALL_TIMEOUT_S)
        reply = await srv.block(sio, "move_forward", {"distance": 30}, run_id=started["run_id"])
        assert reply["status"] == "done", reply
        await sio.call("run_end", {"run_id": started["run_id"], "reason": "failed"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
        service = srv.handle.app[ATTEMPTS]
        rows = service.store.rows_of_kid(kid["kid_id"])
        await wait_for(lambda: service.store.row(rows[0]["attempt_id"])["status"] == "graded", "graded", GRADE_WAIT_S)
        assert service.store.row(rows[0]["attempt_id"])["final_stars"] == 0
