"""PulseCar: the Hardware of every real car driven by two servo pulses (gpio, pca9685, serial board).

    apply(cmd)  ESC (arming, brake-then-reverse) and servo map the fractions to calibrated pulses,
                clamped there; the outputs get both at once; returns what those pulses mean
    read()      pose from the estimator (encoder or speed model, uncertainty, camera fixes), the
                distance sensor's newest value and its fault, without waiting for any device
    stop()      neutral on the outputs from any thread, idempotent, never raises
    advance()   nothing: real time passes by itself

Where the pulses go is the outputs' business (pins, PCA9685 channels, the pin guard, a serial board);
the sensors are optional callables. A stop button latches: every later command is neutral until
``clear_stop_button()``; ``on_stop_button`` (set by the runtime, which latches its e-stop through
``handle_estop``) hears about the press, and the runtime's reset (the teacher's) clears it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from robot_runtime.arena import Arena
from robot_runtime.config import HardLimits
from robot_runtime.devices.esc import Esc
from robot_runtime.devices.pulses import PulseOutputs
from robot_runtime.devices.servo import SteeringServo
from robot_runtime.drivers.options import PulseCalibration
from robot_runtime.hardware import NEUTRAL, CarSpec, CarState, Command
from robot_runtime.pose import PoseEstimator, SpeedModel
from robot_runtime.protocol import Pose

log = logging.getLogger(__name__)

STOP_BUTTON_REASON = "stop button on the car"  # the e-stop's reason the teacher reads
BATTERY_EVERY_S = 2.0  # a battery sags slowly; one ADC read per 2 s keeps read() inside its budget

DistanceSource = Callable[[], tuple[float | None, str | None]]  # (cm or None, fault or None)


class PulseCar:
    def __init__(self, spec: CarSpec, limits: HardLimits, cal: PulseCalibration, outputs: PulseOutputs, *,
                 arena: Arena, clock: Callable[[], float] = time.monotonic, distance: DistanceSource | None = None,
                 ticks: Callable[[], int] | None = None, cm_per_tick: float | None = None, signed_ticks: bool = False,
                 battery: Callable[[], float] | None = None, failsafe_s: float | None = None,
                 closers: tuple[Callable[[], None], ...] = (), devices: dict[str, object] | None = None) -> None:
        self.spec = spec
        self.failsafe_s = failsafe_s
        self.outputs = outputs
        self._clock = clock
        now = clock()
        self.esc = Esc(cal.throttle, started_at=now)
        self.servo = SteeringServo(cal.steering)
        model = SpeedModel(top_speed_cm_s=spec.top_speed_cm_s, response_s=cal.response_s,
                           stop_decel_cm_s2=limits.brake_decel_cm_s2)
        start = arena.start
        self.pose = PoseEstimator(spec, start.x_cm, start.y_cm, start.heading_deg, now, model=model,
                                  cm_per_tick=cm_per_tick if ticks else None, signed_ticks=signed_ticks)
        self._distance = distance
        self._ticks = ticks
        self._battery = battery
        self.battery_v: float | None = None
        self._battery_at = -math.inf
        self._closers = closers
        self.devices = devices or {}  # name -> device object, for `dojo car check`
        self._sent = NEUTRAL
        self.latched = False  # the stop button was pressed
        self.on_stop_button: Callable[[str], Any] | None = None
        self.closed = False
        self.stops = 0
        outputs.neutral()  # the ESC arms on neutral

    # --- Hardware ----------------------------------------------------------------------------------

    def apply(self, cmd: Command) -> Command:
        now = self._clock()
        self._dead_reckon(now)
        if self.latched or self.closed:
            self._sent = NEUTRAL
            self.outputs.neutral()
            return NEUTRAL
        thr_us, thr = self.esc.command(cmd.throttle, now)
        st_us, st = self.servo.command(cmd.steering)
        self.outputs.write(thr_us, st_us)
        self._sent = Command(thr, st)
        return self._sent

    def advance(self, dt: float) -> None:
        """Real time passes by itself."""

    def read(self) -> CarState:
        now = self._clock()
        self._dead_reckon(now)
        cm, fault = self._distance() if self._distance else (None, None)
        if cm is not None and not math.isfinite(cm):
            cm, fault = None, "nan"
        if self._battery is not None and now - self._battery_at >= BATTERY_EVERY_S:
            self._battery_at = now
            self._read_battery()
        p = self.pose
        return CarState(t=now, x_cm=p.x, y_cm=p.y, heading_deg=p.heading_deg, speed_cm_s=p.speed_cm_s,
                        yaw_rate_dps=p.yaw_rate_dps, distance_cm=cm, distance_fault=fault,
                        pose_uncertainty_cm=p.uncertainty_cm, pose_source=p.source(now))

    def stop(self) -> None:
        try:
            self._sent = NEUTRAL
            self.esc.reset()
            self.stops += 1
            self.outputs.neutral()
        except Exception:  # the contract: stop() never raises (the dead-man thread calls it)
            log.exception("stop: the outputs failed to go neutral")

    def close(self) -> None:
        if self.closed:
            return
        self.stop()
        self.closed = True
        for close in (*self._closers, self.outputs.close):
            try:
                close()
            except Exception:
                log.exception("closing a device failed")

    # --- pose --------------------------------------------------------------------------------------

    def _dead_reckon(self, now: float) -> None:
        sent = self._sent
        self.pose.predict(now, sent.throttle, sent.steering, self._ticks() if self._ticks else None)

    def reset_pose(self, pose: Pose) -> None:
        """The car was put on a mark by hand (a lesson's start): dead reckoning starts again from there.
        (Not `load_arena`: that is how a simulator says it can be moved by a message, and a real car's
        own arena must keep bounding its fence.)"""
        self.pose.reset(pose.x_cm, pose.y_cm, pose.heading_deg, self._clock())  # the next encoder count is the origin

    def external_pose(self, x_cm: float, y_cm: float, heading_deg: float | None, t_seen: float, sigma_cm: float) -> bool:
        """An overhead-camera pose (seen at t_seen on this car's clock): fused with the dead reckoning."""
        return self.pose.fuse(x_cm, y_cm, heading_deg, t_seen, sigma_cm)

    # --- devices -----------------------------------------------------------------------------------

    def press_stop_button(self) -> None:
        """The stop button's callback (gpiozero's thread): neutral now, latched."""
        self.latched = True
        self.stop()
        if self.on_stop_button is not None:
            try:
                self.on_stop_button(STOP_BUTTON_REASON)
            except Exception:
                log.exception("on_stop_button failed")

    def clear_stop_button(self) -> None:
        self.latched = False

    def stop_button_held(self) -> bool:
        button = self.devices.get("stop_button")
        return bool(button is not None and button.is_pressed)

    def _read_battery(self) -> None:
        try:
            self.battery_v = float(self._battery())
        except Exception:
            self.battery_v = None
