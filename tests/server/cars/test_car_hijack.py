"""One connection per car (issue 17, finding 1: car hijack).

A second connection with a car's pairing token while the car is connected and heard from is refused
(rule `car_in_use`), the teacher sees it, and the live car keeps its connection and keeps driving the
kid's blocks. A car that is gone (disconnected, or silent past `timeouts.car_silent_s`) may be replaced,
and a real car runtime that meets `car_in_use` retries instead of giving up.
"""

from __future__ import annotations

import asyncio

import pytest
import socketio
from yarl import URL

from core_harness import CLASS, RawCar, classroom_server, start_sim_car, wait_for
from server.cars.hub import CAR_HUB
from server.core.config import Timeouts

QUIET_S = 0.3  # a short silence limit, so the "gone quiet" case takes a fraction of a second


async def test_a_second_hello_for_a_live_car_is_refused_shown_to_the_teacher_and_the_car_keeps_driving(tmp_path):
    async with classroom_server(tmp_path, cars=["car-1"]) as srv:
        kid = await srv.join("Mia")
        sio = await srv.kid_socket(kid["token"])
        teacher = await srv.teacher()
        seen: list[dict] = []
        tsio = socketio.AsyncClient(reconnection=False)
        tsio.on("car_refused", seen.append, namespace="/teacher")
        cookie = teacher.http.cookie_jar.filter_cookies(URL(srv.url))["dojo_teacher"].value
        await tsio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                           transports=["websocket"], wait_timeout=5)
        hub = srv.handle.app[CAR_HUB]
        live_sid = hub.sid_of["car-1"]
        impostor = RawCar(srv.url, "car-1")  # the right token, as a leaked command line would give it
        try:
            with pytest.raises(socketio.exceptions.ConnectionError):
                await impostor.connect()
            info = (await wait_for(lambda: impostor.refusal, "the refusal"))["data"]
            assert info["rule"] == "car_in_use" and info["value"] == "car-1", info
            assert "already connected" in info["message"] and "pair the car again" in info["fix"]
            await wait_for(lambda: seen, "the teacher's car_refused event")
            assert seen[0]["car_id"] == "car-1" and seen[0]["rule"] == "car_in_use" and seen[0]["address"]
            assert "refused" in seen[0]["kid_text"] and "pair car-1 again" in seen[0]["kid_text"]
            status, board = await teacher.get(f"/api/teacher/classes/{CLASS}/board")  # a console opened later sees it
            [card] = [c for c in board["cars"] if c["car_id"] == "car-1"]
            assert status == 200 and card["refused"]["count"] == 1 and card["refused"]["address"] == "127.0.0.1"
            assert hub.sid_of["car-1"] == live_sid and hub.refused_second == 1  # the live car kept its connection
            assert srv.classroom.dispatcher.is_connected("car-1")
            before = srv.cars["car-1"].pose.x_cm
            reply = await srv.block(sio, "move_forward", {"distance": 10})
            assert reply["status"] == "done", reply
            assert srv.cars["car-1"].pose.x_cm > before + 5  # the real car moved, not an impostor's "done"
            assert srv.cars["car-1"].link.connects == 1  # and it never lost its link
        finally:
            await impostor.close()
            await tsio.disconnect()
            await teacher.http.close()


async def test_a_car_silent_past_the_limit_may_be_replaced_and_one_heard_from_may_not(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"], timeouts=Timeouts(car_silent_s=QUIET_S)) as srv:
        old, second, new = RawCar(srv.url, "car-1"), RawCar(srv.url, "car-1"), RawCar(srv.url, "car-1")
        await old.connect()
        try:
            await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "first connection")
            await old.telemetry(seq=1)  # heard from just now: alive
            with pytest.raises(socketio.exceptions.ConnectionError):
                await second.connect()
            assert (await wait_for(lambda: second.refusal, "the refusal"))["data"]["rule"] == "car_in_use"
            await asyncio.sleep(QUIET_S * 2)  # the old connection goes quiet (a car that lost power mid-lesson)
            await new.connect()
            await wait_for(lambda: not old.sio.connected, "the old socket closed by the server")
            assert srv.classroom.dispatcher.is_connected("car-1") and new.sio.connected
        finally:
            for car in (old, second, new):
                await car.close()


async def test_a_disconnected_car_may_come_back_at_once(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        first, again = RawCar(srv.url, "car-1"), RawCar(srv.url, "car-1")
        await first.connect()
        await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "first connection")
        await first.close()
        await wait_for(lambda: not srv.classroom.dispatcher.is_connected("car-1"), "the goodbye")
        await again.connect()
        try:
            await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-1"), "the car back")
        finally:
            await again.close()


async def test_a_car_runtime_refused_as_car_in_use_keeps_trying_and_gets_in_once_the_other_is_gone(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        holder = RawCar(srv.url, "car-1")
        await holder.connect()
        await holder.telemetry(seq=1)
        car = await start_sim_car(srv.url, "car-1", srv.classroom.default_arena)
        try:
            await wait_for(lambda: srv.handle.app[CAR_HUB].refused_second >= 1, "the runtime refused as car_in_use")
            assert not car.link.connected.is_set() and not any(t.done() for t in car.tasks)  # still trying
            await holder.close()
            await wait_for(lambda: car.link.connected.is_set(), "the runtime connected after the holder left", 15.0)
            assert srv.classroom.dispatcher.is_connected("car-1")
        finally:
            await holder.close()
            await car.stop()
