"""`donut` and `drift`: the stunts where the rear tyres really let go (Level 4).

Both ask for full throttle themselves, whatever speed the request carried: a stunt that needs speed
requests it, and the safety supervisor decides how much the car gets. Both measure what happens
(the rear axle's slip angle, CarState.slip_deg) instead of trusting the command, so under a Level-1
speed cap the car simply drives a clean circle, the skill sees no slip at a capped speed, and ends
`failed` with reason `blocked_by_safety` and a sentence the kid understands: the level's speed cap when
there is one, otherwise the fence (a wall too close for the stunt's circle).
"""

from __future__ import annotations

import math
from collections import deque

from robot_runtime.hardware import CarState
from robot_runtime.skills.base import SkillContext, SkillStep
from robot_runtime.skills.scripted import STOPPED_CM_S, ScriptedSkill, clamp, wrap_rad

SLIP_REAL_DEG = 15.0  # "real slip": the rear axle slides at least this far off its axis (a clean turn stays under 3)
SLIP_SUSTAINED_S = 0.4  # ... for at least this long in total, not a single twitch
FULL_THROTTLE = 0.999  # a cap at or above this is no cap (float noise of 100 %)
HELD_BACK_FRACTION = 0.9  # gripping, the ESC reaches the speed asked for; under 90 % of it, something capped the throttle
SPEED_WINDOW_S = 0.5  # the "reached speed" is the mean over this last stretch

DONUT_TURNS = 2.0  # two full turns of the car while sliding
DONUT_GRIP_WINDOW_S = 2.5  # no sustained slip by then: give up (spin-up takes about 1 s)
DONUT_ROOM_CM = 100.0  # free floor around the spin's centre (a turning radius to the left): the circle plus the car
DONUT_TIME_LIMIT_S = 10.0

DRIFT_ENTRY_THROTTLE = 0.9  # run-up speed request
DRIFT_ENTRY_CM_S = 220.0  # turn in at this speed (the tail steps out reliably above ~200 cm/s)
DRIFT_RUNUP_MAX_S = 2.0  # not at entry speed by then: the car is being held back
DRIFT_TURN_IN_MAX_S = 0.8  # full lock at speed that long without slip: the tyres hold
DRIFT_SLIP_TARGET_DEG = 25.0  # the drift angle the counter-steer holds
DRIFT_STEER_GAIN = 4.0  # steering fraction per 30 deg of slip error (counter-steer when over the angle)
DRIFT_THROTTLE_GAIN = 1.0  # throttle fraction per 30 deg of slip error (lift when over the angle)
DRIFT_ARC_DEG = 150.0  # how far the car turns in the drift (a hairpin corner)
DRIFT_ROOM_AHEAD_CM = 250.0  # straight free floor needed for the run-up and turn-in
DRIFT_TIME_LIMIT_S = 10.0
HEADING_GAIN = 2.5  # run-up: steering fraction per radian of heading error

KID_DONUT_BLOCKED = "Donuts need more speed than I'm allowed right now — they unlock at Level 4."
KID_DRIFT_BLOCKED = "Drifts need more speed than I'm allowed right now — they unlock at Level 4."
KID_NO_SLIP = "My tyres held on, so no {what} this time."
KID_DONUT_ROOM = "A donut needs about 2 m of open floor around me — start in the middle."
KID_DRIFT_ROOM = "A drift needs about 3 m of open floor ahead — start further back."


def _free_ahead(ctx: SkillContext, state: CarState) -> float:
    from robot_runtime.sim.world import World  # geometry only; no simulator state

    h = math.radians(state.heading_deg)
    nose = ctx.spec.length_cm / 2.0
    d = World(ctx.arena).ray(state.x_cm + nose * math.cos(h), state.y_cm + nose * math.sin(h), math.cos(h), math.sin(h), 1e6)
    return math.inf if d is None else d


def _spin_clearance(ctx: SkillContext, state: CarState, side: float) -> float:
    """Free floor around the centre of the circle the car spins up on (one turning radius to its `side`)."""
    from robot_runtime.sim.world import World

    radius = ctx.spec.wheelbase_cm / math.tan(math.radians(ctx.spec.max_steer_deg))
    h = math.radians(state.heading_deg)
    cx, cy = state.x_cm - side * radius * math.sin(h), state.y_cm + side * radius * math.cos(h)
    return World(ctx.arena).clearance(cx, cy)


class _Stunt(ScriptedSkill):
    checks_blocked = False  # a sliding car is slow along its axis on purpose; the stunt judges itself

    def __init__(self, ctx: SkillContext) -> None:
        super().__init__(ctx)
        self.slip_time = 0.0
        self.max_slip = 0.0
        self._speeds: deque[tuple[float, float]] = deque()

    def _measure(self, state: CarState, dt: float) -> None:
        slip = abs(state.slip_deg)
        self.max_slip = max(self.max_slip, slip)
        if slip >= SLIP_REAL_DEG:
            self.slip_time += dt
        self._speeds.append((state.t, math.hypot(state.speed_cm_s, state.lateral_cm_s)))
        while self._speeds and state.t - self._speeds[0][0] > SPEED_WINDOW_S:
            self._speeds.popleft()

    def reached_speed(self) -> float:
        return sum(v for _, v in self._speeds) / len(self._speeds) if self._speeds else 0.0

    def blocked_text(self, capped_by_level: str, room: str) -> str:
        """Why the throttle was held back: the speed cap in force, or (no cap) the fence near a wall."""
        return capped_by_level if self.ctx.max_throttle < FULL_THROTTLE else room

    def held_back(self, requested_cm_s: float) -> bool:
        """Was the throttle capped? Only meaningful while the tyres grip (then speed follows the request)."""
        return self.reached_speed() < HELD_BACK_FRACTION * requested_cm_s


