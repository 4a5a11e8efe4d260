"""The safety supervisor: the one gate every actuator command passes on its way to the motors.

Whatever produced a command (a scripted skill, an ONNX policy, a stop, nothing at all), the control
loop calls ``SafetySupervisor.filter(cmd, state, now)`` once per tick and sends only what comes out.
The supervisor is a small state machine (previous output, latched e-stop, last heartbeat, session
limits) with no I/O and no clock of its own, so property tests can drive it with any sequence of
commands, states and times and check its promises:

- |throttle| <= effective max speed, |steering| <= effective max steer, where effective = the tighter
  of the car's hard limits and the server's session limits (the server can only tighten);
  Until the server's first limits arrive the session is PRE_SESSION_LIMITS (Level 1: 30 %, no
  named skills): a car fails closed;
- reverse: |throttle| <= the hard ``max_reverse_pct`` too (nothing but the fence looks behind);
- throttle magnitude grows at most ``max_accel_per_s``, shrinks at most ``max_decel_per_s`` (controlled
  stop) unless a hard brake is needed (fence, obstacle, a lowered limit, a fault, e-stop); steering
  moves at most ``max_steer_rate_per_s`` unless its limit was lowered. Both per elapsed time, with the
  elapsed time capped at SLEW_DT_MAX_S (a late tick never earns a jump);
- never commands motion toward a wall, cone, the arena edge, the session fence, a closed zone or the
  floor another car may cover within the stopping horizon (neighbours.py: stale poses grow) faster
  than the car can stop in the free distance along the path its steering drives (fence_guard.py), and
  never steers onto a path it could not stop on at the speed it has: then it brakes and picks the
  steering within reach that keeps it stoppable (or, if none does, the one with the most free path);
  nor toward what the distance sensor sees; a faulty sensor caps forward speed to a crawl;
- a non-finite pose: zero throttle, steering held;
- zero throttle once WATCHDOG_S has passed since the last heartbeat (reached by a decel-limited ramp);
- e-stop: neutral on the very next tick, latched until ``reset_estop``.

Every intervention becomes a SafetyEvent with a machine reason and a kid sentence; repeats of the
same reason are rate-limited to one per EVENT_REPEAT_S so telemetry is not flooded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from robot_runtime import fence as geo
from robot_runtime.arena import Arena
from robot_runtime.config import HardLimits
from robot_runtime.fence_guard import FenceCheck, FenceGuard
from robot_runtime.hardware import NEUTRAL, CarSpec, CarState, Command
from robot_runtime.neighbours import NeighbourView, blocks
from robot_runtime.protocol import WATCHDOG_S, Neighbours, SafetyEvent, SafetyReason, SessionLimits, Zone
from robot_runtime.watchdog import LinkWatchdog

EVENT_REPEAT_S = 1.0  # one event per reason per second: a kid can read that, telemetry stays small
CLIP_EPS = 1e-3  # smaller trims than this are rounding, not interventions
REVERSE_REPORT_MIN = 0.2  # slew is reported only when a reversal at speed is asked (ramps are normal driving)
SLEW_DT_MAX_S = 0.05  # slew per elapsed time, at most 2.5 ticks' worth: one late 0.25 s tick is no 0 -> full jump
NEIGHBOUR_REACH_SLACK_CM = 50.0  # other cars farther than the fence looks, and this, are not fenced this tick
SENSOR_FAULT_CRAWL = 0.15  # forward throttle while the distance sensor cannot see (a walking pace: 45 cm/s)
# Before the server speaks: Level 1's speed and no named skills (the car fails closed, not open).
PRE_SESSION_LIMITS = SessionLimits(max_speed_pct=30, allowed_skills=[], level=1)

FENCE_NAMES = {"wall": "wall", "edge": "edge of the arena", "fence": "edge of my play area",
               "closed_zone": "a zone for higher levels", "cone": "cone", "car": "another car"}  # for kid sentences

SafetyState = str  # "ok" | "limiting" | "stopping" | "estop" | "watchdog" (protocol.Telemetry.safety_state)


@dataclass(frozen=True)
class EffectiveLimits:
    """The tighter of the car's hard limits and the session's, as fractions (0..1)."""

    max_throttle: float
    max_reverse: float
    max_steer: float
    speed_set_by_session: bool  # for the kid sentence: "Level 1 cars ..." vs "this car ..."
    steer_set_by_session: bool
    level: int | None
    fence: Zone | None
    allowed_skills: frozenset[str] | None

    @staticmethod
    def combine(hard: HardLimits, session: SessionLimits) -> "EffectiveLimits":
        return EffectiveLimits(
            max_throttle=min(hard.max_speed_pct, session.max_speed_pct) / 100.0,
            max_reverse=min(hard.max_speed_pct, hard.max_reverse_pct, session.max_speed_pct) / 100.0,
            max_steer=min(hard.max_steer_pct, session.max_steer_pct) / 100.0,
            speed_set_by_session=session.max_speed_pct < hard.max_speed_pct,
            steer_set_by_session=session.max_steer_pct < hard.max_steer_pct,
            level=session.level,
            fence=session.fence,
            allowed_skills=None if session.allowed_skills is None else frozenset(session.allowed_skills),
        )


def _finite_or_zero(v: float) -> float:
    return v if math.isfinite(v) else 0.0


def _clamp(v: float, lim: float) -> float:
    return max(-lim, min(lim, v))


def _slew(prev: float, target: float, up: float, down: float) -> float:
    """Move from prev toward target: magnitude grows by at most `up`, shrinks by at most `down`.

    A sign change goes through zero first (braking before reversing), never across it in one step.
    """
    if prev != 0.0 and (target == 0.0 or math.copysign(1.0, target) != math.copysign(1.0, prev)):
        step = min(abs(prev), down)
        return prev - math.copysign(step, prev)
    if abs(target) >= abs(prev):
        return prev + _clamp(target - prev, up)
    return prev + _clamp(target - prev, down)


class SafetySupervisor:
    def __init__(
        self,
        hard: HardLimits,
        spec: CarSpec,
        arena: Arena | None = None,
        *,
        watchdog: bool = True,
        watchdog_s: float = WATCHDOG_S,
        event_repeat_s: float = EVENT_REPEAT_S,
        tick_s: float = 0.0,
        session: SessionLimits = PRE_SESSION_LIMITS,
    ) -> None:
        self.hard = hard
        self.spec = spec
        self.watchdog = LinkWatchdog(watchdog_s, enabled=watchdog)
        self.event_repeat_s = event_repeat_s
        # The watchdog envelope looks one tick ahead, so zero throttle is sent by the last tick before
        # the deadline (not the first one after it): the car stops within WATCHDOG_S, not WATCHDOG_S + a tick.
        self.tick_s = tick_s
        self.session = session
        self.session_received = False  # the server's limits arrived (set_session)
        self.limits = EffectiveLimits.combine(hard, session)
        self._arena = arena
        self.fence = FenceGuard(hard, spec)
        self.neighbours = NeighbourView()  # the other cars near this one (the server's "neighbours")
        self._configure_fence()
        self._estop_reason: str | None = None
        self._prev = NEUTRAL
        self._prev_now: float | None = None
        self._last_emitted: dict[str, float] = {}
        self.binding: frozenset[str] = frozenset()  # reasons that changed the last output (not rate-limited)
        self.state: SafetyState = "ok"
        self.last_event_text: dict[str, str] = {}  # latest kid sentence per reason, even if not emitted
        self.fence_what = ""  # what the fence last held the car back from ("wall", "car", ...)

    # --- configuration from the link and the runtime ---------------------------------------------

    def set_session(self, session: SessionLimits) -> None:
        self.session = session
        self.session_received = True
        self.limits = EffectiveLimits.combine(self.hard, session)
        self._configure_fence()

    def set_arena(self, arena: Arena | None) -> None:
        self._arena = arena
        self._configure_fence()

    def _configure_fence(self) -> None:
        self.fence.configure(self._arena, self.limits.fence, tuple(self.session.keep_out), self.limits.max_throttle)
        # How far ahead other cars' motion is predicted: this car's stopping time from the fastest it may go.
        hard = self.hard
        self.horizon_s = hard.reaction_s + self.spec.top_speed_cm_s * self.limits.max_throttle / hard.brake_decel_cm_s2

    def _neighbour_reach(self, state: CarState) -> float:
        """Beyond this distance from the car's centre nothing changes any fence check: the farthest any
        of them looks (stopping from the fastest of the speed limit, the last output and the car's speed,
        twice: a slide widens the path by up to its length; plus the ray's extra look-ahead), the car's
        half diagonal, the margins and the pose's uncertainty, and some slack."""
        spec, hard = self.spec, self.hard
        speed = max(spec.top_speed_cm_s * max(self.limits.max_throttle, abs(self._prev.throttle)),
                    abs(state.speed_cm_s) + (abs(state.lateral_cm_s) if math.isfinite(state.lateral_cm_s) else 0.0))
        u = state.pose_uncertainty_cm if math.isfinite(state.pose_uncertainty_cm) else math.inf
        return (2.0 * geo.stopping_distance_cm(speed, hard.brake_decel_cm_s2, hard.reaction_s) + geo.LOOKAHEAD_EXTRA_CM
                + math.hypot(spec.length_cm / 2.0, spec.width_cm / 2.0) + hard.fence_margin_cm + 2.0 * u
                + NEIGHBOUR_REACH_SLACK_CM)

    def set_neighbours(self, msg: Neighbours, now: float) -> None:
        """The server's list of the cars near this one: only ever more to avoid (neighbours.py)."""
        self.neighbours.update(msg, now)

    @property
    def fast_fence(self) -> bool:
        return self.fence.fast

    @fast_fence.setter
    def fast_fence(self, on: bool) -> None:
        self.fence.fast = on

    def heartbeat(self, now: float) -> None:
        self.watchdog.feed(now)

    def estop(self, now: float, reason: str = "emergency stop") -> SafetyEvent:
        self._estop_reason = reason
        self._prev = NEUTRAL
        self._last_emitted["estop"] = now
        return SafetyEvent(
            t=now, reason="estop", kid_text="I stopped: emergency stop. The teacher will restart me.", detail=reason
        )

    def reset_estop(self) -> None:
        self._estop_reason = None

    def hardware_went_neutral(self) -> None:
        """Something below the supervisor (the dead-man) set neutral: ramp up again from there."""
        self._prev = NEUTRAL

    @property
    def estopped(self) -> bool:
        return self._estop_reason is not None

    @property
    def estop_reason(self) -> str | None:
        return self._estop_reason

    @property
    def last_output(self) -> Command:
        return self._prev

    # --- events ------------------------------------------------------------------------------------

    def report(
        self,
        now: float,
        reason: SafetyReason,
        kid_text: str,
        detail: str | Callable[[], str] = "",
        value: float | None = None,
        limit: float | None = None,
    ) -> SafetyEvent | None:
        """An event for this intervention, or None if the same reason was reported within EVENT_REPEAT_S.

        `detail` may be a function: it is formatted only when the event is really sent (once a second),
        not on every tick a limit binds."""
        self.last_event_text[reason] = kid_text
        last = self._last_emitted.get(reason)
        if last is not None and 0.0 <= now - last < self.event_repeat_s:
            return None
        self._last_emitted[reason] = now
        if callable(detail):
            detail = detail()
        v = None if value is None or not math.isfinite(value) else round(value, 3)
        lim = None if limit is None or not math.isfinite(limit) else round(limit, 3)
        return SafetyEvent(t=now, reason=reason, kid_text=kid_text, detail=detail, value=v, limit=lim)

    # --- the filter ----------------------------------------------------------------------------------

    def filter(self, cmd: Command, state: CarState, now: float) -> tuple[Command, list[SafetyEvent]]:
        """The command that may go to the motors now, and the interventions to report."""
        dt = 0.0 if self._prev_now is None else min(SLEW_DT_MAX_S, max(0.0, now - self._prev_now))
        self._prev_now = now if self._prev_now is None else max(now, self._prev_now)
        events: list[SafetyEvent] = []
        binding: set[str] = set()

        if self._estop_reason is not None:
            self._prev = NEUTRAL
            self.binding = frozenset({"estop"})
            self.state = "estop"
            ev = self.report(now, "estop", "I stopped: emergency stop. The teacher will restart me.", self._estop_reason)
            return NEUTRAL, [ev] if ev is not None else []

        want_t = _clamp(_finite_or_zero(cmd.throttle), 1.0)
        want_s = _clamp(_finite_or_zero(cmd.steering), 1.0)
        lim = self.limits
        top = self.spec.top_speed_cm_s
        hard = self.hard
        prev = self._prev
        pose_ok = all(math.isfinite(v) for v in (state.x_cm, state.y_cm, state.heading_deg, state.speed_cm_s))
        if pose_ok:
            self.fence.follow(state)
        inside_cars: list[tuple[float, float]] = []
        if self.neighbours.cars and pose_ok:
            grow = self.hard.fence_margin_cm
            self.fence.moving, inside_cars = self.neighbours.segments(
                now, self.horizon_s, state.x_cm, state.y_cm, state.heading_deg,
                self.spec.length_cm / 2.0 + grow, self.spec.width_cm / 2.0 + grow, self._neighbour_reach(state))
        else:
            self.fence.moving = []

        # 1) Slew from the previous output toward the (speed-limited) wish.
        speed_cap = lim.max_throttle if want_t >= 0 else lim.max_reverse
        target_t = _clamp(want_t, speed_cap)
        out_t = _slew(prev.throttle, target_t, hard.max_accel_per_s * dt, hard.max_decel_per_s * dt)
        target_s = _clamp(want_s, lim.max_steer)
        steer_step = hard.max_steer_rate_per_s * dt
        out_s = prev.steering + _clamp(target_s - prev.steering, steer_step)

        # 2) Caps on |throttle| for the direction the car will actually be driven (while slewing
        #    through zero that is still the old direction, not the wished one).
        sign_of = out_t if out_t != 0.0 else want_t if want_t != 0.0 else prev.throttle
        direction = -1.0 if sign_of < 0 else 1.0
        if direction < 0:
            speed_cap = lim.max_reverse
        fence_cap, clear = math.inf, geo.Clearance(math.inf, "")
        steered = False
        if pose_ok:
            # The fence can only change the output if its cap falls below this (the speed-capped larger
            # of the wish and the slewed output): farther walls need no geometry (see FenceGuard.check).
            matters = min(max(abs(out_t), abs(want_t)), speed_cap)
            check = self.fence.check(state, direction, out_s, out_t, matters)
            # Steering: the car must stay able to stop on the path it steers onto, at the speed it has.
            motion = direction if abs(state.speed_cm_s) < 2.0 else math.copysign(1.0, state.speed_cm_s)
            moving = check if motion == direction else self.fence.check(state, motion, out_s, 0.0, matters)
            if not moving.stoppable:
                s_lim = min(lim.max_steer, 1.0)
                lo = max(-s_lim, min(s_lim, prev.steering - steer_step))
                hi = min(s_lim, max(-s_lim, prev.steering + steer_step))
                refused = moving.clear  # what the asked-for path runs into: what the kid is told about
                same = motion == direction  # then each candidate's check is also its throttle cap
                new_s, moving = self.fence.safest_steering(state, motion, out_s, lo, hi, moving,
                                                           out_t if same else 0.0, matters)
                steered = abs(new_s - out_s) > CLIP_EPS
                out_s = new_s
                check = moving if same else self.fence.check(state, direction, out_s, out_t, matters)
                if not moving.stoppable:
                    check = FenceCheck(0.0, moving.clear, False)  # brake: nothing better is in reach
            fence_cap, clear = check.cap, (refused if steered else check.clear)
            if inside_cars and blocks(state.x_cm, state.y_cm, state.heading_deg, direction, inside_cars):
                fence_cap, clear = 0.0, geo.Clearance(0.0, "car")  # already in its way: only away from it
        pose_cap = 0.0 if not pose_ok else math.inf
        obstacle_cap, sensor_cap = self._obstacle_caps(state, top) if direction > 0 else (math.inf, math.inf)
        watchdog_cap = self.watchdog.throttle_cap(now + self.tick_s, hard.max_decel_per_s)
        # Reversing at speed is the one slew a kid should hear about (it explains a pause).
        reversing = prev.throttle * want_t < 0 and abs(prev.throttle) > REVERSE_REPORT_MIN
        slewed = abs(target_t - out_t) > CLIP_EPS or abs(target_s - out_s) > CLIP_EPS

        # 3) Hard caps last: they may brake harder than the decel ramp (a wall appeared, a limit dropped).
        caps = (("speed_limit", speed_cap), ("fence", fence_cap), ("obstacle", obstacle_cap),
                ("sensor_fault", sensor_cap), ("pose_lost", pose_cap), ("watchdog", watchdog_cap))
        for reason, cap in caps:
            if abs(out_t) > cap:
                out_t = math.copysign(cap, out_t)
                binding.add(reason)
        if abs(out_s) > lim.max_steer:
            out_s = math.copysign(lim.max_steer, out_s)
            binding.add("steer_limit")
        if not pose_ok:
            out_s = _clamp(_finite_or_zero(prev.steering), lim.max_steer)  # hold: nothing to steer by

        # 4) Which limits changed the wish? (for events and safety_state)
        if abs(want_t) > speed_cap + CLIP_EPS:
            binding.add("speed_limit")
        if abs(want_s) > lim.max_steer + CLIP_EPS:
            binding.add("steer_limit")
        # A cap looser than the speed limit changed nothing the kid would notice: not reported.
        if (abs(want_t) > fence_cap + CLIP_EPS and fence_cap < speed_cap) or steered:
            binding.add("fence")
            self.fence_what = clear.what
        if want_t > obstacle_cap + CLIP_EPS and obstacle_cap < speed_cap:
            binding.add("obstacle")
        if want_t > sensor_cap + CLIP_EPS and sensor_cap < speed_cap:
            binding.add("sensor_fault")
        if not pose_ok:
            binding.add("pose_lost")
        expired = self.watchdog.expired(now)
        if (abs(want_t) > watchdog_cap + CLIP_EPS and watchdog_cap < speed_cap) or expired:
            binding.add("watchdog")
        if slewed:
            binding.add("slew")  # recorded with the command; reported to the kid only when reversing
        if expired:
            binding &= {"watchdog", "steer_limit"}  # the car is stopped: the other reasons are noise

        out = Command(out_t, out_s)
        self._prev = out
        self.binding = frozenset(binding)
        self.state = self._state_name(binding, out)
        if binding and (reversing or binding != {"slew"}):  # a ramp alone is normal driving: nothing to say
            caps_now = {"fence": fence_cap, "obstacle": obstacle_cap, "steered": steered, "reverse": direction < 0}
            events.extend(self._events(binding, now, want_t, want_s, state, clear, caps_now, reversing))
        return out, events

    # --- caps ----------------------------------------------------------------------------------------

    def _envelope(self, free_cm: float, speed_toward: float, top: float) -> float:
        """Throttle cap for `free_cm` of free path: a setpoint the car could stop from in time, and zero
        when the car is already moving too fast to stop in time (its speed lags the setpoint)."""
        hard = self.hard
        if speed_toward > 0 and geo.stopping_distance_cm(speed_toward, hard.brake_decel_cm_s2, hard.reaction_s) > free_cm:
            return 0.0
        return geo.allowed_speed_cm_s(free_cm, hard.brake_decel_cm_s2, hard.reaction_s) / top

    def _obstacle_caps(self, state: CarState, top: float) -> tuple[float, float]:
        """(obstacle cap, sensor-fault cap) for driving forward."""
        d = state.distance_cm
        if state.distance_fault is not None or (d is not None and not math.isfinite(d)):
            return math.inf, SENSOR_FAULT_CRAWL
        if d is None:
            return math.inf, math.inf
        return self._envelope(d - self.hard.obstacle_margin_cm, state.speed_cm_s, top), math.inf

    # --- reporting -----------------------------------------------------------------------------------

    @staticmethod
    def _state_name(binding: set[str], out: Command) -> SafetyState:
        # (Ramping, "slew", is normal driving, not an intervention.)
        if "watchdog" in binding:
            return "watchdog"
        if binding & {"fence", "obstacle", "pose_lost"}:
            return "stopping" if out.throttle == 0.0 else "limiting"
        if len(binding) > ("slew" in binding):
            return "limiting"
        return "ok"

    def _events(
        self,
        binding: set[str],
        now: float,
        want_t: float,
        want_s: float,
        state: CarState,
        clear: geo.Clearance,
        caps: dict[str, float],
        reversing: bool,
    ) -> list[SafetyEvent]:
        lim = self.limits
        out = self._prev
        events: list[SafetyEvent | None] = []
        if "speed_limit" in binding and want_t < -lim.max_reverse - CLIP_EPS and lim.max_reverse < lim.max_throttle:
            pct = round(lim.max_reverse * 100)
            events.append(self.report(
                now, "speed_limit", f"I back up slowly: up to {pct}%, I can't see behind me",
                f"reverse throttle {-want_t * 100:.0f}% capped at {pct}% (car max_reverse_pct)", abs(want_t) * 100, pct,
            ))
        elif "speed_limit" in binding and abs(want_t) > lim.max_throttle + CLIP_EPS:
            pct = round(lim.max_throttle * 100)
            who = f"Level {lim.level} cars go" if lim.speed_set_by_session and lim.level else "this car goes"
            events.append(self.report(
                now, "speed_limit", f"I slowed down: {who} up to {pct}%",
                f"throttle {want_t * 100:.0f}% capped at {pct}% ({'session' if lim.speed_set_by_session else 'car hard limit'})",
                abs(want_t) * 100, pct,
            ))
        if "steer_limit" in binding and abs(want_s) > lim.max_steer + CLIP_EPS:
            pct = round(lim.max_steer * 100)
            who = f"Level {lim.level} cars steer" if lim.steer_set_by_session and lim.level else "this car steers"
            events.append(self.report(
                now, "steer_limit", f"I turned less: {who} up to {pct}%",
                f"steering {want_s * 100:.0f}% capped at {pct}%", abs(want_s) * 100, pct,
            ))
        if "fence" in binding:
            thing = FENCE_NAMES.get(clear.what, "wall")
            where = "behind me" if caps["reverse"] else "ahead"
            cm = max(0, round(clear.distance_cm)) if math.isfinite(clear.distance_cm) else 0
            if caps["steered"]:
                verb = "I braked and steered away" if caps["fence"] < CLIP_EPS else "I turned less"
            else:
                verb = "I stopped" if caps["fence"] < CLIP_EPS else "I slowed down"
            events.append(self.report(
                now, "fence", f"{verb}: {thing} {cm} cm {where}",
                lambda: (f"{clear.what} {clear.distance_cm:.0f} cm {where} on the path; throttle {want_t:.2f} -> "
                         f"{out.throttle:.2f}, steering {want_s:.2f} -> {out.steering:.2f}"),
                clear.distance_cm, None,
            ))
        if "obstacle" in binding:
            d = state.distance_cm if state.distance_cm is not None else 0.0
            verb = "I stopped" if caps["obstacle"] < CLIP_EPS else "I slowed down"
            events.append(self.report(
                now, "obstacle", f"{verb}: something {max(0, round(d))} cm ahead",
                lambda: f"distance sensor {d:.0f} cm; throttle {want_t:.2f} -> {out.throttle:.2f}", d,
                self.hard.obstacle_margin_cm,
            ))
        if "sensor_fault" in binding:
            fault = state.distance_fault or "not a number"
            events.append(self.report(
                now, "sensor_fault", "I'm going slowly: my distance sensor isn't working",
                f"distance sensor fault ({fault}); forward throttle capped at {SENSOR_FAULT_CRAWL:.2f}",
                None, SENSOR_FAULT_CRAWL,
            ))
        if "pose_lost" in binding:
            events.append(self.report(
                now, "pose_lost", "I stopped: I don't know where I am right now",
                "the pose estimate is not a number (NaN/inf): throttle 0 until a good sample",
            ))
        if "watchdog" in binding:
            left = self.watchdog.time_left(now)
            events.append(self.report(
                now, "watchdog", "I stopped: I can't hear the classroom. I'll wait for it.",
                f"no heartbeat for {self.watchdog.timeout_s - left:.2f} s (limit {self.watchdog.timeout_s} s)",
                self.watchdog.timeout_s - left, self.watchdog.timeout_s,
            ))
        if "slew" in binding and reversing:
            events.append(self.report(
                now, "slew", "I braked first, then changed direction",
                f"asked throttle {want_t:.2f} steering {want_s:.2f}, sent {out.throttle:.2f} {out.steering:.2f}",
            ))
        return [e for e in events if e is not None]
