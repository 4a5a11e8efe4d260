"""The gpio driver on fake pins (gpiozero MockFactory with recording PWM pins): what the pins see.

The safety promises every driver shares (e-stop, watchdog, dead-man, the calibrated range for any
command sequence) are checked on these pins, the PCA9685 and the serial board alike in
test_safety_on_every_driver.py.

Expected pulse widths are worked out by hand in the tests from the calibration numbers, never with
the driver's own maps.
"""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from car_rig import armed_in_real_time, until_answered
from gpiozero.pins.mock import MockFactory, MockTriggerPin

from robot_runtime.arena import Arena
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.devices.esc import ARM_S, BRAKE_TAP_S, NEUTRAL_GAP_S
from robot_runtime.devices.ultrasonic import STALE_S, UltrasonicSensor
from robot_runtime.drivers import UnknownHardware, create_hardware, gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.fake_plant import PinPlant
from robot_runtime.hardware import Command
from robot_runtime.runtime import CarRuntime

ARENA = Arena(name="hall", width_cm=2000, height_cm=2000, start={"x_cm": 300, "y_cm": 1000, "heading_deg": 0})
CAL = {"throttle": {"neutral_us": 1520, "forward_max_us": 1880, "reverse_max_us": 1160, "forward_deadband_us": 40,
                    "reverse_deadband_us": 30},
       "steering": {"center_us": 1490, "left_us": 1850, "right_us": 1130}}
ESC, SERVO = 12, 13
TICK_S = 0.02


def config(**opts) -> CarConfig:
    return CarConfig(car_id="car-p", hardware="gpio", watchdog=False, mode="headless",
                     hardware_options={"pin_factory": "mock", **CAL, **opts})


def plant_runtime(**cfg):
    pins = mock_factory()
    plant = PinPlant(pins, ARENA, encoder_pin=None, neutral_us=1520, forward_us=1880, reverse_us=1160,
                     center_us=1490, left_us=1850, right_us=1130, deadband_us=40)
    car = gpio.create(config(), ARENA, pin_factory=pins, clock=plant.clock.now)
    rt = CarRuntime(config(), car, plant.clock, arena=ARENA)
    rt.loop.run_headless(ARM_S + 0.1)  # the ESC arms on neutral
    return rt, car, pins, plant


def test_a_drive_block_drives_the_pins_as_calibrated():
    rt, car, pins, _ = plant_runtime()
    seen: list[tuple[float, float]] = []
    rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 2, "speed_pct": 50}})
    for _ in range(150):
        rt.loop.run_headless(TICK_S)
        seen.append((pins.pin(ESC).pulse_us, pins.pin(SERVO).pulse_us))
    # 50% forward: past the 40 us dead band, halfway to full: 1520 + 40 + 0.5 * (1880 - 1560) = 1720 us
    assert max(t for t, _ in seen) == pytest.approx(1720.0, abs=0.5)
    assert all(s == pytest.approx(1490.0) for _, s in seen)  # straight: the trimmed centre
    assert seen[-1][0] == pytest.approx(1520.0)  # done: neutral
    assert rt.results[-1].status == "done"


def test_a_left_turn_moves_the_servo_toward_its_left_end_only():
    rt, car, pins, _ = plant_runtime()
    rt.handle_skill({"request_id": "r1", "action": {"kind": "turn", "degrees": 90, "speed_pct": 40}})
    steer = []
    for _ in range(400):
        rt.loop.run_headless(TICK_S)
        steer.append(pins.pin(SERVO).pulse_us)
        if rt.results:
            break
    assert rt.results[-1].status == "done"
    assert max(steer) > 1490 + 100 and max(steer) <= 1850.0 + 1e-6 and min(steer) >= 1490.0 - 1e-6


def test_estop_puts_neutral_on_the_pins_at_once_and_every_tick_after():
    rt, car, pins, _ = plant_runtime()
    rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 5, "speed_pct": 60}})
    rt.loop.run_headless(1.0)
    assert pins.pin(ESC).pulse_us > 1600
    n_before = len(pins.pin(ESC).history)
    t0 = time.monotonic()
    rt.handle_estop({"reason": "teacher"})
    first_after = pins.pin(ESC).pulses_us()[n_before]
    assert first_after[1] == pytest.approx(1520.0) and first_after[0] - t0 < TICK_S  # within one tick (at once)
    rt.loop.run_headless(1.0)
    assert all(us == pytest.approx(1520.0) for _, us in pins.pin(ESC).pulses_us()[n_before:])