class DonutSkill(_Stunt):
    """Power oversteer on the spot: full lock, full throttle, the tail swings round; two turns, then stop."""

    name = "donut"
    time_limit_s = DONUT_TIME_LIMIT_S
    side = 1.0  # left

    def begin(self, state: CarState) -> None:
        self.phase = "spin"
        self.slide_turn = 0.0  # heading turned while sliding (radians)
        self._last_h = self.heading_unwrapped
        if _spin_clearance(self.ctx, state, self.side) < DONUT_ROOM_CM:
            self.phase = "no_room"

    def control(self, state: CarState, dt: float) -> SkillStep:
        if self.phase == "no_room":
            return self.fail("no_room", KID_DONUT_ROOM)
        self._measure(state, dt)
        dh = self.heading_unwrapped - self._last_h
        self._last_h = self.heading_unwrapped
        if self.phase == "spin":
            if abs(state.slip_deg) >= SLIP_REAL_DEG:
                self.slide_turn += dh * self.side
            self.progress = 0.9 * min(1.0, self.slide_turn / (2 * math.pi * DONUT_TURNS))
            if self.slide_turn >= 2 * math.pi * DONUT_TURNS and self.slip_time >= SLIP_SUSTAINED_S:
                self.phase = "stop"
            elif self.elapsed > DONUT_GRIP_WINDOW_S and self.slip_time < SLIP_SUSTAINED_S:
                if self.held_back(self.top):
                    return self.fail("blocked_by_safety", self.blocked_text(KID_DONUT_BLOCKED, KID_DONUT_ROOM))
                return self.fail("no_slip", KID_NO_SLIP.format(what="donut"))
            else:
                return self.drive(self.top, self.side)
        # stop: wheels straight, brake; the tail straightens out as it stops
        self.progress = 0.95
        if math.hypot(state.speed_cm_s, state.lateral_cm_s) < STOPPED_CM_S and abs(state.yaw_rate_dps) < 10.0:
            return self.done(f"Donut! I spun round {DONUT_TURNS:.0f} times, sliding up to {self.max_slip:.0f}° sideways.")
        return self.hold(0.0)


class DriftSkill(_Stunt):
    """A drifted hairpin: run up straight, turn in at speed, hold the slide with counter-steer, straighten out."""

    name = "drift"
    time_limit_s = DRIFT_TIME_LIMIT_S
    side = 1.0  # drifts to the left

    def begin(self, state: CarState) -> None:
        self.phase = "run_up"
        self.h0 = math.radians(state.heading_deg)
        self.phase_t = state.t
        self.turn_start = 0.0
        if _free_ahead(self.ctx, state) < DRIFT_ROOM_AHEAD_CM:
            self.phase = "no_room"

    def _enter(self, phase: str, state: CarState) -> None:
        self.phase, self.phase_t = phase, state.t

    def control(self, state: CarState, dt: float) -> SkillStep:
        if self.phase == "no_room":
            return self.fail("no_room", KID_DRIFT_ROOM)
        self._measure(state, dt)
        in_phase = state.t - self.phase_t
        speed = math.hypot(state.speed_cm_s, state.lateral_cm_s)
        turned = (self.heading_unwrapped - self.turn_start) * self.side
        slip = state.slip_deg * self.side  # negative while the tail is out in a drift to `side`

        if self.phase == "run_up":
            self.progress = 0.3 * min(1.0, speed / DRIFT_ENTRY_CM_S)
            if speed >= DRIFT_ENTRY_CM_S:
                self.turn_start = self.heading_unwrapped
                self._enter("turn_in", state)
            elif in_phase > DRIFT_RUNUP_MAX_S:
                if self.held_back(DRIFT_ENTRY_THROTTLE * self.top):
                    return self.fail("blocked_by_safety", self.blocked_text(KID_DRIFT_BLOCKED, KID_DRIFT_ROOM))
                return self.fail("too_slow", "I couldn't get fast enough for a drift.")
            else:
                err = wrap_rad(math.radians(state.heading_deg) - self.h0)
                return self.drive(DRIFT_ENTRY_THROTTLE * self.top, clamp(-HEADING_GAIN * err, -1.0, 1.0))

        if self.phase == "turn_in":
            self.progress = 0.3 + 0.2 * min(1.0, -slip / DRIFT_SLIP_TARGET_DEG)
            if -slip >= 0.7 * DRIFT_SLIP_TARGET_DEG:
                self._enter("hold", state)
            elif in_phase > DRIFT_TURN_IN_MAX_S:
                return self.fail("no_slip", KID_NO_SLIP.format(what="drift"))
            else:
                return self.drive(self.top, self.side)

        if self.phase == "hold":
            self.progress = 0.5 + 0.4 * min(1.0, turned / math.radians(DRIFT_ARC_DEG))
            if turned >= math.radians(DRIFT_ARC_DEG):
                self._enter("exit", state)
            else:
                e = (slip + DRIFT_SLIP_TARGET_DEG) / 30.0  # > 0: not sliding enough; < 0: too much
                steer = clamp(DRIFT_STEER_GAIN * e, -1.0, 1.0) * self.side
                throttle = clamp(1.0 + DRIFT_THROTTLE_GAIN * e, 0.0, 1.0)
                return self.drive(throttle * self.top, steer)

        # exit: wheels straight, brake to a stop
        self.progress = 0.95
        if speed < STOPPED_CM_S and abs(state.yaw_rate_dps) < 10.0:
            if self.slip_time < SLIP_SUSTAINED_S:
                return self.fail("no_slip", KID_NO_SLIP.format(what="drift"))
            return self.done(f"Drift! I slid round the corner up to {self.max_slip:.0f}° sideways.")
        return self.hold(0.0)
