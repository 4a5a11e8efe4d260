"""The seam between the control loop and a car: the simulator, gpiozero pins or a serial board.

Each implementation is one module (``sim/``, later ``gpio.py`` and ``serial_board.py``). The control
loop talks only to :class:`Hardware`; the safety supervisor sits between every skill and ``apply``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from robot_runtime.protocol import CollisionEvent


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
    slip_deg: float = 0.0  # angle between heading and velocity
    distance_cm: float | None = None  # forward sensor; None: nothing in range
    collisions: tuple[CollisionEvent, ...] = field(default=())  # new since the previous read


class Hardware(Protocol):
    spec: CarSpec

    def apply(self, cmd: Command) -> Command:
        """Send a command; returns what was actually sent (clamped at the lowest layer)."""

    def advance(self, dt: float) -> None:
        """Let dt seconds pass: the simulator integrates physics; real hardware does nothing."""

    def read(self) -> CarState:
        """Current state and sensors."""

    def stop(self) -> None:
        """Neutral throttle and straight wheels at once, bypassing everything (shutdown, fault)."""

    def close(self) -> None:
        """Release pins, ports and files."""
