"""The stop button on a real car (gpio driver, fake pins) latches the car's e-stop through the runtime:
neutral at once on the pins, the teacher's console hears the reason over the real server, the latch is
kept on disk, nothing drives until the teacher resets it, and a reset while the button is still held
resets nothing."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import socketio
from yarl import URL
from core_harness import classroom_server, wait_for

from robot_runtime.arena import Arena
from robot_runtime.clock import MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.devices.esc import ARM_S
from robot_runtime.drivers import gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.estop_latch import EstopLatch
from robot_runtime.link import CarLink
from robot_runtime.runtime import CarRuntime

pytestmark = pytest.mark.timeout(60)

ARENA = Arena(name="floor", width_cm=400, height_cm=300, start={"x_cm": 50, "y_cm": 100, "heading_deg": 0})
ESC, BUTTON = 12, 26
NEUTRAL_US = 1500.0  # the default calibration's neutral
TICK_S = 0.02


async def test_the_stop_button_latches_the_estop_the_teacher_sees_why_and_only_their_reset_clears_it(tmp_path):
    async with classroom_server(tmp_path / "server", extra_cars=["car-b"]) as srv:
        arena_file = tmp_path / "arena.json"
        arena_file.write_text(ARENA.model_dump_json())
        cfg = CarConfig(car_id="car-b", hardware="gpio", arena_file=str(arena_file), server_url=srv.url,
                        token="pair-car-b-secret", hardware_options={"pin_factory": "mock", "stop_button_pin": BUTTON})
        pins = mock_factory()
        car = gpio.create(cfg, ARENA, pin_factory=pins)
        clock = MonotonicClock()
        latch = EstopLatch(tmp_path / "estop-car-b.json")
        rt = CarRuntime(cfg, car, clock, arena=ARENA, own_arena=ARENA, latch=latch)
        link = CarLink(rt, srv.url, cfg.token, clock, kind="real")
        tasks = [asyncio.create_task(rt.loop.run_realtime()), asyncio.create_task(link.run())]
        teacher = await srv.teacher()
        seen: list[dict] = []
        tsio = socketio.AsyncClient(reconnection=False)
        tsio.on("safety", seen.append, namespace="/teacher")
        try:
            cookie = teacher.http.cookie_jar.filter_cookies(URL(srv.url))["dojo_teacher"].value
            await tsio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                               transports=["websocket"], wait_timeout=5)
            await wait_for(lambda: srv.classroom.dispatcher.is_connected("car-b"), "the car to connect")
            await asyncio.sleep(ARM_S)  # the ESC arms on neutral
            rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 8, "speed_pct": 30}})
            await wait_for(lambda: pins.pin(ESC).pulse_us > NEUTRAL_US + 20, "the car to drive")

            n = len(pins.pin(ESC).history)
            t_press = time.monotonic()
            pins.pin(BUTTON).drive_low()  # pressed: the button shorts the pin to GND
            after = pins.pin(ESC).pulses_us()[n:]
            assert after and after[0][1] == pytest.approx(NEUTRAL_US) and after[0][0] - t_press < TICK_S
            await wait_for(lambda: [e for e in seen if e["reason"] == "estop"], "the teacher to hear the e-stop")
            event = next(e for e in seen if e["reason"] == "estop")
            assert event["car_id"] == "car-b" and event["detail"] == "stop button on the car"
            assert "stop button" in event["kid_text"]
            assert json.loads(latch.path.read_text())["reason"] == "stop button on the car"  # kept across a restart
            await wait_for(lambda: rt.results and rt.results[-1].status != "done", "the drive to end")

            pins.pin(BUTTON).drive_high()
            pins.pin(BUTTON).drive_low()  # pressed again and held while the teacher resets
            assert rt.handle_reset_estop({"reason": "teacher reset"})["error"]["rule"] == "stop_button_held"
            assert rt.supervisor.estopped and latch.path.exists()
            pins.pin(BUTTON).drive_high()  # released

            status, _ = await teacher.post("/api/teacher/cars/car-b/reset")
            assert status == 200
            await wait_for(lambda: not rt.supervisor.estopped and not car.latched, "the teacher's reset to reach the car")
            assert not latch.path.exists()
            rt.handle_skill({"request_id": "r2", "action": {"kind": "drive", "seconds": 1, "speed_pct": 30}})
            await wait_for(lambda: pins.pin(ESC).pulse_us > NEUTRAL_US + 20, "the car to drive again")
        finally:
            await tsio.disconnect()
            await teacher.http.close()
            rt.loop.stop()
            rt.shutdown("test over")
            await link.close(0.5)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            car.close()
