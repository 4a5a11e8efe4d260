"""The seam between the control loop and a car: the simulator, gpiozero pins or a serial board.

Each implementation is one module (``sim/``, ``drivers/``). The control loop talks only to
:class:`Hardware`; the safety supervisor sits between every skill and ``apply``, and the dead-man
(deadman.py) sits below the loop, able to call ``stop`` from its own thread.

The contract every driver keeps (tests/runtime check the simulator against it; drivers test theirs):

- **Time bound.** ``apply``, ``read`` and ``stop`` each return within ``HARDWARE_CALL_BUDGET_S``. A
  driver that talks to a slow bus keeps the slow part in its own thread (gpiozero's DistanceSensor
  already does) and returns the newest value it has. The loop measures every call and reports
  overruns; a call that hangs is caught by the dead-man, which forces neutral through ``stop``.
- **stop() from anywhere.** ``stop`` may be called from any thread at any time (the dead-man thread,
  the e-stop handler, shutdown), any number of times; it is idempotent, never raises, and never
  waits on a lock the control loop may hold for longer than the budget. It sets neutral throttle and
  straight wheels on the device itself, bypassing every layer above.
- **apply() returns what was sent**, clamped at the lowest layer; NaN never reaches a motor.
- **failsafe_s**: the device's own failsafe timeout (an ESC's neutral on signal loss, a motor
  board's command timeout), or None when it has none. The runtime reports it; a car without one relies
  on the dead-man alone (docs/car-runtime.md, layer 3).
- **Sensor faults are data, not exceptions.** ``read`` never raises for a sensor that timed out or
  read garbage: it sets ``CarState.distance_fault`` (a short machine word: "timeout", "nan",
  "stuck", "disconnected") and leaves ``distance_cm`` None. ``distance_cm`` None with no fault means
  "nothing in range". The supervisor treats a fault (or a non-finite distance) as "I cannot see":
  speed is capped to a crawl and the kid is told why.
- **Pose quality.** ``pose_uncertainty_cm`` is how far the true position may be from (x_cm, y_cm)
  (dead reckoning grows it, an overhead-camera fix shrinks it); the fence adds it to its margins. A
  non-finite pose or speed is a bad sample: the loop drops it, counts it, and stops the car only after
  a run of them (loop.py, BAD_STATE_RUN).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from robot_runtime.protocol import CollisionEvent

# Each driver call (apply, read, stop) returns within this: a quarter of a 50 Hz tick, so read + skill +
# supervisor + apply still fit in one tick. An I2C write to a PCA9685 or one serial line at 115200 baud
# takes about 1 ms; anything slower belongs in the driver's own thread.
HARDWARE_CALL_BUDGET_S = 0.005


@dataclass(frozen=True)
class Command:
    """One actuator command.

    throttle: target speed as a fraction of the car's top speed, -1 (full reverse) .. 1 (full forward);
              RC ESCs with speed control behave this way, and so does the simulator's drive model.
    steering: fraction of the maximum steering angle, -1 (full right) .. 1 (full left).
    """

    throttle: float = 0.0
    steering: float = 0.0

    def clamped(self) -> "Command":
        return Command(max(-1.0, min(1.0, self.throttle)), max(-1.0, min(1.0, self.steering)))


NEUTRAL = Command(0.0, 0.0)


@dataclass(frozen=True)
class CarSpec:
    """Physical facts about a car model (defaults: a 1/10-scale RC car)."""

    name: str = "rc-1/10"
    wheelbase_cm: float = 26.0
    length_cm: float = 40.0
    width_cm: float = 20.0
    top_speed_cm_s: float = 300.0  # 3 m/s: a brushed 1/10 car on a 2S battery, geared for indoors
    max_steer_deg: float = 27.0  # gives a kinematic turning radius of 26 / tan(27 deg) = 51 cm
    sensor_range_cm: float = 200.0  # forward distance sensor (ultrasonic/ToF) range


@dataclass(frozen=True)
class CarState:
    """What the car knows about itself at one instant (simulator truth or sensor estimate)."""

    t: float
    x_cm: float
    y_cm: float
    heading_deg: float
    speed_cm_s: float = 0.0  # along the heading, signed
    lateral_cm_s: float = 0.0  # sideways, + to the left
    yaw_rate_dps: float = 0.0
    slip_deg: float = 0.0  # angle between heading and the rear axle's velocity (+: sliding to the left)
    distance_cm: float | None = None  # forward sensor; None: nothing in range (or a fault, see below)
    collisions: tuple[CollisionEvent, ...] = field(default=())  # new since the previous read
    distance_fault: str | None = None  # forward sensor fault ("timeout", "nan", ...); None: it works
    pose_uncertainty_cm: float = 0.0  # how far the true position may be from (x_cm, y_cm)
    pose_source: str = "sim"  # where the pose came from: sim, camera, encoder, speed_model


class Hardware(Protocol):
    spec: CarSpec
    failsafe_s: float | None  # the device's own failsafe timeout; None: it has none (optional attribute)

    def apply(self, cmd: Command) -> Command:
        """Send a command; returns what was actually sent (clamped at the lowest layer)."""

    def advance(self, dt: float) -> None:
        """Let dt seconds pass: a headless simulator integrates physics; real hardware does nothing."""

    def read(self) -> CarState:
        """Current state and sensors (faults as data: distance_fault, never an exception)."""

    def stop(self) -> None:
        """Neutral throttle and straight wheels at once, bypassing everything. Any thread, any time,
        idempotent, never raises, returns within HARDWARE_CALL_BUDGET_S."""

    def close(self) -> None:
        """Release pins, ports and files."""


def failsafe_of(hardware: object) -> float | None:
    """The hardware's own failsafe timeout (the attribute is optional for drivers)."""
    value = getattr(hardware, "failsafe_s", None)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None
