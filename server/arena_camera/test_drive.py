"""The wizard's test drive: a 50 cm straight line and a 90 degree left turn, measured by the camera.

The car drives through the classroom like any kid's block (its supervisor, the lowest level's
limits). The camera's poses during each move say what the car really did:

- the straight: how far it went along its start heading, how far it drifted sideways and how much its
  heading turned. A heading change over a straight line is a steering bias: curvature k = dpsi / L,
  the front wheels' bias atan(k * wheelbase), and the **steering trim** that cancels it is that angle
  as a fraction of the car's full steering (the car config's servo centre moves by it);
- the **speed model**: the speed while moving at the commanded speed_pct gives top_speed_cm_s
  (v = top_speed * throttle, calibration.py's model);
- the turn: the heading change the camera saw against the 90 degrees asked for.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from robot_runtime.hardware import CarSpec

STRAIGHT_CM = 50.0
TURN_DEG = 90.0
SPEED_PCT = 30.0
MOVING_CM = 1.0  # a pose this far from the first one: the car has started to move
GREEN_DRIFT_CM, AMBER_DRIFT_CM = 3.0, 8.0  # sideways drift over 50 cm: fine / worth a trim / fix the steering
GREEN_TURN_DEG, AMBER_TURN_DEG = 8.0, 20.0
MIN_SAMPLES = 2  # the car's pose before and after each move: enough for distance, drift and the turn
MIN_SPEED_SAMPLES = 5  # pictures of the car while it moves: fewer (a camera under ~8 fps) make the speed a guess


class DriveError(ValueError):
    """The camera did not see enough of the move to measure it; the message says what to do."""


@dataclass(frozen=True)
class Sample:
    t: float
    x_cm: float
    y_cm: float
    heading_deg: float


@dataclass(frozen=True)
class DriveReport:
    distance_cm: float  # along the start heading
    drift_cm: float  # sideways, + to the left
    heading_change_deg: float  # during the straight, + to the left
    speed_cm_s: float  # while moving on the straight
    top_speed_cm_s: float  # the speed model: speed / (SPEED_PCT / 100)
    steering_trim: float  # fraction of full steering to add to the centre (+ left) so the car goes straight
    turn_deg: float  # what the 90 degree turn really turned
    light: str  # green / amber / red: how straight the car drives
    speed_samples: int = 0  # pictures of the car moving on the straight
    speed_measured: bool = False  # enough of them to trust the speed model


    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def words(self) -> str:
        side = "left" if self.drift_cm > 0 else "right"
        straight = (f"On the 50 cm line it went {self.distance_cm:.0f} cm and drifted {abs(self.drift_cm):.1f} cm "
                    f"to the {side}.")
        turn = f" The 90 degree turn turned {self.turn_deg:.0f} degrees."
        slow = "" if self.speed_measured else (" The camera sent too few pictures to measure the speed well: "
                                               "the speed model is a rough guess (the trim is fine).")
        return straight + turn + slow


def _wrap(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


def _moving(samples: list[Sample]) -> list[Sample]:
    """The samples from just before the car started to just after it stopped (standing still is not speed)."""
    first, last = samples[0], samples[-1]
    moved = [i for i, s in enumerate(samples) if math.hypot(s.x_cm - first.x_cm, s.y_cm - first.y_cm) > MOVING_CM]
    if not moved:
        return []
    arrived = [i for i, s in enumerate(samples) if math.hypot(s.x_cm - last.x_cm, s.y_cm - last.y_cm) <= MOVING_CM]
    end = next((i for i in arrived if i > moved[0]), len(samples) - 1)
    return samples[max(0, moved[0] - 1):end + 1]


def analyse(straight: list[Sample], turn: list[Sample], spec: CarSpec = CarSpec(),
            speed_pct: float = SPEED_PCT) -> DriveReport:
    """The report from the camera's samples of the straight and of the turn (each in time order)."""
    if len(straight) < MIN_SAMPLES or len(turn) < MIN_SAMPLES:
        raise DriveError("The camera saw the car only now and then during the test drive. Keep the car's roof "
                             "marker uncovered and inside the picture, then drive again.")
    a, b = straight[0], straight[-1]
    h = math.radians(a.heading_deg)
    dx, dy = b.x_cm - a.x_cm, b.y_cm - a.y_cm
    along = dx * math.cos(h) + dy * math.sin(h)
    across = -dx * math.sin(h) + dy * math.cos(h)
    if along < STRAIGHT_CM / 4:
        raise DriveError(f"The car moved only {max(along, 0):.0f} cm of the 50 cm line. Check it has room in "
                             "front of it and its battery is charged, then drive again.")
    dpsi = _wrap(b.heading_deg - a.heading_deg)
    curvature = math.radians(dpsi) / along  # rad per cm
    bias_deg = math.degrees(math.atan(curvature * spec.wheelbase_cm))
    trim = max(-0.5, min(0.5, -bias_deg / spec.max_steer_deg))
    moving = _moving(straight)
    if len(moving) >= 2:
        path = sum(math.hypot(q.x_cm - p.x_cm, q.y_cm - p.y_cm) for p, q in zip(moving, moving[1:]))
        speed = path / max(moving[-1].t - moving[0].t, 1e-3)
    else:
        speed = 0.0
    turned = sum(_wrap(q.heading_deg - p.heading_deg) for p, q in zip(turn, turn[1:]))
    drift = abs(across)
    light = ("green" if drift <= GREEN_DRIFT_CM and abs(turned - TURN_DEG) <= GREEN_TURN_DEG else
             "amber" if drift <= AMBER_DRIFT_CM and abs(turned - TURN_DEG) <= AMBER_TURN_DEG else "red")
    return DriveReport(distance_cm=along, drift_cm=across, heading_change_deg=dpsi, speed_cm_s=speed,
                           top_speed_cm_s=speed / (speed_pct / 100.0), steering_trim=trim, turn_deg=turned, light=light,
                           speed_samples=len(moving), speed_measured=len(moving) >= MIN_SPEED_SAMPLES)
