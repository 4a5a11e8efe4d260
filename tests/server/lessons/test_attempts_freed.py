"""A finished attempt is freed when it ends, not when the garbage collector's next full pass comes.

The soak (docs/reliability.md) saw each server process grow ~0.3 MB/s under a class's load. The cause: an
attempt ended by its run (the kid's program finished, a newer one started) cancels its time-limit task,
and the cancelled task keeps its CancelledError, whose traceback keeps the task's frame, which holds the
attempt (`live`), which held the task (`live.timer`): a reference cycle around the attempt's whole
recording (every telemetry sample). Only the cyclic collector frees that, and a server process runs it on
old objects rarely (server/runner.py GC_THRESHOLDS: about once per 8 million surviving allocations), so
every finished attempt's recording stayed in memory for hours.

With the collector off, this drives several attempts to their end and counts the attempts and recording
samples still alive: none may be (reference counting alone must free them).
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from core_harness import CALL_TIMEOUT_S, classroom_server, wait_for

from curriculum.recording import Sample
from server.lessons.service import ATTEMPTS, LiveAttempt

ATTEMPTS_DRIVEN = 4
GRADE_WAIT_S = 30.0
pytestmark = pytest.mark.timeout(180)


def alive(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


async def test_finished_attempts_and_their_recordings_are_freed_without_the_cyclic_collector(tmp_path: Path) -> None:
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        async with srv.http.post(f"{srv.url}/api/lessons/select", json={"lesson_id": "l1-wake-up"},
                                 headers={"Authorization": f"Bearer {kid['token']}"}) as resp:
            assert resp.status == 200
        sio = await srv.kid_socket(kid["token"])
        service = srv.handle.app[ATTEMPTS]
        gc.collect()
        gc.disable()  # what a server process's rare full passes amount to over a lesson
        try:
            for _ in range(ATTEMPTS_DRIVEN):
                started = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {}},
                                                       "lesson_id": "l1-wake-up"}, namespace="/kid", timeout=CALL_TIMEOUT_S)
                assert started["status"] == "ok", started
                reply = await srv.block(sio, "move_forward", {"distance": 20}, run_id=started["run_id"])
                assert reply["status"] == "done", reply
                await sio.call("run_end", {"run_id": started["run_id"], "reason": "finished"}, namespace="/kid",
                               timeout=CALL_TIMEOUT_S)
            rows = service.store.rows_of_kid(kid["kid_id"])
            assert len(rows) == ATTEMPTS_DRIVEN
            await wait_for(lambda: all(service.store.row(r["attempt_id"])["status"] not in ("recording", "grading")
                                       for r in rows), "every attempt graded", GRADE_WAIT_S)
            await wait_for(lambda: not service.tasks, "the attempts' tasks done", GRADE_WAIT_S)
            assert not service.live_by_run and not service.live_by_car
            assert alive(LiveAttempt) == 0, f"{alive(LiveAttempt)} finished attempts still in memory"
            assert alive(Sample) == 0, f"{alive(Sample)} recording samples of finished attempts still in memory"
        finally:
            gc.enable()
