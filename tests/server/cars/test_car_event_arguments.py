"""A car's `telemetry` or `result` with no message (emit(event) / null) or with several is a bad message:
counted and dropped, the car's connection stays up and its next good message is used. Before, the handler
raised a TypeError (a traceback per message). Found by `make fuzz` (stress/fuzz.py)."""

from __future__ import annotations

import pytest

from core_harness import RawCar, classroom_server, wait_for

from server.cars.hub import CAR_HUB

pytestmark = pytest.mark.timeout(60)


async def test_telemetry_and_results_without_a_message_are_counted_and_dropped(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        try:
            await car.sio.emit("telemetry", None, namespace="/car")
            await car.sio.emit("result", None, namespace="/car")
            await car.sio.emit("telemetry", ({"seq": 1}, {"seq": 2}), namespace="/car")  # two arguments
            await car.telemetry(x=77.0, seq=5)
            await wait_for(lambda: srv.classroom.latest_telemetry("car-1") is not None
                           and srv.classroom.latest_telemetry("car-1").pose.x_cm == 77.0, "the good telemetry after the bad")
            bad = srv.handle.app[CAR_HUB].bad_messages
            assert bad.get("telemetry.arguments") == 2 and bad.get("result.arguments") == 1, bad
            assert car.sio.connected
        finally:
            await car.close()
