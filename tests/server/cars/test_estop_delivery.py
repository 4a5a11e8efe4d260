"""E-stop delivery (server/cars/estop_delivery.py): the car's ack ends the re-sends, so does telemetry that
shows the latch; a lost e-stop is sent again. Real server on loopback, real socket.io car clients."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from core_harness import RawCar, classroom_server, wait_for
from server.cars.hub import CAR_HUB
from server.cars.estop_delivery import ESTOP_ACK_TIMEOUT_S


@asynccontextmanager
async def car_losing_estops(tmp_path, lost: int):
    """A server with one connected car whose first `lost` e-stops never arrive (no ack); yields the
    server, the /car hub and the e-stops the car saw."""
    seen: list = []

    async def handler(data=None):
        seen.append(data)
        if len(seen) <= lost:
            await asyncio.sleep(10 * ESTOP_ACK_TIMEOUT_S)  # lost on the way: the server hears nothing in time
            return None
        return {"ok": True}

    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        car.sio.on("estop", handler, namespace="/car")
        await car.connect()
        try:
            await wait_for(lambda: car.events("limits"), "limits")
            yield srv, srv.handle.app[CAR_HUB], car, seen
        finally:
            await car.close()


async def test_an_estop_that_is_lost_is_sent_again_until_the_car_acknowledges_it(tmp_path):
    async with car_losing_estops(tmp_path, lost=2) as (srv, hub, car, seen):
        await srv.classroom.estop_all("teacher pressed STOP ALL")
        await wait_for(lambda: hub.estops.delivered.get("car-1") == "ack", "the car's ack")
        assert len(seen) == 3 and hub.estops.attempts["car-1"] == 3
        assert all(d == {"reason": "teacher pressed STOP ALL"} for d in seen), seen
        assert hub.estops.pending() == []


async def test_telemetry_showing_the_latch_ends_the_resends_without_an_ack(tmp_path):
    async with car_losing_estops(tmp_path, lost=1000) as (srv, hub, car, seen):  # acks never arrive
        await srv.classroom.estop_all("stop")
        await wait_for(lambda: len(seen) >= 2, "a re-send")
        telemetry = {"car_id": "car-1", "seq": 1, "t": 1.0, "pose": {"x_cm": 50, "y_cm": 50, "heading_deg": 0},
                     "speed_cm_s": 0.0, "safety_state": "estop"}
        await car.sio.emit("telemetry", telemetry, namespace="/car")
        await wait_for(lambda: hub.estops.delivered.get("car-1") == "telemetry", "the latch seen in telemetry")
        sent = len(seen)
        await asyncio.sleep(5 * ESTOP_ACK_TIMEOUT_S)
        assert len(seen) == sent and hub.estops.pending() == []  # no more re-sends


async def test_a_teacher_reset_ends_the_resends(tmp_path):
    async with car_losing_estops(tmp_path, lost=1000) as (srv, hub, car, seen):
        await srv.classroom.estop_all("stop")
        await srv.classroom.reset_car("car-1")
        assert hub.estops.pending() == []
        await wait_for(lambda: car.events("reset_estop"), "the reset")
        sent = len(seen)
        await asyncio.sleep(5 * ESTOP_ACK_TIMEOUT_S)
        assert len(seen) == sent
