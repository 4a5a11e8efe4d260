"""The coach queue: a hanging model delays nobody's stars, and the queue's limits hold.

End to end: a real server on 127.0.0.1, real simulated cars, real kid socket.io clients, and the local
Ollama stand-in made to hang; it counts the model calls open at once. The queue's own rules (per-kid
cap, a newer try replacing a waiting one, turns between kids) are also checked with real coroutines."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "curriculum"))  # fake_ollama
from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for  # noqa: E402
from fake_ollama import FakeOllama, reply  # noqa: E402

from curriculum.coach import Coach, CoachConfig  # noqa: E402
from server.lessons.coach_queue import CoachJob, CoachQueue  # noqa: E402
from server.lessons.service import ATTEMPTS  # noqa: E402

FEEDBACK_WAIT_S = 20.0  # the car finishes, rests, then judge + frames; no model call in the way
KIDS = ("Mia", "Leo", "Ada")
pytestmark = pytest.mark.timeout(120)


async def _attempt(srv, sio, lesson) -> str:
    started = await sio.call("run_start", {"source": "blockly", "program": lesson.solution.blockly, "lesson_id": lesson.id},
                             namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert started["status"] == "ok", started
    r = await sio.call("block", {"block": "move_forward", "args": {"distance": 180}, "run_id": started["run_id"]},
                       namespace="/kid", timeout=CALL_TIMEOUT_S)
    assert r["status"] == "done", r
    await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
    return started["run_id"]


async def test_a_hanging_coach_delays_no_kids_stars_and_at_most_two_model_calls_are_open(tmp_path):
    fake = await FakeOllama().start()
    fake.hold()  # the model hangs until released
    try:
        async with classroom_server(tmp_path, cars=[f"car-{i}" for i in range(1, len(KIDS) + 1)]) as srv:
            service = srv.handle.app[ATTEMPTS]
            service.coach = Coach(CoachConfig(host=fake.url, timeout_s=120))
            service.coach_queue = CoachQueue(concurrency=2, per_kid=1)
            lesson = service.lesson_set.get("l1-wake-up")
            feedback: dict[str, list[dict]] = {name: [] for name in KIDS}
            sockets = {}
            for name in KIDS:
                kid = await srv.join(name)
                async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": lesson.id},
                                         headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
                    assert resp.status == 200
                sockets[name] = await srv.kid_socket(kid["token"], {"feedback": feedback[name].append})
            await wait_for(lambda: all(abs(srv.classroom.latest_telemetry(f"car-{i}").pose.x_cm - 50) < 2
                                       for i in range(1, len(KIDS) + 1)), "every car at the lesson's start")

            await asyncio.gather(*(_attempt(srv, sockets[name], lesson) for name in KIDS))
            # Every kid's stars and checks arrive while the model hangs on the first calls.
            await wait_for(lambda: all(feedback.values()), "stars for every kid", FEEDBACK_WAIT_S)
            for name in KIDS:
                first = feedback[name][0]
                assert first["stars"] >= 2 and first["passed"] and first["checks"], (name, first)
                assert first["coach_pending"] and first["source"] == "checks" and first["text"], (name, first)
            await wait_for(lambda: fake.in_flight == 2, "two model calls open")
            await asyncio.sleep(0.3)  # had the queue a third slot, the third call would be open by now
            assert fake.in_flight == 2 and fake.max_in_flight == 2 and len(fake.received) == 2
            assert sum(len(f) for f in feedback.values()) == len(KIDS)  # nobody has the coach's words yet

            fake.replies = [reply("Your car drove straight into the garage.",
                                  "Try move forward 180 cm at a speed of 30 to be even calmer.", True)] * len(KIDS)
            fake.release()
            await wait_for(lambda: all(len(f) == 2 for f in feedback.values()), "the coach's words for every kid",
                           FEEDBACK_WAIT_S)
            for name in KIDS:
                first, update = feedback[name]
                assert update["attempt_id"] == first["attempt_id"] and update["coach_update"], (name, update)
                assert update["source"] == "model" and not update["coach_pending"], (name, update)
                assert update["text"].startswith("Your car drove straight into the garage.")
                assert update["stars"] == first["stars"] and update["checks"] == first["checks"]
            assert fake.max_in_flight == 2 and len(fake.received) == len(KIDS)
    finally:
        fake.release()
        await fake.stop()


class Model:
    """Coach jobs as real coroutines that wait until the test lets them answer; records what ran."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.skipped: list[str] = []
        self.open = 0
        self.most_open = 0
        self.answer: dict[str, asyncio.Event] = {}

    def job(self, kid: str, key: str) -> CoachJob:
        async def run() -> None:
            self.started.append(key)
            self.open += 1
            self.most_open = max(self.most_open, self.open)
            try:
                await self.answer.setdefault(key, asyncio.Event()).wait()
            finally:
                self.open -= 1

        async def skipped() -> None:
            self.skipped.append(key)

        return CoachJob(kid, key, run, skipped)

    def let(self, key: str) -> None:
        self.answer.setdefault(key, asyncio.Event()).set()


async def test_the_queue_caps_each_kid_keeps_their_newest_try_and_takes_kids_in_turn():
    model, queue = Model(), CoachQueue(concurrency=2, per_kid=1)
    queue.submit(model.job("mia", "mia-1"))
    queue.submit(model.job("mia", "mia-2"))  # Mia is at her cap: it waits
    queue.submit(model.job("mia", "mia-3"))  # a newer try replaces the waiting one
    queue.submit(model.job("leo", "leo-1"))
    queue.submit(model.job("ada", "ada-1"))  # the class is at its cap: it waits
    await wait_for(lambda: model.skipped == ["mia-2"], "mia-2 skipped")
    assert model.started == ["mia-1", "leo-1"] and list(queue.waiting) == ["mia", "ada"] and queue.replaced == 1

    model.let("mia-1")  # a slot frees: Mia's newest try is next (she came first), not Ada's
    await wait_for(lambda: model.started == ["mia-1", "leo-1", "mia-3"], "mia-3 started")
    model.let("leo-1")
    await wait_for(lambda: model.started[-1] == "ada-1", "ada-1 started")
    for key in ("mia-3", "ada-1"):
        model.let(key)
    await wait_for(lambda: queue.done == 4 and not queue.tasks, "every job done")
    assert model.most_open == 2 and not queue.waiting and not queue.running


async def test_a_failing_coach_job_frees_its_slot():
    queue = CoachQueue(concurrency=1, per_kid=1)
    ran: list[str] = []

    async def broken() -> None:
        ran.append("broken")
        raise RuntimeError("the model client broke")

    async def fine() -> None:
        ran.append("fine")

    async def nothing() -> None:
        return None

    queue.submit(CoachJob("mia", "a1", broken, nothing))
    queue.submit(CoachJob("leo", "a2", fine, nothing))
    await wait_for(lambda: ran == ["broken", "fine"] and not queue.tasks, "both jobs ran")
    assert not queue.running


def test_queue_limits_must_be_at_least_one():
    with pytest.raises(ValueError, match="at least 1"):
        CoachQueue(concurrency=0)

