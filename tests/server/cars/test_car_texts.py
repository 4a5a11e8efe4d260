"""What a car says is bounded before kids and teachers read it (server/cars/car_texts.py; issue 17, finding 5).

A hand-driven car client (RawCar: what a broken or hostile runtime sends on purpose) on a real server,
a real kid socket and a real teacher socket. Before the fix a 200 KB text reached every teacher and the
car's kid, and a thousand safety events in a message were each pushed to every screen.
"""

from __future__ import annotations

import asyncio
import time

import socketio
from yarl import URL

from core_harness import CALL_TIMEOUT_S, RawCar, classroom_server, wait_for
from server.cars.car_texts import MAX_DETAIL, MAX_EVENTS_PER_MESSAGE, MAX_KID_TEXT
from server.core.classroom import SAFETY_PUSH_BURST, SAFETY_PUSH_PER_S

HUGE = "I stopped: " + "x" * 200_000  # 200 KB


async def teacher_socket(srv, teacher, events: dict[str, list]) -> socketio.AsyncClient:
    tsio = socketio.AsyncClient(reconnection=False)
    for name, sink in events.items():
        tsio.on(name, sink.append, namespace="/teacher")
    cookie = teacher.http.cookie_jar.filter_cookies(URL(srv.url))["dojo_teacher"].value
    await tsio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                       transports=["websocket"], wait_timeout=5)
    return tsio


async def test_a_huge_car_text_reaches_nobody_whole_and_event_floods_are_capped(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "car-1 connected")
        kid = await srv.join("Mia")
        srv.classroom.assign("car-1", [kid["kid_id"]])
        kid_safety: list[dict] = []
        await srv.kid_socket(kid["token"], {"safety": kid_safety.append})
        teacher = await srv.teacher()
        t_safety: list[dict] = []
        tsio = await teacher_socket(srv, teacher, {"safety": t_safety})
        try:
            big = {"t": 1.0, "reason": "obstacle", "kid_text": HUGE, "detail": HUGE, "value": 10.0}
            await car.telemetry(seq=1, safety_events=[big], safety_state="stopping")
            await wait_for(lambda: kid_safety and t_safety, "the safety event at the kid and the teacher")
            for got in (kid_safety[0], t_safety[0]):
                assert len(got["kid_text"]) <= MAX_KID_TEXT and got["kid_text"].startswith("I stopped: xxx")
                assert len(got["detail"]) <= MAX_DETAIL and got["kid_text"].endswith("…")

            # a flood: 3 messages of 200 events each, as fast as the car can send them
            flood_started = time.monotonic()
            small = {"t": 2.0, "reason": "fence", "kid_text": "I slowed down: wall ahead", "value": 1.0}
            for seq in range(2, 5):
                await car.telemetry(seq=seq, safety_events=[small] * 200, safety_state="limiting")
            await car.telemetry(seq=5)
            await wait_for(lambda: srv.classroom.latest_telemetry("car-1").seq == 5, "the flood has arrived")
            await asyncio.sleep(0.3)  # anything still on its way to the screens
            elapsed = time.monotonic() - flood_started
            budget = SAFETY_PUSH_BURST + SAFETY_PUSH_PER_S * elapsed
            assert len(t_safety) - 1 <= min(budget, 3 * MAX_EVENTS_PER_MESSAGE), len(t_safety)
            assert len(kid_safety) == len(t_safety)
            async with srv.http.get(f"{srv.url}/api/health") as resp:
                health = await resp.json()
            assert health["bad_car_messages"] >= 3 * (200 - MAX_EVENTS_PER_MESSAGE)  # counted, not silent
        finally:
            await tsio.disconnect()
            await teacher.http.close()
            await car.close()


async def test_a_huge_result_text_is_cut_before_the_kid_and_the_teacher_read_it(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "car-1 connected")
        kid = await srv.join("Mia")
        srv.classroom.assign("car-1", [kid["kid_id"]])
        sio = await srv.kid_socket(kid["token"])
        teacher = await srv.teacher()
        activity: list[dict] = []
        tsio = await teacher_socket(srv, teacher, {"activity": activity})
        try:
            block = asyncio.create_task(srv.block(sio, "move_forward", {"distance": 10}))
            await wait_for(lambda: car.events("skill"), "the skill request at the car")
            request_id = car.events("skill")[0]["request_id"]
            await car.sio.emit("result", {"request_id": request_id, "status": "failed", "reason": "r" * 10_000,
                                          "kid_text": HUGE, "detail": HUGE}, namespace="/car")
            reply = await asyncio.wait_for(block, CALL_TIMEOUT_S)
            assert reply["status"] == "failed"
            assert len(reply["kid_text"]) <= MAX_KID_TEXT and len(reply["detail"]) <= MAX_DETAIL + 100
            await wait_for(lambda: activity, "the teacher's activity line")
            assert len(activity[0]["kid_text"]) <= MAX_KID_TEXT and len(activity[0]["detail"]) <= MAX_DETAIL + 100
        finally:
            await tsio.disconnect()
            await teacher.http.close()
            await car.close()
