"""E-stop delivery (server/estop_delivery.py): the car's ack ends the re-sends, so does telemetry that
shows the latch; a lost e-stop is sent again. Real server on loopback, real socket.io car clients."""

from __future__ import annotations

import asyncio

from core_harness import RawCar, classroom_server, wait_for
from server.car_hub import CAR_HUB
from server.estop_delivery import ESTOP_ACK_TIMEOUT_S


def lossy_estop_handler(car: RawCar, lost: int):
    """The car's e-stop handler, except that the first `lost` e-stops never arrive (no ack)."""
    seen: list = []

    async def handler(data=None):
        seen.append(data)
        if len(seen) <= lost:
            await asyncio.sleep(10 * ESTOP_ACK_TIMEOUT_S)  # lost on the way: the server hears nothing in time
            return None
        return {"ok": True}

    car.sio.on("estop", handler, namespace="/car")
    return seen


async def test_an_estop_that_is_lost_is_sent_again_until_the_car_acknowledges_it(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        seen = lossy_estop_handler(car, lost=2)
        await car.connect()
        try:
            await wait_for(lambda: car.events("limits"), "limits")
            hub = srv.handle.app[CAR_HUB]
            await srv.classroom.estop_all("teacher pressed STOP ALL")
            await wait_for(lambda: hub.estops.delivered.get("car-1") == "ack", "the car's ack")
            assert len(seen) == 3 and hub.estops.attempts["car-1"] == 3
            assert all(d == {"reason": "teacher pressed STOP ALL"} for d in seen)
            assert hub.estops.pending() == []
        finally:
            await car.close()


async def test_telemetry_showing_the_latch_ends_the_resends_without_an_ack(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        seen = lossy_estop_handler(car, lost=1000)  # acks never arrive
        await car.connect()
        try:
            await wait_for(lambda: car.events("limits"), "limits")
            hub = srv.handle.app[CAR_HUB]
            await srv.classroom.estop_all("stop")
            await wait_for(lambda: len(seen) >= 2, "a re-send")
            telemetry = {"car_id": "car-1", "seq": 1, "t": 1.0, "pose": {"x_cm": 50, "y_cm": 50, "heading_deg": 0},
                         "speed_cm_s": 0.0, "safety_state": "estop"}
            await car.sio.emit("telemetry", telemetry, namespace="/car")
            await wait_for(lambda: hub.estops.delivered.get("car-1") == "telemetry", "the latch seen in telemetry")
            sent = len(seen)
            await asyncio.sleep(5 * ESTOP_ACK_TIMEOUT_S)
            assert len(seen) == sent and hub.estops.pending() == []  # no more re-sends
        finally:
            await car.close()


async def test_a_teacher_reset_ends_the_resends(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        seen = lossy_estop_handler(car, lost=1000)
        await car.connect()
        try:
            await wait_for(lambda: car.events("limits"), "limits")
            hub = srv.handle.app[CAR_HUB]
            await srv.classroom.estop_all("stop")
            await srv.classroom.reset_car("car-1")
            assert hub.estops.pending() == []
            await wait_for(lambda: car.events("reset_estop"), "the reset")
            sent = len(seen)
            await asyncio.sleep(5 * ESTOP_ACK_TIMEOUT_S)
            assert len(seen) == sent
        finally:
            await car.close()