def test_arming_sends_only_neutral_for_the_first_two_seconds():
    clock = ManualClock()
    pins = mock_factory()
    car = gpio.create(config(), ARENA, pin_factory=pins, clock=clock.now)
    while clock.now() < ARM_S - TICK_S:
        assert car.apply(Command(0.8, 0.0)).throttle == 0.0
        assert pins.pin(ESC).pulse_us == pytest.approx(1520.0)
        clock.advance(TICK_S)
    clock.advance(TICK_S * 2)
    assert car.apply(Command(0.8, 0.0)).throttle == 0.8
    assert pins.pin(ESC).pulse_us == pytest.approx(1560 + 0.8 * 320)


def test_reverse_after_forward_plays_brake_tap_then_neutral_then_reverse():
    clock = ManualClock(10.0)
    pins = mock_factory()
    car = gpio.create(config(), ARENA, pin_factory=pins, clock=clock.now)
    clock.advance(ARM_S)
    car.apply(Command(0.5, 0.0))
    timeline = []
    t0 = clock.now()
    for _ in range(30):
        clock.advance(TICK_S)
        sent = car.apply(Command(-0.5, 0.0))
        timeline.append((round(clock.now() - t0, 3), pins.pin(ESC).pulse_us, sent.throttle))
    reverse_half = 1490 - 0.5 * (1490 - 1160)  # past the 30 us reverse dead band: 1325 us
    brake = [t for t, us, _ in timeline if us == pytest.approx(reverse_half)]
    gap = [t for t, us, _ in timeline if us == pytest.approx(1520.0)]
    assert brake[0] == pytest.approx(TICK_S) and gap, timeline
    tap = brake[0]  # the first reverse command: the ESC reads this pulse as brake
    assert gap[0] - tap >= BRAKE_TAP_S - 1e-9 and max(gap) - tap < BRAKE_TAP_S + NEUTRAL_GAP_S + TICK_S
    driving = [(t, thr) for t, us, thr in timeline if thr < 0]
    assert driving and driving[0][0] - tap >= BRAKE_TAP_S + NEUTRAL_GAP_S - 1e-9  # reverse only after the gap
    assert all(thr == 0.0 for t, us, thr in timeline if t < driving[0][0])  # brake and gap mean "not driving"


def test_forward_only_esc_never_gets_a_reverse_pulse():
    clock = ManualClock()
    pins = mock_factory()
    cal = {**CAL, "throttle": {**CAL["throttle"], "esc_mode": "forward_only"}}
    car = gpio.create(config(**cal), ARENA, pin_factory=pins, clock=clock.now)
    clock.advance(ARM_S)
    for thr in (0.5, -0.5, -1.0):
        car.apply(Command(thr, 0.0))
        clock.advance(TICK_S)
    assert min(us for _, us in pins.pin(ESC).pulses_us() if us > 0) == pytest.approx(1520.0)


def test_stop_button_latches_neutral_and_tells_the_runtime():
    clock = ManualClock()
    pins = mock_factory()
    car = gpio.create(config(stop_button_pin=26), ARENA, pin_factory=pins, clock=clock.now)
    heard = []
    car.on_stop_button = heard.append
    clock.advance(ARM_S)
    car.apply(Command(0.6, 0.0))
    assert pins.pin(ESC).pulse_us > 1600
    pins.pin(26).drive_low()  # pressed: the button shorts the pin to GND
    assert pins.pin(ESC).pulse_us == pytest.approx(1520.0) and heard == ["stop button on the car"]
    pins.pin(26).drive_high()
    assert car.apply(Command(0.6, 0.0)).throttle == 0.0 and pins.pin(ESC).pulse_us == pytest.approx(1520.0)
    car.clear_stop_button()
    assert car.apply(Command(0.6, 0.0)).throttle == 0.6


