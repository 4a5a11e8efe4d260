"""`dojo car calibrate CONFIG`: a walk through the car's calibration, written back into CONFIG.

1. Wheels off the ground (the car on a box): steering centre (trim), then its left and right ends
   (where the wheels stop turning: the servo must never push against the end stops); then the
   throttle dead band both ways, and the direction ("did the wheels turn forward?": if not, the
   forward and reverse sides are swapped — the fix for a car that drives backwards).
2. On the floor, with the encoder (or the distance sensor facing a wall 3 m ahead): a run at each of
   two throttles, cut to neutral, until the car stands still. The steady speeds give the speed model
   (spec.top_speed_cm_s, response_s); the two stops give the braking model the fence plans with
   (limits.brake_decel_cm_s2, limits.reaction_s; calibration.py). Without either sensor the floor step
   is skipped and the defaults stay (check says so).

The pulses keep flowing at the control rate the whole time (the ESC, the pin guard and the board all
go neutral without them). The person is an `Io`: a console here, a scripted person in the tests.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from robot_runtime.calibration import CalibrationError, analyse_stop, fit_braking, fit_top_speed, response_time
from robot_runtime.config import ConfigError, load_car_config, read_config_data, write_config
from robot_runtime.devices.esc import ARM_S, BRAKE_TAP_S, NEUTRAL_GAP_S
from robot_runtime.devices.pulses import PULSE_CEIL_US, PULSE_FLOOR_US
from robot_runtime.hardware import Command

TICK_S = 0.02  # pulses go out at the control loop's 50 Hz while a person decides
NUDGE_US, BIG_NUDGE_US = 10, 50  # `l`/`r` and `L`/`R`: a small and a big step of the steering servo
RAMP_STEP_US, RAMP_STEP_S = 5, 0.2  # the dead-band ramp: 25 µs per second, slow enough to press Enter in time
RAMP_MAX_US = 250  # an ESC that has not moved 250 µs from neutral is not connected (or not armed)
RUN_CM = 150.0  # each floor run drives this far before the cut (reaching a steady speed at 60%)
CUT_CM = 120.0  # with the distance sensor: cut when the wall is this close
RUN_TIMEOUT_S = 6.0  # a run that has not got there by then is stuck
STILL_CM, STILL_S = 0.5, 0.5  # standing still: moved less than 0.5 cm in 0.5 s
STOP_TIMEOUT_S = 5.0


class Io(Protocol):
    def say(self, text: str) -> None: ...
    def poll_line(self) -> str | None:
        """A line the person typed since the last call (without its newline), or None; never waits."""


class ConsoleIo:
    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            self._lines.put(line.rstrip("\n"))

    def say(self, text: str) -> None:
        print(text, flush=True)

    def poll_line(self) -> str | None:
        try:
            return self._lines.get_nowait()
        except queue.Empty:
            return None


class Calibrator:
    def __init__(self, car, io: Io, now: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.car, self.io, self.now, self.sleep = car, io, now, sleep

    # --- pulses while a person decides ---------------------------------------------------------------

    def hold(self, thr_us: float, st_us: float, seconds: float | None = None, *, listen: bool = True) -> str | None:
        """Send these pulses every tick until the person types a line (returned) or `seconds` pass.
        listen=False: the person's keys are not read (they stay for the next step)."""
        end = None if seconds is None else self.now() + seconds
        while end is None or self.now() < end:
            self.car.outputs.write(thr_us, st_us)
            line = self.io.poll_line() if listen else None
            if line is not None:
                return line
            self.sleep(TICK_S)
        return None

    def wait_enter(self, text: str, thr_us: float, st_us: float) -> str:
        self.io.say(text)
        return self.hold(thr_us, st_us) or ""

    # --- 1. wheels off the ground --------------------------------------------------------------------

    def steering_point(self, text: str, start: float, neutral: float) -> float:
        self.io.say(text + "  (l / r nudge 10 µs, L / R 50 µs; Enter when right)")
        us = start
        while True:
            line = (self.hold(neutral, us) or "").strip()
            if not line:
                return us
            step = {"l": NUDGE_US, "r": -NUDGE_US, "L": BIG_NUDGE_US, "R": -BIG_NUDGE_US}.get(line[0], 0)
            # which way is left depends on the servo: `l` moves toward the current left end
            us = min(PULSE_CEIL_US, max(PULSE_FLOOR_US, us + step * self._left_sign))

    def steering(self, cal: dict) -> dict:
        neutral = cal["throttle"]["neutral_us"]
        s = cal["steering"]
        self._left_sign = 1 if s["left_us"] > s["center_us"] else -1
        center = self.steering_point("Steering centre: nudge until the front wheels point straight ahead.",
                                     s["center_us"], neutral)
        left = self.steering_point("Left end: nudge left until the wheels stop turning, then one step back.",
                                   center + self._left_sign * 300, neutral)
        right = self.steering_point("Right end: nudge right until the wheels stop turning, then one step back.",
                                    center - self._left_sign * 300, neutral)
        self.hold(neutral, center, 0.2)
        return {"center_us": round(center), "left_us": round(left), "right_us": round(right)}

    def ramp(self, neutral: float, sign: int, center: float) -> int | None:
        """Ramp away from neutral until the person presses Enter; the dead band in µs (None: never pressed)."""
        for k in range(1, RAMP_MAX_US // RAMP_STEP_US + 1):
            if self.hold(neutral + sign * k * RAMP_STEP_US, center, RAMP_STEP_S) is not None:
                self.hold(neutral, center, 0.5)
                return max(0, (k - 1) * RAMP_STEP_US)  # the step before: a human presses a little late
        self.hold(neutral, center, 0.5)
        return None

    def throttle(self, cal: dict, center: float) -> dict:
        t = dict(cal["throttle"])
        n = t["neutral_us"]
        self.io.say(f"Throttle: the ESC arms on neutral ({ARM_S:g} s, it may beep).")
        self.hold(n, center, ARM_S)
        fwd_sign = 1 if t["forward_max_us"] > n else -1
        self.io.say("Wheels still off the ground! The throttle creeps up: press Enter as soon as the wheels turn.")
        db = self.ramp(n, fwd_sign, center)
        if db is None:
            raise CalibrationError("the wheels never turned: is the ESC switched on, armed (beeped) and its signal "
                                   "wire on the right pin?")
        answer = self.wait_enter("Did the wheels turn FORWARD (the way the car drives forward)? y / n", n, center)
        if answer.strip().lower().startswith("n"):
            fwd_sign = -fwd_sign
            t["forward_max_us"], t["reverse_max_us"] = (min(PULSE_CEIL_US, max(PULSE_FLOOR_US, 2 * n - v))
                                                         for v in (t["forward_max_us"], t["reverse_max_us"]))
            self.io.say("Swapped: forward and reverse pulses are exchanged (the car drove backwards).")
        t["forward_deadband_us"] = db
        if t.get("esc_mode", "brake_then_reverse") != "forward_only":
            self.hold(n - fwd_sign * 100, center, BRAKE_TAP_S, listen=False)  # a car ESC brakes first,
            self.hold(n, center, NEUTRAL_GAP_S + 1.0, listen=False)  # reverses after neutral (and the wheels stop)
            self.io.say("Now reverse: press Enter as soon as the wheels turn backwards.")
            rdb = self.ramp(n, -fwd_sign, center)
            t["reverse_deadband_us"] = rdb if rdb is not None else 0
            if rdb is None:
                self.io.say("The wheels never turned backwards: this ESC has no reverse (esc_mode: forward_only).")
                t["esc_mode"] = "forward_only"
        return t

    # --- 2. on the floor -----------------------------------------------------------------------------

    def position(self, d0: float | None) -> float | None:
        state = self.car.read()
        if self.car.pose.uses_encoder:
            return self.car.pose.odometer_cm
        if d0 is not None and state.distance_cm is not None:
            return d0 - state.distance_cm
        return None

    def floor_run(self, throttle: float) -> tuple[list[tuple[float, float]], float]:
        use_sensor = not self.car.pose.uses_encoder
        d0 = self.car.read().distance_cm if use_sensor else None
        if use_sensor and d0 is None:
            raise CalibrationError("the distance sensor sees no wall: face the car at a wall 2-3 m away")
        start, series = self.now(), []
        base = self.position(d0) or 0.0
        while True:
            self.car.apply(Command(throttle, 0.0))
            pos = self.position(d0)
            if pos is not None:
                series.append((self.now() - start, pos - base))
            done = series and (series[-1][1] >= RUN_CM if not use_sensor else (d0 - series[-1][1] - base) <= CUT_CM)
            if done:
                break
            if self.now() - start > RUN_TIMEOUT_S:
                raise CalibrationError(f"the car did not get {RUN_CM:g} cm in {RUN_TIMEOUT_S:g} s at {throttle:.0%}")
            self.sleep(TICK_S)
        cut = self.now() - start
        still_since, last = self.now(), series[-1][1]
        while self.now() - still_since < STILL_S and self.now() - start - cut < STOP_TIMEOUT_S:
            self.sleep(TICK_S)
            self.car.apply(Command(0.0, 0.0))
            pos = self.position(d0)
            if pos is not None:
                series.append((self.now() - start, pos - base))
                if abs(series[-1][1] - last) > STILL_CM:
                    still_since, last = self.now(), series[-1][1]
        return series, cut

    def floor(self, speeds: list[float], rate_hz: float) -> dict[str, float]:
        if not self.car.pose.uses_encoder and "distance" not in self.car.devices:
            self.io.say("No encoder and no distance sensor: the speed and braking stay at their defaults.")
            return {}
        self.io.say(f"The ESC arms on neutral ({ARM_S:g} s).")
        end = self.now() + ARM_S + TICK_S
        while self.now() < end:
            self.car.apply(Command(0.0, 0.0))
            self.sleep(TICK_S)
        runs, points, responses = [], [], []
        for pct in speeds:
            self.wait_enter(f"On the floor, {RUN_CM + 100:g} cm free ahead (or facing a wall 3 m away). Run at "
                            f"{pct:g}%: press Enter, stand clear.", self.car.esc.cal.neutral_us, self.car.servo.center_us)
            series, cut = self.floor_run(pct / 100.0)
            stop = analyse_stop(series, cut)
            runs.append(stop)
            points.append((pct / 100.0, stop.speed_cm_s))
            responses.append(response_time(series, 0.0, stop.speed_cm_s))
            self.io.say(f"  {pct:g}%: {stop.speed_cm_s:.0f} cm/s, stopped in {stop.stop_cm:.1f} cm")
        braking = fit_braking(runs, rate_hz)
        top = fit_top_speed(points)
        good = [r for r in responses if r == r]
        return {"top_speed_cm_s": round(top, 1), "response_s": round(sum(good) / len(good), 3) if good else 0.25,
                "brake_decel_cm_s2": round(braking.brake_decel_cm_s2, 1), "reaction_s": round(braking.reaction_s, 3),
                "fit_error_cm": round(braking.worst_error_cm, 1)}


def calibrate(config_path: Path, io: Io, *, speeds: list[float], make_car: Callable[[Any], Any],
              now: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Run the whole walk through and write the results into the config file; returns what was written."""
    data = read_config_data(config_path)
    config = load_car_config(config_path)
    opts = dict(config.hardware_options)
    cal = {"throttle": dict(opts.get("throttle", {"neutral_us": 1500, "forward_max_us": 2000, "reverse_max_us": 1000})),
           "steering": dict(opts.get("steering", {"center_us": 1500, "left_us": 1900, "right_us": 1100}))}
    car = make_car(config)
    try:
        io.say("Step 1 of 2: put the car on a box, wheels off the ground.")
        c = Calibrator(car, io, now, sleep)
        cal["steering"] = c.steering(cal)
        cal["throttle"] = c.throttle(cal, cal["steering"]["center_us"])
    finally:
        car.close()
    data["hardware_options"] = {**data.get("hardware_options", {}), **cal}
    write_config(config_path, data)  # the pulses are kept even if the floor step fails
    car = make_car(load_car_config(config_path))
    try:
        io.say("Step 2 of 2: speed and braking.")
        floor = Calibrator(car, io, now, sleep).floor(speeds, config.rate_hz)
    finally:
        car.close()
    if floor:
        data["hardware_options"]["response_s"] = floor["response_s"]
        data["spec"] = {**data.get("spec", {}), "top_speed_cm_s": floor["top_speed_cm_s"]}
        data["limits"] = {**data.get("limits", {}), "brake_decel_cm_s2": floor["brake_decel_cm_s2"],
                          "reaction_s": floor["reaction_s"]}
        write_config(config_path, data)
        io.say(f"Braking model: {floor['brake_decel_cm_s2']:g} cm/s² after {floor['reaction_s']:g} s "
               f"(fits the stops within {floor['fit_error_cm']:g} cm); top speed {floor['top_speed_cm_s']:g} cm/s.")
    io.say(f"Saved in {config_path}.")
    return {**cal, **floor}


def cmd_calibrate(args: argparse.Namespace) -> int:
    from robot_runtime.arena import DEFAULT_ARENA
    from robot_runtime.drivers import HardwareUnavailable, UnknownHardware, create_hardware

    try:
        speeds = [float(s) for s in args.speeds.split(",")]
        calibrate(Path(args.config), ConsoleIo(), speeds=speeds,
                  make_car=lambda cfg: create_hardware(cfg, DEFAULT_ARENA))
    except (ConfigError, UnknownHardware, HardwareUnavailable, CalibrationError, OSError, ValueError) as exc:
        print(f"dojo car calibrate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dojo car calibrate: stopped (the car is neutral; nothing was saved from this step)", file=sys.stderr)
        return 1
    return 0
