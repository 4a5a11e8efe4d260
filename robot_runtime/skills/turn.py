"""`turn`: change heading by driving an arc at the car's smallest turning radius (left is positive).

Full lock towards the turn, speed from the heading still to go; an overshoot is corrected by backing
up with the same lock (reversing on the same arc turns the car back). Any angle works, 360 and more.
When the supervisor holds the car (a wall ahead), it backs up with the opposite lock instead, which
turns it the same way: in a tight spot the turn becomes a three-point turn.
"""

from __future__ import annotations

import math

from robot_runtime.hardware import CarState
from robot_runtime.skills.base import SkillContext, SkillStep
from robot_runtime.skills.scripted import (
    BLOCKED_MIN_CMD_CM_S,
    ESC_LEAD_S,
    STOPPED_CM_S,
    ScriptedSkill,
    braking_speed,
)

TURN_TOLERANCE_DEG = 1.5  # stop when this close (the promise is +-5 deg)
TURN_SPEED_CAP_CM_S = 140.0  # at full lock (51 cm radius) faster than ~1.5 m/s would slide the tyres: turns stay clean
TURN_ACCEL_CM_S2 = 100.0  # braking along the arc
TURN_CREEP_CM_S = 10.0
TURN_LOCK = 1.0  # full lock: the smallest circle
EXTRA_TIME_S = 8.0  # starting, braking, a correction, and a few gear changes in a tight spot
STALL_S = 0.6  # told to move but held still this long: change gear (well before the 2 s "blocked" verdicts)
STALL_SPEED_FRACTION = 0.2
MAX_GEAR_CHANGES = 8  # a three-point turn needs 2; after 8 the spot is too tight and "blocked" ends it
COMPACT_LEG_CM = 25.0  # compact turns: each leg turns the car ~28 deg and moves it ~6 cm sideways, alternately
COMPACT_SPEED_CAP_CM_S = 60.0
COMPACT_LEG_OVERHEAD_S = 1.0  # stopping and starting again per leg


TIGHT_TURN = "tight_turn"  # the done result's note: the turn needed backing up (a three-point turn)


class TurnSkill(ScriptedSkill):
    name = "turn"
    kid_done = "Turned!"

    def __init__(self, ctx: SkillContext, degrees: float, compact: bool = False) -> None:
        """compact: turn nearly on the spot — short legs forward and back (a many-point turn) instead of
        one arc that moves the car up to two turning radii sideways."""
        super().__init__(ctx)
        self.target = math.radians(degrees)
        self.side = 1.0 if degrees >= 0 else -1.0
        self.compact = compact
        self.v_turn = min(self.v_max, COMPACT_SPEED_CAP_CM_S if compact else TURN_SPEED_CAP_CM_S)
        arc = abs(self.target) * self.min_radius
        legs = arc / COMPACT_LEG_CM if compact else 0.0
        self.time_limit_s = arc / max(self.v_turn, 1.0) + EXTRA_TIME_S + legs * COMPACT_LEG_OVERHEAD_S

    def tight_turn_text(self) -> str:
        """What the car did instead of one curve, and why: a kid's square near a wall ends elsewhere."""
        way = "left" if self.side > 0 else "right"
        times = "once" if self.gear_changes == 1 else f"{self.gear_changes} times"
        room = 10 * round(2 * self.min_radius / 10)  # the circle a full-lock turn sweeps, rounded to 10 cm
        return (f"I turned {way} {abs(math.degrees(self.target)):.0f}°, but a wall was too close for one curve, "
                f"so I backed up {times} to get round. A turn needs about {room} cm of room.")

    def begin(self, state: CarState) -> None:
        self.h0 = self.heading_unwrapped
        self.gear = 1.0  # +1 forward with the wheels towards the turn; -1 backward with them the other way
        self.gear_changes = 0
        self._stalled_for = 0.0
        self._leg = 0.0  # distance driven in the current gear (compact turns change gear every leg)
        self._switching = False

    def control(self, state: CarState, dt: float) -> SkillStep:
        turned = self.heading_unwrapped - self.h0
        rem = self.target - turned  # radians still to go, signed like the turn
        self.progress = 1.0 - abs(rem) / abs(self.target) if self.target else 1.0
        v = state.speed_cm_s
        if abs(math.degrees(rem)) < TURN_TOLERANCE_DEG and abs(v) < STOPPED_CM_S:
            return self.done(self.tight_turn_text(), TIGHT_TURN) if self.gear_changes else self.done()
        # Held back by the supervisor (a wall ahead or behind)? Change gear: backing up with the wheels
        # the other way turns the car the same way, so a tight spot becomes a three-point turn.
        if abs(self.cmd_speed) >= BLOCKED_MIN_CMD_CM_S and abs(v) < STALL_SPEED_FRACTION * abs(self.cmd_speed):
            self._stalled_for += dt
        else:
            self._stalled_for = 0.0
        if self._stalled_for > STALL_S and self.gear_changes < MAX_GEAR_CHANGES:
            self.gear, self._stalled_for, self._leg = -self.gear, 0.0, 0.0
            self.gear_changes += 1
        self._leg += abs(v) * dt
        if self.compact and not self._switching and self._leg >= COMPACT_LEG_CM \
                and abs(rem) * self.min_radius > COMPACT_LEG_CM / 2:
            self._switching = True  # end of a leg: stop, then the other gear (wheels swing while stopped)
        if self._switching:
            if abs(v) >= STOPPED_CM_S:
                return self.hold(self.gear * self.side * TURN_LOCK)
            self.gear, self._leg, self._switching = -self.gear, 0.0, False
        # moving in the gear's direction turns towards `side`; the yaw still to come from the current
        # speed is lead-compensated (the ESC lags)
        g = self.gear
        rem_travel = rem * self.side * self.min_radius - v * g * ESC_LEAD_S
        speed = braking_speed(abs(rem_travel), self.v_turn, TURN_ACCEL_CM_S2)
        if self.compact:  # and brake for the end of the leg
            speed = min(speed, braking_speed(max(0.0, COMPACT_LEG_CM - self._leg - abs(v) * ESC_LEAD_S), self.v_turn,
                                             TURN_ACCEL_CM_S2))
        if abs(math.degrees(rem)) >= TURN_TOLERANCE_DEG:
            speed = max(speed, min(TURN_CREEP_CM_S, self.v_turn))
        else:
            speed = 0.0
        return self.drive(g * math.copysign(speed, rem_travel), g * self.side * TURN_LOCK)