def test_ultrasonic_reads_the_echo_and_reports_a_missing_one_as_a_fault():
    pins = MockFactory()
    echo = pins.pin(24)
    pins.pin(23, pin_class=MockTriggerPin, echo_pin=echo, echo_time=2 * 100 / 34300)  # an object 100 cm ahead
    sensor = UltrasonicSensor(23, 24, pin_factory=pins)
    try:
        deadline = time.monotonic() + 2.0
        while sensor.read()[0] is None and time.monotonic() < deadline:
            time.sleep(0.02)
        cm, fault = sensor.read()
        assert fault is None and cm == pytest.approx(100, abs=15)
        pins.pin(23).echo_pin = pins.pin(25)  # the ECHO wire falls off: the echo goes nowhere we listen
        time.sleep(STALE_S + 0.3)
        assert sensor.read() == (None, "timeout")
    finally:
        sensor.close()


def test_bad_options_name_the_field_and_the_fix():
    with pytest.raises(UnknownHardware, match=r"hardware_options\.esc_pin"):
        create_hardware(CarConfig(car_id="c", hardware="gpio", mode="headless", hardware_options={"esc_pin": 40}), ARENA)
    with pytest.raises(UnknownHardware, match="GPIO 13 is used twice"):
        create_hardware(CarConfig(car_id="c", hardware="gpio", mode="headless", hardware_options={
            "pin_factory": "mock", "stop_button_pin": 13}), ARENA)
    with pytest.raises(UnknownHardware, match="opposite sides of neutral_us"):
        create_hardware(CarConfig(car_id="c", hardware="gpio", mode="headless", hardware_options={
            "pin_factory": "mock", "throttle": {"neutral_us": 1500, "forward_max_us": 1900, "reverse_max_us": 1600}}), ARENA)


def test_nan_commands_are_neutral():
    clock = ManualClock()
    pins = mock_factory()
    car = gpio.create(config(), ARENA, pin_factory=pins, clock=clock.now)
    clock.advance(ARM_S)
    sent = car.apply(Command(math.nan, math.nan))
    assert sent == Command(0.0, 0.0)
    assert pins.pin(ESC).pulse_us == pytest.approx(1520.0) and pins.pin(SERVO).pulse_us == pytest.approx(1490.0)


async def test_plant_true_is_a_whole_car_on_fake_pins_in_real_time(tmp_path):
    """`plant: true`: the pulses move a simulated car, its wheels turn the encoder, its sensor hears echoes."""
    floor = Arena(name="floor", width_cm=300, height_cm=300, start={"x_cm": 50, "y_cm": 150, "heading_deg": 0})
    arena_file = tmp_path / "arena.json"
    arena_file.write_text(floor.model_dump_json())
    cfg = CarConfig(car_id="car-r", hardware="gpio", arena_file=str(arena_file), hardware_options={
        "pin_factory": "mock", "plant": True, "distance": {"trigger_pin": 23, "echo_pin": 24},
        "encoder": {"pin": 5, "cm_per_tick": 0.5}})
    car = create_hardware(cfg, floor)
    plant = car.devices["plant"]
    async with armed_in_real_time(cfg, car, floor) as (rt, _):
        assert rt.handle_skill({"request_id": "d1", "action": {"kind": "drive", "distance_cm": 60, "speed_pct": 40}})["ok"]
        await until_answered(rt, 8.0)
        await asyncio.sleep(0.3)
        state = car.read()
    assert rt.results[0].status == "done"
    truth = plant.sim.pose
    assert truth.x_cm - 50 == pytest.approx(60, abs=8) and plant.ticks_sent > 100  # it drove, and the wheels told
    assert abs(state.x_cm - truth.x_cm) <= max(3 * state.pose_uncertainty_cm, 5.0) and state.pose_source == "encoder"
    ahead = 300 - truth.x_cm - 20  # the wall ahead, from the sensor at the nose (half of 40 cm)
    assert state.distance_fault is None and abs(state.distance_cm - ahead) < 40  # an echo (timed by sleeping threads)
    assert not plant._thread.is_alive()  # closing the car stopped the plant


def test_plant_needs_fake_pins():
    with pytest.raises(UnknownHardware, match="plant: true .* needs pin_factory: mock"):
        create_hardware(CarConfig(car_id="c", hardware="gpio", mode="headless",
                                  hardware_options={"pin_factory": "pigpio", "plant": True}), ARENA)
