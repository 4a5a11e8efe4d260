"""Dispatch through a real server, real socket.io kids and real simulated cars: one request at a time
per car, fair turns on a shared car, stop and e-stop skip every queue, one final answer for everything."""

from __future__ import annotations

import asyncio
import time

from core_harness import RawCar, classroom_server, wait_for

SHORT = {"distance": 5}


def speed(srv, car_id: str) -> float:
    tel = srv.classroom.latest_telemetry(car_id)
    return abs(tel.speed_cm_s) if tel else 0.0


async def test_one_kids_blocks_run_one_at_a_time_in_order(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        replies = await asyncio.gather(*(srv.block(sio, "move_forward", SHORT, ref=i) for i in range(3)))
        assert [r["status"] for r in replies] == ["done"] * 3
        ids = [int(r["request_id"].split(".")[-1]) for r in replies]
        assert ids == sorted(ids)
        await srv.classroom.flush_request_log()
        log = sorted(srv.classroom.storage.recent_requests(kid_id=kid["kid_id"]), key=lambda e: e.t)
        assert len(log) == 3
        for before, after in zip(log, log[1:]):  # each started after the previous one finished
            assert after.t - after.duration_s >= before.t - 0.01


async def test_shared_car_takes_turns_round_robin_between_kids(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        ann, ben = await srv.join("Ann"), await srv.join("Ben")
        srv.classroom.assign("car-1", [ann["kid_id"], ben["kid_id"]])
        order: list[str] = []
        srv.classroom.events.subscribe("block_result", lambda kid_id, reply: order.append(kid_id))
        a, b = await srv.kid_socket(ann["token"]), await srv.kid_socket(ben["token"])
        ann_calls = [asyncio.create_task(srv.block(a, "move_forward", SHORT, ref=i)) for i in range(3)]
        await wait_for(lambda: srv.classroom.dispatcher.kid_status(ann["kid_id"], "car-1")[0] == "running", "Ann driving")
        ben_call = asyncio.create_task(srv.block(b, "move_forward", SHORT))
        await wait_for(lambda: srv.classroom.dispatcher.kid_status(ben["kid_id"], "car-1") == ("waiting", 2)
                       or srv.classroom.dispatcher.kid_status(ben["kid_id"], "car-1")[0] == "waiting", "Ben queued")
        results = await asyncio.gather(*ann_calls, ben_call)
        assert [r["status"] for r in results] == ["done"] * 4
        # Ann had sent three before Ben's one; Ben still drives second, not fourth
        assert order == [ann["kid_id"], ben["kid_id"], ann["kid_id"], ann["kid_id"]]


async def test_stop_preempts_a_long_drive_within_one_and_a_half_seconds(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        srv.classroom.set_level(kid["kid_id"], 2)
        sio = await srv.kid_socket(kid["token"])
        drive = asyncio.create_task(srv.block(sio, "drive_for", {"speed": 30, "seconds": 10}))
        queued = asyncio.create_task(srv.block(sio, "move_forward", SHORT))
        await wait_for(lambda: speed(srv, "car-1") > 20, "the car driving")
        t0 = time.monotonic()
        stop_reply = await sio.call("stop", {}, namespace="/kid", timeout=5)
        reply = await drive
        latency = time.monotonic() - t0
        assert stop_reply["status"] == "done"
        assert reply["status"] == "cancelled" and latency < 1.5, (reply, latency)  # of a 10 s drive
        assert (await queued)["status"] == "cancelled"
        await wait_for(lambda: speed(srv, "car-1") < 2, "the car standing still", timeout_s=2)


async def test_teacher_estop_reaches_every_car_and_latches_until_reset(tmp_path):
    cars = ["car-1", "car-2", "car-3"]
    async with classroom_server(tmp_path, cars=cars) as srv:
        kids = [await srv.join(name) for name in ("Ann", "Ben", "Cem")]
        for kid, car in zip(kids, cars):
            srv.classroom.assign(car, [kid["kid_id"]])
            srv.classroom.set_level(kid["kid_id"], 2)
        socks = [await srv.kid_socket(k["token"]) for k in kids]
        drives = [asyncio.create_task(srv.block(s, "drive_for", {"speed": 30, "seconds": 10})) for s in socks]
        await wait_for(lambda: all(speed(srv, c) > 20 for c in cars), "every car driving")
        teacher = await srv.teacher()
        try:
            t0 = time.monotonic()
            status, body = await teacher.post("/api/teacher/estop", {"reason": "drill"})
            assert status == 200 and sorted(body["cars"]) == cars
            replies = await asyncio.gather(*drives)
            assert all(r["status"] in ("cancelled", "failed") for r in replies), replies
            await wait_for(lambda: all(srv.classroom.latest_telemetry(c).safety_state == "estop" for c in cars),
                           "every car reporting estop", timeout_s=1.0)
            assert time.monotonic() - t0 < 1.5
            latched = await srv.block(socks[0], "move_forward", SHORT)
            assert latched["status"] == "failed" and latched["rule"] == "estop_latched"
            status, _ = await teacher.post("/api/teacher/cars/car-1/reset")
            assert status == 200
            await wait_for(lambda: srv.classroom.latest_telemetry("car-1").safety_state != "estop", "car-1 reset")
            assert (await srv.block(socks[0], "move_forward", SHORT))["status"] == "done"
            assert (await srv.block(socks[1], "move_forward", SHORT))["rule"] == "estop_latched"
        finally:
            await teacher.http.close()


async def test_a_car_away_during_the_teacher_estop_comes_back_latched(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"], extra_cars=["car-2"]) as srv:
        away = RawCar(srv.url, "car-2")
        await away.connect()
        await wait_for(lambda: away.events("limits"), "car-2 set up")
        await away.close()
        await wait_for(lambda: not srv.classroom.dispatcher.cars["car-2"].connected, "car-2 gone")
        teacher = await srv.teacher()
        try:
            status, body = await teacher.post("/api/teacher/estop", {"reason": "drill"})
            assert status == 200 and body["cars"] == ["car-1"]  # reached now: only the connected one
            back = RawCar(srv.url, "car-2")
            await back.connect()
            try:
                await wait_for(lambda: back.events("estop"), "the latch re-sent to car-2")
                status, _ = await teacher.post("/api/teacher/cars/car-2/reset")
                assert status == 200
                await wait_for(lambda: back.events("reset_estop"), "car-2 reset")
            finally:
                await back.close()
        finally:
            await teacher.http.close()


async def test_a_kid_can_drive_only_the_car_assigned_to_them(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1", "car-2"]) as srv:
        ann, ben = await srv.join("Ann"), await srv.join("Ben")
        srv.classroom.assign("car-1", [ann["kid_id"]])
        srv.classroom.assign("car-2", [ben["kid_id"]])
        start = srv.classroom.latest_telemetry("car-1").pose
        b = await srv.kid_socket(ben["token"])
        assert (await srv.block(b, "move_forward", {"distance": 15}))["status"] == "done"
        sneaky = await b.call("block", {"block": "move_forward", "args": {"distance": 15}, "car_id": "car-1"},
                              namespace="/kid", timeout=5)
        assert sneaky["status"] == "refused" and "car_id" in sneaky["error"]["rule"]
        assert srv.classroom.latest_telemetry("car-1").pose == start  # Ann's car never moved
        assert srv.classroom.latest_telemetry("car-2").pose.x_cm > start.x_cm + 10
        async with srv.http.get(f"{srv.url}/api/cars", headers={"Authorization": f"Bearer {ben['token']}"}) as resp:
            assert [c["car_id"] for c in (await resp.json())["cars"]] == ["car-2"]


async def test_a_car_that_drops_mid_request_fails_it_with_a_reason(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        ann, ben = await srv.join("Ann"), await srv.join("Ben")
        srv.classroom.assign("car-1", [ann["kid_id"], ben["kid_id"]])
        srv.classroom.set_level(ann["kid_id"], 2)
        a, b = await srv.kid_socket(ann["token"]), await srv.kid_socket(ben["token"])
        drive = asyncio.create_task(srv.block(a, "drive_for", {"speed": 30, "seconds": 10}))
        await wait_for(lambda: speed(srv, "car-1") > 10, "the car driving")
        waiting = asyncio.create_task(srv.block(b, "move_forward", SHORT))
        await wait_for(lambda: srv.classroom.dispatcher.kid_status(ben["kid_id"], "car-1")[0] == "waiting", "Ben queued")
        car = srv.cars.pop("car-1")
        for task in car.tasks:  # the car process dies: no goodbye, no result
            task.cancel()
        await asyncio.gather(*car.tasks, return_exceptions=True)
        await car.link.sio.eio.disconnect(abort=True)
        running, queued = await asyncio.wait_for(asyncio.gather(drive, waiting), 10)
        for reply in (running, queued):
            assert reply["status"] == "failed" and reply["rule"] == "car_disconnected"
            assert "car-1 lost its connection" in reply["detail"]
        again = await srv.block(a, "move_forward", SHORT)
        assert again["status"] == "failed" and "car-1" in again["detail"] and "dojo car --sim" in again["detail"]


async def test_a_kid_who_disconnects_has_their_car_stopped(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        srv.classroom.set_level(kid["kid_id"], 2)
        sio = await srv.kid_socket(kid["token"])
        await sio.emit("block", {"block": "drive_for", "args": {"speed": 30, "seconds": 10}}, namespace="/kid")
        await wait_for(lambda: speed(srv, "car-1") > 20, "the car driving")
        await sio.disconnect()
        await wait_for(lambda: speed(srv, "car-1") < 2, "the car stopped after the kid left", timeout_s=2)
        await wait_for(lambda: srv.classroom.dispatcher.kid_status(kid["kid_id"], "car-1")[0] == "idle", "queue empty")


async def test_a_request_the_car_never_answers_times_out_and_is_cancelled_on_the_car(tmp_path):
    from server.core.config import Timeouts
    async with classroom_server(tmp_path, extra_cars=["car-9"],
                                timeouts=Timeouts(min_skill_s=0.3, result_margin_s=0.2)) as srv:
        car = RawCar(srv.url, "car-9", answer=False)
        await car.connect()
        try:
            await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-9"), "car-9 connected")
            kid = await srv.join("Mia")
            srv.classroom.assign("car-9", [kid["kid_id"]])
            sio = await srv.kid_socket(kid["token"])
            t0 = time.monotonic()
            reply = await srv.block(sio, "move_forward", SHORT)
            assert reply["status"] == "timed_out" and "no result from car-9" in reply["detail"]
            assert time.monotonic() - t0 < 3
            await wait_for(lambda: car.events("cancel"), "a cancel sent to the car")
            assert car.events("cancel")[0]["request_id"] == reply["request_id"]
        finally:
            await car.close()


async def test_roster_shows_who_drives_and_who_waits_and_the_teacher_stops_one_car(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        ann, ben = await srv.join("Ann"), await srv.join("Ben")
        srv.classroom.set_class_level("TEST", 2)
        teacher = await srv.teacher()
        try:
            status, _ = await teacher.post("/api/teacher/cars/car-1/assign", {"kid_ids": [ann["kid_id"], ben["kid_id"]]})
            assert status == 200
            a, b = await srv.kid_socket(ann["token"]), await srv.kid_socket(ben["token"])
            drive = asyncio.create_task(srv.block(a, "drive_for", {"speed": 30, "seconds": 10}))
            await wait_for(lambda: speed(srv, "car-1") > 10, "Ann driving")
            waiting = asyncio.create_task(srv.block(b, "move_forward", SHORT))
            await wait_for(lambda: srv.classroom.dispatcher.kid_status(ben["kid_id"], "car-1")[0] == "waiting", "Ben queued")
            _, roster = await teacher.get("/api/teacher/classes/TEST/roster")
            rows = {k["name"]: k for k in roster["kids"]}
            assert (rows["Ann"]["status"], rows["Ben"]["status"], rows["Ben"]["queue_position"]) == ("running", "waiting", 1)
            assert rows["Ann"]["online"] and rows["Ann"]["car_id"] == "car-1"
            _, cars = await teacher.get("/api/teacher/cars")
            car = cars["cars"][0]
            assert car["driver"] == ann["kid_id"] and car["queued"] == 1 and car["shared"]
            status, _ = await teacher.post("/api/teacher/cars/car-1/stop")
            assert status == 200
            replies = await asyncio.gather(drive, waiting)
            assert [r["status"] for r in replies] == ["cancelled", "cancelled"]
            await wait_for(lambda: speed(srv, "car-1") < 2, "car-1 standing", timeout_s=2)
            assert (await srv.block(b, "move_forward", SHORT))["status"] == "done"  # a stop does not latch
        finally:
            await teacher.http.close()


async def test_turn_order_is_round_robin_for_three_kids_and_positions_match_it():
    from collections import deque

    from robot_runtime.protocol import DriveAction
    from server.core.dispatch import CarQueue, Dispatcher, Request
    dispatcher = Dispatcher()
    car = dispatcher.cars["car-1"] = CarQueue("car-1")
    action = DriveAction(distance_cm=5)
    for kid, n in (("A", 3), ("B", 2), ("C", 2)):
        for i in range(n):
            car.waiting.setdefault(kid, deque()).append(Request(f"{kid}{i}", kid, "car-1", action))
    served, positions = [], []
    while True:
        positions.append({k: dispatcher.kid_status(k, "car-1")[1] for k in "ABC"})
        request = car.next_request()
        if request is None:
            break
        served.append(request.request_id)
        nxt = [k for k, p in positions[-1].items() if p == 1]
        assert nxt == [request.kid_id], (positions[-1], request.request_id)  # position 1 is who goes next
    assert served == ["A0", "B0", "C0", "A1", "B1", "C1", "A2"]
