"""Telemetry is encoded once per sample for every socket.io client that watches the car
(server/web/fanout.py): the frame is exactly what python-socketio's own encoder would send (non-ASCII text
as UTF-8 instead of escapes: the same JSON), and a kid
and the teacher read the same sample, with the car's collision alias and safety event intact. A client
watching several cars (the teacher) gets a tick's samples as one `telemetry_batch` event, each car's
newest, and every car keeps arriving at its rate."""

from __future__ import annotations

import asyncio
import json

import socketio
from socketio import packet
from yarl import URL

from core_harness import RawCar, classroom_server, wait_for
from robot_runtime.protocol import Telemetry
from server.web.fanout import BATCH_EVENT, socketio_event_frame, socketio_frame, socketio_wire, telemetry_json
from server.web.state import CONFIG

SAMPLE = {"car_id": "car-1", "seq": 7, "t": 12.5, "pose": {"x_cm": 120.25, "y_cm": 40.0, "heading_deg": -12.0},
          "speed_cm_s": 31.5, "distance_cm": 48.0, "safety_state": "limiting",
          "safety_events": [{"t": 12.4, "reason": "speed_limit", "kid_text": "I slowed down: level 1 top speed",
                             "value": 40.0, "limit": 30.0}],
          "collisions": [{"t": 12.45, "with": "cone:3", "x_cm": 121.0, "y_cm": 41.0, "speed_cm_s": 30.0}],
          "pose_source": "sim", "pose_uncertainty_cm": 0.5}


def test_the_frame_is_what_python_socketio_would_encode():
    telemetry = Telemetry.model_validate(SAMPLE)
    event_json = socketio_wire("car-1", telemetry)
    for namespace in ("/kid", "/teacher", "/"):
        library = packet.Packet(packet.EVENT, data=["telemetry", telemetry.model_dump(mode="json", by_alias=True)],
                                namespace=namespace).encode()
        assert socketio_event_frame(namespace, event_json) == library
    assert json.loads(event_json)[1]["collisions"][0]["with"] == "cone:3"
    accented = Telemetry.model_validate({**SAMPLE, "safety_events": [{**SAMPLE["safety_events"][0],
                                                                       "kid_text": "Zoë's car slowed — ouch"}]})
    library = packet.Packet(packet.EVENT, data=["telemetry", accented.model_dump(mode="json", by_alias=True)],
                            namespace="/kid").encode()
    ours = socketio_event_frame("/kid", socketio_wire("car-1", accented))
    assert json.loads(ours[len("2/kid,"):]) == json.loads(library[len("2/kid,"):])


def test_a_ticks_samples_for_one_client_are_one_batch_frame_as_python_socketio_would_encode():
    one = Telemetry.model_validate(SAMPLE)
    two = Telemetry.model_validate({**SAMPLE, "car_id": "car-2", "seq": 9})
    dicts = [t.model_dump(mode="json", by_alias=True) for t in (one, two)]
    for namespace in ("/teacher", "/"):
        frame = socketio_frame(namespace, [telemetry_json("car-1", one), telemetry_json("car-2", two)])
        assert frame == packet.Packet(packet.EVENT, data=[BATCH_EVENT, dicts], namespace=namespace).encode()
        single = socketio_frame(namespace, [telemetry_json("car-1", one)])
        assert single == packet.Packet(packet.EVENT, data=["telemetry", dicts[0]], namespace=namespace).encode()


async def test_a_kid_and_the_teacher_read_the_same_sample_of_the_kids_car(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "car-1 connected")
        kid = await srv.join("Mia")
        srv.classroom.assign("car-1", [kid["kid_id"]])
        kid_got: list[dict] = []
        await srv.kid_socket(kid["token"], {"telemetry": kid_got.append})
        teacher = await srv.teacher()
        teacher_got: list[dict] = []
        tsio = socketio.AsyncClient(reconnection=False)
        tsio.on("telemetry", teacher_got.append, namespace="/teacher")
        cookie = teacher.http.cookie_jar.filter_cookies(URL(srv.url))["dojo_teacher"].value
        await tsio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                           transports=["websocket"], wait_timeout=5)
        try:
            seq = 0
            while not (kid_got and teacher_got):  # the car keeps sending, as a car does, until both have one
                seq += 1
                await car.sio.emit("telemetry", {**SAMPLE, "seq": seq}, namespace="/car")
                await asyncio.sleep(0.05)
                assert seq < 400, "no telemetry reached the kid and the teacher within 20 s"
            expected = Telemetry.model_validate(SAMPLE).model_dump(mode="json", by_alias=True)
            for got in (kid_got[-1], teacher_got[-1]):
                assert {**got, "seq": 7} == expected
        finally:
            await tsio.disconnect()
            await teacher.http.close()
            await car.close()


async def test_the_teacher_gets_every_cars_newest_sample_in_batches_at_the_telemetry_rate(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1", "car-2", "car-3"]) as srv:
        cars = [RawCar(srv.url, f"car-{i}") for i in (1, 2, 3)]
        for car in cars:
            await car.connect()
        await wait_for(lambda: all(srv.classroom.dispatcher.is_connected(f"car-{i}") for i in (1, 2, 3)), "cars connected")
        teacher = await srv.teacher()
        frames: list[list[dict]] = []  # one entry per event: the samples it carried
        tsio = socketio.AsyncClient(reconnection=False)
        tsio.on("telemetry", lambda t: frames.append([t]), namespace="/teacher")
        tsio.on(BATCH_EVENT, frames.append, namespace="/teacher")
        cookie = teacher.http.cookie_jar.filter_cookies(URL(srv.url))["dojo_teacher"].value
        await tsio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                           transports=["websocket"], wait_timeout=5)
        try:
            hz = srv.handle.app[CONFIG].telemetry_max_hz
            loop = asyncio.get_running_loop()
            started, seq = loop.time(), 0
            while loop.time() - started < 2.0:  # three cars each sending far faster than the console's rate
                seq += 1
                for i, car in enumerate(cars, 1):
                    await car.sio.emit("telemetry", {**SAMPLE, "car_id": f"car-{i}", "seq": seq}, namespace="/car")
                await asyncio.sleep(0.005)
            last_sent = seq
            await wait_for(lambda: any(s["seq"] == last_sent for f in frames for s in f), "the last samples")
            await asyncio.sleep(0.2)
            elapsed = loop.time() - started
            per_car = {f"car-{i}": [s["seq"] for f in frames for s in f if s["car_id"] == f"car-{i}"] for i in (1, 2, 3)}
            for car_id, seqs in per_car.items():
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), (car_id, seqs)  # never an old one again
                assert seqs[-1] == last_sent, (car_id, seqs[-1], last_sent)  # the newest arrives
                assert hz * 1.0 <= len(seqs) <= hz * elapsed + 2, (car_id, len(seqs), elapsed)  # at its rate, no more
            assert len(frames) <= hz * elapsed + 2  # one event per tick, not one per car and sample
            assert sum(len(f) > 1 for f in frames) >= len(frames) // 2, "several cars a tick come as one batch"
        finally:
            await tsio.disconnect()
            await teacher.http.close()
            for car in cars:
                await car.close()
