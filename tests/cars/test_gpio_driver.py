"""The gpio driver on fake pins (gpiozero MockFactory with recording PWM pins): what the pins see.

Expected pulse widths are worked out by hand in the tests from the calibration numbers, never with
the driver's own maps.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockTriggerPin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_runtime.arena import Arena
from robot_runtime.clock import ManualClock, MonotonicClock
from robot_runtime.config import CarConfig
from robot_runtime.devices.esc import ARM_S, BRAKE_TAP_S, NEUTRAL_GAP_S
from robot_runtime.devices.ultrasonic import STALE_S, UltrasonicSensor
from robot_runtime.drivers import UnknownHardware, create_hardware, gpio
from robot_runtime.drivers.fake_pins import mock_factory
from robot_runtime.drivers.fake_plant import PinPlant
from robot_runtime.hardware import Command
from robot_runtime.runtime import CarRuntime
from robot_runtime.skills.base import Skill, SkillStep
from robot_runtime.skills.registry import register_skill, unregister_skill

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


async def test_watchdog_neutral_within_300ms_of_the_last_heartbeat_on_the_pins_own_clock(tmp_path):
    pins = mock_factory()
    arena_file = tmp_path / "arena.yaml"
    arena_file.write_text(ARENA.model_dump_json())
    cfg = CarConfig(car_id="car-w", hardware="gpio", arena_file=str(arena_file),
                    hardware_options={"pin_factory": "mock", **CAL})
    car = gpio.create(cfg, ARENA, pin_factory=pins)
    rt = CarRuntime(cfg, car, MonotonicClock(), arena=ARENA)
    beats = {"on": True, "last": 0.0}

    async def heartbeats():
        while beats["on"]:
            rt.handle_heartbeat({"seq": 1})
            beats["last"] = time.monotonic()
            await asyncio.sleep(0.1)

    hb = asyncio.create_task(heartbeats())
    loop_task = asyncio.create_task(rt.loop.run_realtime())
    await asyncio.sleep(ARM_S + 0.2)
    assert rt.handle_limits({"max_speed_pct": 60})["ok"]  # a car driven by a server waits for its limits
    rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 10, "speed_pct": 40}})
    await asyncio.sleep(0.8)
    beats["on"] = False
    await hb
    await asyncio.sleep(0.6)
    rt.loop.stop()
    await loop_task
    car.close()
    esc = pins.pin(ESC).pulses_us()
    assert max(us for t, us in esc if t <= beats["last"]) > 1600  # it was driving
    neutral_at = min(t for t, us in esc if t > beats["last"] and us == pytest.approx(1520.0))
    # WATCHDOG_S (0.3 s) plus one late tick of slack on a busy machine
    assert neutral_at - beats["last"] <= 0.3 + TICK_S + 0.03


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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    neutral=st.integers(1300, 1700), fwd=st.integers(150, 500), rev=st.integers(150, 500),
    db=st.integers(0, 100), flip=st.booleans(), center=st.integers(1300, 1700), left=st.integers(100, 500),
    right=st.integers(100, 500), mode=st.sampled_from(["brake_then_reverse", "direct_reverse", "forward_only"]),
    cmds=st.lists(st.tuples(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2)),
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2)),
        st.floats(0, 0.5), st.booleans()), min_size=1, max_size=60),
)
def test_no_pulse_ever_leaves_the_calibrated_range(neutral, fwd, rev, db, flip, center, left, right, mode, cmds):
    sign = -1 if flip else 1
    f_max, r_max = neutral + sign * fwd, neutral - sign * rev
    l_end, r_end = center + left, center - right
    cal = {"throttle": {"neutral_us": neutral, "forward_max_us": f_max, "reverse_max_us": r_max,
                        "forward_deadband_us": min(db, fwd - 1), "reverse_deadband_us": min(db, rev - 1), "esc_mode": mode},
           "steering": {"center_us": center, "left_us": l_end, "right_us": r_end}}
    clock = ManualClock()
    pins = mock_factory()
    car = gpio.create(CarConfig(car_id="c", hardware="gpio", mode="headless", hardware_options={"pin_factory": "mock", **cal}), ARENA,
                      pin_factory=pins, clock=clock.now)
    clock.advance(ARM_S)
    for thr, steer, dt, stop in cmds:
        sent = car.stop() if stop else car.apply(Command(thr, steer))
        if sent is not None:
            assert -1.0 <= sent.throttle <= 1.0 and -1.0 <= sent.steering <= 1.0
        clock.advance(dt)
    thr_lo, thr_hi = min(f_max, r_max), max(f_max, r_max)
    for _, us in pins.pin(ESC).pulses_us():
        assert us == 0.0 or thr_lo - 1e-6 <= us <= thr_hi + 1e-6
    for _, us in pins.pin(SERVO).pulses_us():
        assert us == 0.0 or min(l_end, r_end) - 1e-6 <= us <= max(l_end, r_end) + 1e-6
    if mode == "forward_only":  # never a pulse on the reverse side of neutral
        assert all(us == 0.0 or (us - neutral) * sign >= -1e-6 for _, us in pins.pin(ESC).pulses_us())
    car.close()


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


STALL_S = 1.0  # a skill step that blocks the loop this long (a slow model, a full SD card)
DEADMAN_NEUTRAL_S = 0.150  # the promise: neutral on the pins within 150 ms of the last command


class _StallingDrive(Skill):
    """Drives at 50 % for 0.6 s, then one step blocks the loop for STALL_S."""

    name = "stall_on_pins"

    def start(self, state) -> None:
        self.t0, self.stalled = state.t, False

    def step(self, state, dt: float) -> SkillStep:
        if not self.stalled and state.t - self.t0 >= 0.6:
            self.stalled = True
            time.sleep(STALL_S)
        return SkillStep(command=Command(0.5, 0.0))


@contextlib.asynccontextmanager
async def armed_in_real_time(cfg: CarConfig, car, arena: Arena):
    """The car's runtime in real time with its link's heartbeats (never the thing under test), the ESC
    armed and the session limits in; yields the runtime, stops everything and closes the car after."""
    rt = CarRuntime(cfg, car, MonotonicClock(), arena=arena)
    beating = True

    async def heartbeats():
        while beating:
            rt.handle_heartbeat({"seq": 1})
            await asyncio.sleep(0.1)

    hb = asyncio.create_task(heartbeats())
    loop_task = asyncio.create_task(rt.loop.run_realtime())
    try:
        await asyncio.sleep(ARM_S + 0.2)
        assert rt.handle_limits({"max_speed_pct": 100})["ok"]
        yield rt
    finally:
        beating = False
        rt.loop.stop()
        await loop_task
        await hb
        car.close()


async def until_answered(rt: CarRuntime, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not rt.results and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def test_a_stalled_loop_gets_a_neutral_pulse_within_150ms_on_the_pins_own_clock(tmp_path):
    register_skill(_StallingDrive.name, _StallingDrive)
    pins = mock_factory()
    arena_file = tmp_path / "arena.json"
    arena_file.write_text(ARENA.model_dump_json())
    cfg = CarConfig(car_id="car-d", hardware="gpio", arena_file=str(arena_file), hardware_options={"pin_factory": "mock", **CAL})
    car = gpio.create(cfg, ARENA, pin_factory=pins)
    try:
        async with armed_in_real_time(cfg, car, ARENA) as rt:  # the link stays alive: only the loop stalls
            assert rt.handle_skill({"request_id": "s1", "action": {"kind": "skill", "name": _StallingDrive.name}})["ok"]
            await until_answered(rt, 5.0)
    finally:
        unregister_skill(_StallingDrive.name)
    esc = pins.pin(ESC).pulses_us()
    first_drive = next(i for i, (_, us) in enumerate(esc) if us > 1600)
    k = next(i for i in range(first_drive, len(esc)) if esc[i][1] == pytest.approx(1520.0))  # the first neutral after it
    t_last = esc[k - 1][0]  # the last command the loop applied before it stalled
    assert esc[k - 1][1] > 1600
    assert esc[k][0] - t_last <= DEADMAN_NEUTRAL_S, f"neutral {1000 * (esc[k][0] - t_last):.0f} ms after the last command"
    stall_end = t_last + STALL_S
    assert all(us == pytest.approx(1520.0) for t, us in esc[k:] if t <= stall_end)  # nothing stale reached the ESC
    assert rt.results[0].status == "failed" and rt.results[0].reason == "car_fault"


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
    async with armed_in_real_time(cfg, car, floor) as rt:
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
