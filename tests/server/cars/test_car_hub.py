"""The /car namespace: what cars get on connect, heartbeats, per-driver limits, bad car messages."""

from __future__ import annotations

import asyncio

import pytest
import socketio
from yarl import URL

from core_harness import WAIT_S, RawCar, classroom_server, start_sim_car, wait_for
from robot_runtime.arena import Arena, NamedZone
from robot_runtime.link import AuthRefused
from server.cars.hub import CAR_HUB


async def test_a_car_gets_a_heartbeat_then_its_arena_and_limits_on_connect(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        try:
            await wait_for(lambda: car.events("limits"), "limits")
            names = [e for e, _ in car.received]
            assert names.index("heartbeat") < names.index("arena") < names.index("limits")
            arena = car.events("arena")[0]
            assert arena["arena"]["width_cm"] == srv.classroom.default_arena.width_cm and arena["pose"]["x_cm"] > 0
            assert car.events("limits")[0] == {"max_speed_pct": 30.0, "max_steer_pct": 100.0, "allowed_skills": [],
                                               "fence": None, "keep_out": [], "level": 1}
        finally:
            await car.close()


async def test_zones_above_the_drivers_level_reach_the_car_as_walls_and_open_with_the_level(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        try:
            await wait_for(lambda: car.events("limits"), "limits")
            ramp = NamedZone(name="ramp", x0=250, y0=40, x1=330, y1=160, min_level=3)
            arena = Arena(width_cm=500, height_cm=200, zones=[ramp, NamedZone(name="goal", x0=400, y0=40, x1=480, y1=160)])
            await srv.classroom.set_arena("car-1", arena)
            await wait_for(lambda: car.events("limits")[-1]["keep_out"], "the closed zone in the limits")
            assert car.events("limits")[-1]["keep_out"] == [{"x0": 250.0, "y0": 40.0, "x1": 330.0, "y1": 160.0}]
            assert srv.classroom.session_limits(3, "car-1").keep_out == []  # level 3 opens it
        finally:
            await car.close()


async def test_heartbeats_arrive_every_100ms(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        try:
            await wait_for(lambda: car.events("heartbeat"), "first heartbeat")
            before = len(car.events("heartbeat"))
            await asyncio.sleep(2.0)
            count = len(car.events("heartbeat")) - before
            assert 14 <= count <= 23, count  # ~10 per second: a 300 ms watchdog never starves
        finally:
            await car.close()


async def test_a_shared_car_gets_each_drivers_limits_before_their_request(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1", answer=True)
        await car.connect()
        try:
            await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "car-1")
            ann, ben = await srv.join("Ann"), await srv.join("Ben")
            srv.classroom.assign("car-1", [ann["kid_id"], ben["kid_id"]])
            srv.classroom.set_level(ben["kid_id"], 3)
            a, b = await srv.kid_socket(ann["token"]), await srv.kid_socket(ben["token"])
            assert (await srv.block(a, "move_forward", {"distance": 5}))["status"] == "done"
            assert (await srv.block(b, "move_forward", {"distance": 5}))["status"] == "done"
            seq = [(e, d.get("level") if e == "limits" else d.get("action", {}).get("speed_pct"))
                   for e, d in car.received if e in ("limits", "skill")]
            assert seq[-4:] == [("limits", 1), ("skill", 30.0), ("limits", 3), ("skill", 50.0)], seq
        finally:
            await car.close()


async def test_bad_car_messages_are_dropped_and_counted_and_the_car_stays_connected(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        try:
            await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "car-1")
            hub = srv.handle.app[CAR_HUB]
            await car.sio.emit("telemetry", {"car_id": "car-1", "pose": "here"}, namespace="/car")
            await car.sio.emit("telemetry", "not even an object", namespace="/car")
            await car.telemetry(seq=1, speed_cm_s=float("nan"))  # NaN is not a speed
            await car.sio.emit("telemetry", {"car_id": "car-2", "seq": 1, "t": 0, "speed_cm_s": 0,
                                             "pose": {"x_cm": 1, "y_cm": 1, "heading_deg": 0}}, namespace="/car")
            await car.sio.emit("result", {"request_id": "x", "status": "exploded"}, namespace="/car")
            await car.sio.emit("selfdestruct", {}, namespace="/car")
            await wait_for(lambda: sum(hub.bad_messages.values()) >= 5, "bad messages counted")
            assert car.sio.connected and srv.classroom.latest_telemetry("car-1") is None
            await car.telemetry(x=120, y=80, seq=2)
            await wait_for(lambda: srv.classroom.latest_telemetry("car-1"), "good telemetry accepted")
            assert srv.classroom.latest_telemetry("car-1").pose.x_cm == 120
            async with srv.http.get(srv.url + "/api/health") as resp:
                assert (await resp.json())["bad_car_messages"] >= 5
        finally:
            await car.close()


async def test_safety_events_reach_the_kid_and_the_teacher_socket_sees_every_car(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1", "car-2"]) as srv:
        c1, c2 = RawCar(srv.url, "car-1"), RawCar(srv.url, "car-2")
        await c1.connect()
        await c2.connect()
        teacher = await srv.teacher()
        tsio = socketio.AsyncClient(reconnection=False)
        try:
            await wait_for(lambda: len(srv.classroom.connected_car_ids()) == 2, "both cars")
            kid = await srv.join("Mia")
            srv.classroom.assign("car-1", [kid["kid_id"]])
            kid_safety, teacher_events = [], {"telemetry": [], "safety": [], "roster_changed": []}
            await srv.kid_socket(kid["token"], {"safety": kid_safety.append})
            for name in teacher_events:
                tsio.on(name, teacher_events[name].append, namespace="/teacher")
            # a tick with several cars' samples comes as one telemetry_batch (server/web/fanout.py)
            tsio.on("telemetry_batch", teacher_events["telemetry"].extend, namespace="/teacher")
            cookie = teacher.http.cookie_jar.filter_cookies(URL(srv.url))["dojo_teacher"].value
            await tsio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                               transports=["websocket"], wait_timeout=5)
            event = {"t": 1.0, "reason": "obstacle", "kid_text": "I stopped: wall 10 cm ahead", "value": 10.0}
            await c1.telemetry(seq=1, safety_events=[event], safety_state="stopping")
            await c2.telemetry(seq=1)
            await wait_for(lambda: kid_safety and teacher_events["safety"], "safety event at kid and teacher")
            assert kid_safety[0]["kid_text"] == "I stopped: wall 10 cm ahead" and kid_safety[0]["car_id"] == "car-1"
            await wait_for(lambda: {t["car_id"] for t in teacher_events["telemetry"]} == {"car-1", "car-2"},
                           "the teacher sees both cars")
            await srv.join("Leo")
            await wait_for(lambda: any(r["reason"] == "kid_joined" for r in teacher_events["roster_changed"]),
                           "a roster change pushed to the teacher")
        finally:
            await tsio.disconnect()
            await teacher.http.close()
            await c1.close()
            await c2.close()


async def test_a_car_runtime_with_a_wrong_token_gets_the_hubs_error_info_intact_and_never_moves(tmp_path):
    """The hub refuses with ConnectionRefusedError(text, ErrorInfo dict): python-socketio delivers the
    dict as the refusal's data, so the car's AuthRefused carries rule, value and fix, not a repr."""
    async with classroom_server(tmp_path, cars=[], extra_cars=["car-1"]) as srv:
        arena = srv.classroom.default_arena
        car = await start_sim_car(srv.url, "car-1", arena, token="wrong-token-123")
        try:
            with pytest.raises(AuthRefused) as refused:
                await asyncio.wait_for(car.tasks[1], WAIT_S)
            assert car.pose == arena.start  # a car that never heard its server does not move
        finally:
            await car.stop()
    info = refused.value.info
    assert info["rule"] == "car_token" and info["value"] == "car-1" and "--token" in info["fix"]
    assert "wrong pairing token for car-1" in str(refused.value) and "--token" in str(refused.value)


async def test_a_protocol_1_car_still_drives_and_a_newer_one_than_the_server_knows_is_refused_with_the_fix(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1", "car-2"]) as srv:
        old = RawCar(srv.url, "car-1")
        await old.connect(protocol=1)
        try:
            await wait_for(lambda: old.events("limits"), "limits for the old car")
            await old.telemetry(x=75.0)  # protocol 1: no pose_source, no pose_uncertainty_cm
            await wait_for(lambda: srv.classroom.latest_telemetry("car-1"), "its telemetry")
            tm = srv.classroom.latest_telemetry("car-1")
            assert tm.pose.x_cm == 75.0 and tm.pose_source is None and srv.handle.app[CAR_HUB].bad_messages == {}
        finally:
            await old.close()
        future = RawCar(srv.url, "car-2")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await future.connect(protocol=3)
        await wait_for(lambda: future.refusal, "the refusal")
        assert future.refusal["data"]["rule"] == "protocol_version" and future.refusal["data"]["fix"]
        await future.close()
