"""Every safety promise, on each driver's fake (issue 12): gpio (mock pins), pca9685 (a fake chip on a fake
I2C bus; alone, and behind the pin guard as `guard: true` sets it up), serial (the Pico firmware under
CPython, on a pty in real time).

- e-stop -> neutral at the device within one tick, and only neutral after;
- the server goes quiet -> neutral within 300 ms of its last heartbeat (+ one tick of the loop);
- a loop stalled for 1.5 s -> neutral within 150 ms of the last command it applied, nothing stale after;
- for any calibration and any command sequence, no value at the device outside the calibrated range.

Measured on the fake's OWN timestamped record (car_rig.py says what each one records), against
thresholds worked out here: neutral from the calibration, times from the fake's clock
(time.monotonic), the promised deadlines as numbers — never the runtime's own reports. A missed
deadline fails, unless this process itself was not running then (car_rig.FreezeWatch, a 2-core machine
shared with other jobs): that attempt is run again.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from car_rig import (ARENA, KINDS, StallingDrive, armed_in_real_time, on_fake, skip_arming, until_answered,
                     until_measured)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_runtime.clock import ManualClock
from robot_runtime.devices.esc import ARM_S
from robot_runtime.drivers import board_protocol as P
from robot_runtime.hardware import Command
from robot_runtime.skills.registry import register_skill, unregister_skill

pytestmark = [pytest.mark.timeout(30), pytest.mark.parametrize("kind", KINDS)]

CAL = {"throttle": {"neutral_us": 1520, "forward_max_us": 1880, "reverse_max_us": 1160, "forward_deadband_us": 40,
                    "reverse_deadband_us": 30},
       "steering": {"center_us": 1490, "left_us": 1850, "right_us": 1130}}
NEUTRAL_US = CAL["throttle"]["neutral_us"]
TICK_S = 0.02  # the loop's 50 Hz
SETTLE_S = 0.2  # neutral before the first command (the ESC's arming itself is skipped: car_rig.skip_arming)
WATCHDOG_PROMISE_S = 0.300  # no heartbeat for 300 ms -> neutral
DEADMAN_PROMISE_S = 0.150  # no command for 150 ms (a stalled loop) -> neutral
STALL_S = 1.5


def neutral(fake, us: float) -> bool:
    """`us` is the calibrated neutral, to the device's resolution (a PCA9685 count is ~4 µs)."""
    return abs(us - NEUTRAL_US) <= fake.step_us / 2 + 1e-6


def driving(us: float) -> bool:
    return us > NEUTRAL_US + 50  # forward_max_us is above neutral in CAL


@pytest.fixture
def arena_file(tmp_path):
    path = tmp_path / "arena.json"
    path.write_text(ARENA.model_dump_json())
    return path


async def test_estop_is_neutral_at_the_device_within_one_tick(kind, arena_file):
    async def attempt():
        with on_fake(kind, CAL, arena_file=arena_file) as fake:
            skip_arming(fake.car)
            async with armed_in_real_time(fake.config, fake.car, ARENA, settle_s=SETTLE_S) as (rt, _):
                assert rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 5, "speed_pct": 60}})["ok"]
                await asyncio.sleep(0.5)
                t0 = time.monotonic()
                rt.handle_estop({"reason": "teacher"})
                await asyncio.sleep(0.4)
                t_end = time.monotonic()
            rec = fake.throttle()

        def check():
            assert driving([us for t, us in rec if t < t0][-1]), rec[-40:]
            neutral_at = next(t for t, us in rec if t >= t0 and neutral(fake, us))
            assert neutral_at - t0 <= TICK_S, f"neutral {1000 * (neutral_at - t0):.1f} ms after the e-stop"
            held = [us for t, us in rec if t0 + TICK_S < t <= t_end]
            assert len(held) >= 10 and all(neutral(fake, us) for us in held)  # and every tick after, until a reset
        return (t0, t0 + TICK_S), check

    await until_measured(attempt)


async def test_watchdog_is_neutral_within_300ms_of_the_last_heartbeat(kind, arena_file):
    async def attempt():
        with on_fake(kind, CAL, arena_file=arena_file) as fake:
            skip_arming(fake.car)
            async with armed_in_real_time(fake.config, fake.car, ARENA, settle_s=SETTLE_S) as (rt, beats):
                assert rt.handle_skill({"request_id": "r1", "action": {"kind": "drive", "seconds": 10, "speed_pct": 40}})["ok"]
                await asyncio.sleep(0.6)
                await beats.stop()  # the server goes quiet
                last_beat = beats.last
                await asyncio.sleep(0.6)
                t_end = time.monotonic()
            rec = fake.throttle()
        deadline = last_beat + WATCHDOG_PROMISE_S + TICK_S  # the first tick after the deadline

        def check():
            assert driving(max(us for t, us in rec if t <= last_beat)), rec[-60:]
            neutral_at = min(t for t, us in rec if t > last_beat and neutral(fake, us))
            assert neutral_at <= deadline, f"neutral {1000 * (neutral_at - last_beat):.0f} ms after the last heartbeat"
            assert all(neutral(fake, us) for t, us in rec if deadline < t <= t_end)  # and it stays there
        return (last_beat, deadline), check

    await until_measured(attempt)


