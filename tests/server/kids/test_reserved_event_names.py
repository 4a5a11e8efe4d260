"""A client that emits socket.io's own event names (`connect`, `disconnect`) gets an error reply naming the
rule, and nothing happens: python-socketio would otherwise run the namespace's connect/disconnect handler
for it (a fake `disconnect` stopped the kid's car and ended their run; a fake `connect` was never answered).
Found by `make fuzz` (stress/fuzz.py)."""

from __future__ import annotations

import asyncio

import pytest

from core_harness import CALL_TIMEOUT_S, classroom_server

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("event", ["disconnect", "connect"])
async def test_a_kid_emitting_a_reserved_event_name_is_refused_and_stays_connected(tmp_path, event):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        started = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {}}}, namespace="/kid",
                                 timeout=CALL_TIMEOUT_S)
        assert started["status"] == "ok"
        for payload in ({}, "transport close", None):
            reply = await sio.call(event, payload, namespace="/kid", timeout=CALL_TIMEOUT_S)
            assert reply["status"] == "error" and reply["error"]["rule"] == "reserved_event", reply
        assert srv.classroom.presence.online(kid["kid_id"])  # still here: no fake goodbye
        run = srv.classroom.active_run(kid["kid_id"])
        assert run is not None and run.run_id == started["run_id"]  # the run was not ended
        reply = await srv.block(sio, "move_forward", {"distance": 5}, run_id=started["run_id"])
        assert reply["status"] == "done", reply  # the socket still belongs to the kid
        await asyncio.sleep(0)
