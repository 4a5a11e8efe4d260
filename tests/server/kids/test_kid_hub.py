"""The /kid namespace: what a kid's editor sees and sends, through real sockets and real sim cars."""

from __future__ import annotations

import asyncio
import time

from core_harness import classroom_server, wait_for
from curriculum.gate import Refusal


def recorder(*events):
    got = {e: [] for e in events}
    return got, {e: (lambda data, e=e: got[e].append((time.monotonic(), data))) for e in events}


async def test_kid_gets_level_and_car_status_on_connect(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        got, handlers = recorder("level", "car_status")
        await srv.kid_socket(kid["token"], handlers)
        await wait_for(lambda: got["level"] and got["car_status"], "level and car_status")
        level = got["level"][0][1]
        assert level["level"] == 1 and level["max_speed_pct"] == 30 and "move_forward" in level["blocks"]
        status = got["car_status"][0][1]
        assert status["car_id"] == "car-1" and status["connected"] and status["status"] == "idle"


async def test_teacher_level_change_reaches_the_kid_the_gate_and_the_car(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        got, handlers = recorder("level")
        sio = await srv.kid_socket(kid["token"], handlers)
        assert (await srv.block(sio, "drive_for", {"speed": 40, "seconds": 0.5}))["rule"] == "block_locked"
        teacher = await srv.teacher()
        try:
            status, _ = await teacher.post(f"/api/teacher/classes/TEST/kids/{kid['kid_id']}/level", {"level": 2})
            assert status == 200
            status, log = await teacher.get(f"/api/teacher/requests?kid_id={kid['kid_id']}")
            assert status == 200 and log["requests"][0]["status"] == "refused"
            assert log["requests"][0]["detail"] == "block_locked: drive_for needs level 2, kid is level 1"
        finally:
            await teacher.http.close()
        await wait_for(lambda: any(d["level"] == 2 for _, d in got["level"]), "the new level pushed")
        reply = await srv.block(sio, "drive_for", {"speed": 40, "seconds": 0.5})
        assert reply["status"] == "done", reply
        limits = srv.cars["car-1"].runtime.supervisor.session
        assert limits.level == 2 and limits.max_speed_pct == 50
        assert (await srv.block(sio, "set_speed", {"speed": 60}))["kid_text"] == "Level 2 cars go up to 50% — try 50!"


async def test_telemetry_is_only_the_kids_own_car_and_coalesced_to_the_rate_cap(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1", "car-2"], telemetry_max_hz=4) as srv:
        kid = await srv.join("Mia")
        srv.classroom.assign("car-1", [kid["kid_id"]])
        got, handlers = recorder("telemetry")
        await srv.kid_socket(kid["token"], handlers)
        await wait_for(lambda: got["telemetry"], "first telemetry")
        await asyncio.sleep(1.5)
        samples = got["telemetry"]
        assert {d["car_id"] for _, d in samples} == {"car-1"}
        span = samples[-1][0] - samples[0][0]
        assert len(samples) - 1 <= 4 * span + 2, (len(samples), span)  # the car sends 20 Hz, the kid gets <= 4 Hz
        seqs = [d["seq"] for _, d in samples]
        assert seqs == sorted(seqs) and seqs[-1] - seqs[0] > len(seqs)  # latest wins: stale samples skipped


async def test_a_stalled_client_does_not_slow_another_kid(tmp_path):
    import aiohttp
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        mia, leo = await srv.join("Mia"), await srv.join("Leo")
        srv.classroom.assign("car-1", [mia["kid_id"], leo["kid_id"]])
        async with aiohttp.ClientSession() as http:  # a browser tab that stops reading after connecting
            ws = await http.ws_connect(srv.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
            assert (await ws.receive_str()).startswith("0")
            await ws.send_str('40/kid,{"token":"%s"}' % leo["token"])
            assert (await ws.receive_str()).startswith("40/kid")
            got, handlers = recorder("telemetry")
            sio = await srv.kid_socket(mia["token"], handlers)
            t0 = time.monotonic()
            reply = await srv.block(sio, "move_forward", {"distance": 5})
            assert reply["status"] == "done" and time.monotonic() - t0 < 3
            await asyncio.sleep(1.0)
            span = got["telemetry"][-1][0] - got["telemetry"][0][0]
            assert len(got["telemetry"]) >= 5 * span  # 20 Hz for Mia whatever Leo's tab does (>= 5 on a loaded box)
            await ws.close()


async def test_runs_start_end_and_a_newer_run_cancels_the_older_ones_blocks(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        started = []
        srv.classroom.events.subscribe("run_started", started.append)
        first = await sio.call("run_start", {"source": "scratch", "program": {"blocks": []}}, namespace="/kid", timeout=5)
        assert first["status"] == "ok" and started[0].run_id == first["run_id"]
        assert (await srv.block(sio, "move_forward", {"distance": 5}, run_id=first["run_id"]))["status"] == "done"
        second = await sio.call("run_start", {"source": "scratch", "program": {}}, namespace="/kid", timeout=5)
        stale = await srv.block(sio, "move_forward", {"distance": 5}, run_id=first["run_id"])
        assert stale["status"] == "cancelled" and stale["rule"] == "run_ended"
        assert srv.classroom.runs[first["run_id"]].end_reason == "a newer program started"
        ended = await sio.call("run_end", {"run_id": second["run_id"], "reason": "finished"}, namespace="/kid", timeout=5)
        assert ended["status"] == "ok" and srv.classroom.runs[second["run_id"]].ended_at is not None
        other = await srv.join("Leo")
        leo = await srv.kid_socket(other["token"])
        theirs = await leo.call("run_end", {"run_id": first["run_id"]}, namespace="/kid", timeout=5)
        assert theirs["status"] == "error" and theirs["error"]["rule"] == "run_id"


async def test_a_program_check_can_refuse_a_run_with_kid_text(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        srv.classroom.program_checks[:] = [  # only this check besides the gate's (lessons register their own)
            lambda kid, program, lesson_id: Refusal("needs_loop", "no loop", kid_text="Use a repeat block for this one!")
            if not (program or {}).get("loop") else None]
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        refused = await sio.call("run_start", {"source": "blockly", "program": {}}, namespace="/kid", timeout=5)
        assert refused == {"status": "refused", "kid_text": "Use a repeat block for this one!",
                           "detail": "needs_loop: no loop", "rule": "needs_loop"}
        ok = await sio.call("run_start", {"source": "blockly", "program": {"blocks": {"blocks": []}, "loop": True}},
                            namespace="/kid", timeout=5)
        assert ok["status"] == "ok", ok


async def test_reporters_read_the_kids_car_telemetry(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        assert (await srv.block(sio, "position", {"axis": "x"}))["rule"] == "block_locked"
        srv.classroom.set_level(kid["kid_id"], 2)
        pose = srv.classroom.latest_telemetry("car-1").pose
        x = await srv.block(sio, "position", {"axis": "x"})
        heading = await srv.block(sio, "position", {"axis": "heading"})
        assert x["status"] == "done" and abs(x["value"] - pose.x_cm) < 1
        assert abs(heading["value"] - pose.heading_deg) < 1
        assert (await srv.block(sio, "distance"))["status"] == "done"
        hat = await srv.block(sio, "when_obstacle", {"distance": 20})
        assert hat["status"] == "refused" and hat["rule"] == "not_a_command"


async def test_bad_kid_messages_get_an_error_and_the_connection_stays_up(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        ns = {"namespace": "/kid", "timeout": 5}
        cases = [
            (await sio.call("block", "move_forward", **ns), "block:model_type"),
            (await sio.call("block", {"block": "move_forward", "args": {"distance": 900}}, **ns), "distance_range"),
            (await sio.call("block", {"block": "move_forward", "args": {"distance": "far"}}, **ns), "distance_number"),
            (await sio.call("block", {"block": "teleport"}, **ns), "unknown_block"),
            (await sio.call("block", {"block": "move_forward", "args": {"x" * 40: 1}}, **ns), "block.args"),
            (await sio.call("block", {"block": "move_forward", "pad": "x" * 5000}, **ns), "block.size"),
            (await sio.call("fly", {}, **ns), "unknown_event"),
            (await sio.call("block", ({"block": "stop"}, {"extra": 1}), **ns), "one_argument"),
            (await sio.call("run_start", {"source": "logo"}, **ns), "run_start.source"),
        ]
        for reply, rule in cases:
            got = reply.get("rule") or reply["error"]["rule"]
            assert rule in got, (rule, reply)
            assert reply["status"] in ("refused", "error") and reply.get("kid_text")
        assert sio.connected
        assert (await srv.block(sio, "move_forward", {"distance": 5}))["status"] == "done"
        assert srv.handle.app[__import__("server.kids.hub", fromlist=["KID_HUB"]).KID_HUB].bad_messages >= 6


async def test_a_reassigned_kid_hears_car_changed_with_the_new_car_and_why(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1", "car-2"], auto_assign_cars=False) as srv:
        mia = await srv.join("Mia")
        heard: list[dict] = []
        sio = await srv.kid_socket(mia["token"], {"car_changed": heard.append})
        srv.classroom.assign("car-1", [mia["kid_id"]])
        await wait_for(lambda: heard, "car_changed to car-1")
        assert heard[-1] == {"car_id": "car-1", "previous": None, "kid_text": "Your teacher gave you car-1."}
        srv.classroom.assign("car-2", [mia["kid_id"]])
        await wait_for(lambda: len(heard) == 2, "car_changed to car-2")
        assert heard[-1]["car_id"] == "car-2" and heard[-1]["previous"] == "car-1"
        srv.classroom.assign("car-2", [])
        await wait_for(lambda: len(heard) == 3, "car taken back")
        assert heard[-1] == {"car_id": None, "previous": "car-2",
                             "kid_text": "Your teacher took car-2 back. Ask your teacher when you need a car again."}
        assert sio.connected


async def test_a_turn_that_had_to_back_up_near_a_wall_is_done_with_a_note_the_kid_reads(tmp_path):
    from robot_runtime.arena import Arena
    from robot_runtime.protocol import Pose

    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        mia = await srv.join("Mia")
        sio = await srv.kid_socket(mia["token"])
        # 45 cm from a wall: too close for one curve (the steering-aware fence lets a 60 cm gap through)
        await srv.classroom.set_arena("car-1", Arena(), Pose(x_cm=255, y_cm=100, heading_deg=0))
        await wait_for(lambda: srv.classroom.latest_telemetry("car-1").pose.x_cm > 250, "car-1 near the wall")
        reply = await srv.block(sio, "turn", {"direction": "left", "degrees": 90})
        assert reply["status"] == "done" and reply["rule"] == "tight_turn", reply
        assert reply["kid_text"].startswith("I turned left 90°, but a wall was too close") and "backed up" in reply["kid_text"]
        open_floor = await srv.block(sio, "move_backward", {"distance": 5})
        assert open_floor["status"] == "done" and open_floor["rule"] == "", open_floor
