"""dojo.plan and car.plan: a sentence becomes Python text to read, from the real server, never a run."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import classroom_server  # noqa: E402

import dojo  # noqa: E402
from curriculum.planner import Planner, PlannerConfig  # noqa: E402
from curriculum.program import analyse  # noqa: E402
from server.language.routes import PLANS  # noqa: E402

pytestmark = pytest.mark.timeout(60)


async def test_dojo_plan_returns_python_that_reads_back_as_the_plan(tmp_path):
    async with classroom_server(tmp_path) as srv:
        srv.handle.app[PLANS].planner = Planner(PlannerConfig(enabled=False))
        text = await asyncio.to_thread(dojo.plan, "forward 30 then turn left, do it 4 times", srv.url,
                                       class_code="TEST", name="Mia")
        lines = text.splitlines()
        assert lines[0].startswith("# You told the car: “forward 30 then turn left, do it 4 times” (plan p")
        assert lines[1:] == ["for count in range(4):", "    car.forward(30)", "    car.turn_left(90)"]
        compile(text, "plan.py", "exec")
        assert analyse(text).plans and analyse(text).uses_loop
        with pytest.raises(dojo.Refused) as err:
            await asyncio.to_thread(dojo.plan, "do a donut", srv.url, class_code="TEST", name="Mia")
        assert str(err.value) == "I can't make that into blocks: The “donut” skill unlocks at level 4 — keep going!"
        assert err.value.reply["rule"] == "skill_locked"
        with pytest.raises(dojo.ArgumentError):
            dojo.plan("forward 30", srv.url)
        assert srv.classroom.runs == {}, "planning never starts a run"


async def test_car_plan_uses_the_connected_kid(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        srv.handle.app[PLANS].planner = Planner(PlannerConfig(enabled=False))
        car = await asyncio.to_thread(dojo.connect, srv.url, class_code="TEST", name="Leo")
        try:
            text = await asyncio.to_thread(car.plan, "go back a bit")
            assert text.splitlines()[1:] == ["car.backward(10)"]
            teacher = await srv.teacher()
            _, log = await teacher.get("/api/teacher/classes/TEST/plans")
            assert (log["plans"][0]["name"], log["plans"][0]["front_end"]) == ("Leo", "python")
        finally:
            await asyncio.to_thread(car.close)
