"""Ended runs do not pile up in the server's memory: a class presses the green flag thousands of times a day.

Every run (with its program) stayed in `Classroom.runs` for the life of the process; the soak counted
~2 more a second. Now memory keeps the live runs and the ENDED_RUNS_KEPT newest ended ones; storage keeps
them all, so a late `run_end` for an older run still finds it (and is answered ok, changing nothing).
"""

from __future__ import annotations

from core_harness import classroom_server

from server.core import classroom as classroom_module
from server.core.config import RateLimits

RUNS = 12
KEPT = 3


async def test_ended_runs_are_bounded_in_memory_and_a_late_run_end_still_finds_its_run(tmp_path, monkeypatch):
    monkeypatch.setattr(classroom_module, "ENDED_RUNS_KEPT", KEPT, raising=False)
    async with classroom_server(tmp_path, cars=["car-1"], rate_limits=RateLimits(runs_per_s=100, run_burst=100)) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        run_ids = []
        for i in range(RUNS):  # each new run ends the one before ("a newer program started")
            started = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {"n": i}}},
                                     namespace="/kid", timeout=5)
            assert started["status"] == "ok", started
            run_ids.append(started["run_id"])
        assert len(srv.classroom.runs) == KEPT + 1, f"{len(srv.classroom.runs)} runs in memory after {RUNS}"
        assert srv.classroom.active_run(kid["kid_id"]).run_id == run_ids[-1]
        oldest = run_ids[0]
        assert oldest not in srv.classroom.runs
        assert srv.classroom.run(oldest).end_reason == "a newer program started"  # from storage
        late = await sio.call("run_end", {"run_id": oldest, "reason": "finished"}, namespace="/kid", timeout=5)
        assert late == {"status": "ok", "run_id": oldest}
        assert srv.classroom.active_run(kid["kid_id"]).run_id == run_ids[-1], "a late run_end ends nothing else"
        other = await srv.join("Leo")
        leo = await srv.kid_socket(other["token"])
        theirs = await leo.call("run_end", {"run_id": oldest}, namespace="/kid", timeout=5)
        assert theirs["status"] == "error" and theirs["error"]["rule"] == "run_id", theirs  # still only the kid's own runs
        ended = await sio.call("run_end", {"run_id": run_ids[-1], "reason": "finished"}, namespace="/kid", timeout=5)
        assert ended["status"] == "ok" and len(srv.classroom.runs) == KEPT