class _LongStall(StallingDrive):
    name = "stall_1_5s_on_the_fake"
    stall_s = STALL_S


async def test_a_stalled_loop_is_neutral_within_150ms_and_nothing_stale_follows(kind, arena_file):
    async def attempt():
        with on_fake(kind, CAL, arena_file=arena_file) as fake:
            skip_arming(fake.car)
            async with armed_in_real_time(fake.config, fake.car, ARENA, settle_s=SETTLE_S) as (rt, _):
                # the link stays alive (heartbeats on the event loop): only the control loop stalls
                assert rt.handle_skill({"request_id": "s1", "action": {"kind": "skill", "name": _LongStall.name}})["ok"]
                await until_answered(rt, STALL_S + 2.0)
            rec = fake.throttle()
        first_drive = next(i for i, (_, us) in enumerate(rec) if driving(us))
        k = next(i for i in range(first_drive, len(rec)) if neutral(fake, rec[i][1]))  # the first neutral after it
        t_last, last_us = rec[k - 1]  # the last command the loop applied before it stalled

        def check():
            assert driving(last_us)
            assert rec[k][0] - t_last <= DEADMAN_PROMISE_S, f"neutral {1000 * (rec[k][0] - t_last):.0f} ms after the last command"
            assert all(neutral(fake, us) for t, us in rec[k:] if t <= t_last + STALL_S)  # nothing stale reached the ESC
            assert rt.results[0].status == "failed" and rt.results[0].reason == "car_fault"
        return (t_last, t_last + DEADMAN_PROMISE_S), check

    register_skill(_LongStall.name, _LongStall)
    try:
        await until_measured(attempt)
    finally:
        unregister_skill(_LongStall.name)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    neutral_us=st.integers(1300, 1700), fwd=st.integers(150, 500), rev=st.integers(150, 500),
    db=st.integers(0, 100), flip=st.booleans(), center=st.integers(1300, 1700), left=st.integers(100, 500),
    right=st.integers(100, 500), mode=st.sampled_from(["brake_then_reverse", "direct_reverse", "forward_only"]),
    cmds=st.lists(st.tuples(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2)),
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2)),
        st.floats(0, 0.5), st.booleans()), min_size=1, max_size=60),
)
def test_no_value_at_the_device_ever_leaves_the_calibrated_range(kind, neutral_us, fwd, rev, db, flip, center, left,
                                                                 right, mode, cmds):
    sign = -1 if flip else 1  # an ESC wired "backwards": forward below neutral
    f_max, r_max = neutral_us + sign * fwd, neutral_us - sign * rev
    l_end, r_end = center + left, center - right
    cal = {"throttle": {"neutral_us": neutral_us, "forward_max_us": f_max, "reverse_max_us": r_max,
                        "forward_deadband_us": min(db, fwd - 1), "reverse_deadband_us": min(db, rev - 1), "esc_mode": mode},
           "steering": {"center_us": center, "left_us": l_end, "right_us": r_end}}
    clock = ManualClock()
    with on_fake(kind, cal, clock=clock.now) as fake:
        clock.advance(ARM_S)
        for thr, steer, dt, stop in cmds:
            sent = fake.car.stop() if stop else fake.car.apply(Command(thr, steer))
            if sent is not None:
                assert -1.0 <= sent.throttle <= 1.0 and -1.0 <= sent.steering <= 1.0
            clock.advance(dt)
    thr_lo, thr_hi, st_lo, st_hi = min(f_max, r_max), max(f_max, r_max), min(l_end, r_end), max(l_end, r_end)
    tol = fake.step_us / 2 + 1e-6  # a PCA9685 rounds to its nearest count; pins and board are exact
    throttle = [us for _, us in fake.throttle()]
    steering = [us for _, us in fake.steering()]
    if fake.wire is not None:  # the board clamps by itself: the lines the driver sent must be in range too
        cmd_lines = [f for f in fake.wire.sent if f[0] == P.COMMAND]
        assert len(cmd_lines) >= sum(1 for *_, stop in cmds if not stop)
        throttle += [int(f[2]) for f in cmd_lines]
        steering += [int(f[3]) for f in cmd_lines]
    assert throttle and steering
    assert all(us == 0.0 or thr_lo - tol <= us <= thr_hi + tol for us in throttle)  # 0: no pulses (closed)
    assert all(us == 0.0 or st_lo - tol <= us <= st_hi + tol for us in steering)
    if mode == "forward_only":  # never a pulse on the reverse side of neutral
        assert all(us == 0.0 or (us - neutral_us) * sign >= -tol for us in throttle)
