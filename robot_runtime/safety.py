"""The safety supervisor: the one gate every actuator command passes on its way to the motors.

Whatever produced a command (a scripted skill, an ONNX policy, a stop, nothing at all), the control
loop calls ``SafetySupervisor.filter(cmd, state, now)`` once per tick and sends only what comes out.
The supervisor is a small state machine (previous output, latched e-stop, last heartbeat, session
limits) with no I/O and no clock of its own, so property tests can drive it with any sequence of
commands, states and times and check its promises:

- |throttle| <= effective max speed, |steering| <= effective max steer, where effective = the tighter
  of the car's hard limits and the server's session limits (the server can only tighten);
- throttle magnitude grows at most ``max_accel_per_s``, shrinks at most ``max_decel_per_s`` (controlled
  stop) unless a hard brake is needed (fence, obstacle, a lowered limit, e-stop); steering moves at most
  ``max_steer_rate_per_s`` unless its limit was lowered;
- never commands motion toward a wall, the arena edge or the session fence faster than the car can
  stop in the free distance (fence.py: along the heading, and over the arc a turning car sweeps),
  nor toward what the distance sensor sees;
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
from robot_runtime.hardware import NEUTRAL, CarSpec, CarState, Command
from robot_runtime.protocol import WATCHDOG_S, SafetyEvent, SafetyReason, SessionLimits, Zone
from robot_runtime.watchdog import LinkWatchdog

EVENT_REPEAT_S = 1.0  # one event per reason per second: a kid can read that, telemetry stays small
CLIP_EPS = 1e-3  # smaller trims than this are rounding, not interventions
REVERSE_REPORT_MIN = 0.2  # slew is reported only when a reversal at speed is asked (ramps are normal driving)
RETURN_CRAWL = 0.15  # a car outside its fence may crawl back in at this throttle, never further out
FAR_SLACK_CM = 1.0  # the fast path wants this much more room than the envelope needs (rounding never matters)
FAR_REFRESH_CM = 10.0  # the nearest-segment distance is recomputed once the car has moved this far

FENCE_NAMES = {"wall": "wall", "edge": "edge of the arena", "fence": "edge of my play area",
               "closed_zone": "a zone for higher levels"}  # for kid sentences

SafetyState = str  # "ok" | "limiting" | "stopping" | "estop" | "watchdog" (protocol.Telemetry.safety_state)


@dataclass(frozen=True)
class EffectiveLimits:
    """The tighter of the car's hard limits and the session's, as fractions (0..1)."""

    max_throttle: float
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
    ) -> None:
        self.hard = hard
        self.spec = spec
        self.watchdog = LinkWatchdog(watchdog_s, enabled=watchdog)
        self.event_repeat_s = event_repeat_s
        # The watchdog envelope looks one tick ahead, so zero throttle is sent by the last tick before
        # the deadline (not the first one after it): the car stops within WATCHDOG_S, not WATCHDOG_S + a tick.
        self.tick_s = tick_s
        self.session = SessionLimits()
        self.limits = EffectiveLimits.combine(hard, self.session)
        self._arena = arena
        self._last_xy: tuple[float, float] | None = None  # where the car was at the last tick
        self._segments = geo.fence_segments(arena, None)
        self._init_fast_path()
        self.fast_fence = True  # False: always the full fence geometry (tests compare the two)
        self._estop_reason: str | None = None
        self._prev = NEUTRAL
        self._prev_now: float | None = None
        self._last_emitted: dict[str, float] = {}
        self.binding: frozenset[str] = frozenset()  # reasons that changed the last output (not rate-limited)
        self.state: SafetyState = "ok"
        self.last_event_text: dict[str, str] = {}  # latest kid sentence per reason, even if not emitted

    # --- configuration from the link and the runtime ---------------------------------------------

    def set_session(self, session: SessionLimits) -> None:
        self.session = session
        self.limits = EffectiveLimits.combine(self.hard, session)
        self._segments = geo.fence_segments(self._arena, self._fence_zone(), self._keep_out())
        self._init_fast_path()

    def set_arena(self, arena: Arena | None) -> None:
        self._arena = arena
        self._segments = geo.fence_segments(arena, self._fence_zone(), self._keep_out())
        self._init_fast_path()

    def _init_fast_path(self) -> None:
        """Constants for the fence's fast path (see _fence_far_enough); the segments just changed."""
        spec = self.spec
        half_len, half_w = spec.length_cm / 2.0, spec.width_cm / 2.0
        ht = max((s.half_thickness for s in self._segments), default=0.0)
        kappa = math.tan(math.radians(spec.max_steer_deg)) / spec.wheelbase_cm
        # A segment D cm from the car's centre is seen no closer than:
        #   by a bumper ray or corner test: D - (half_len + half_w) - MAX_FACE_FACTOR * ht
        #   by the swept arc: (D - R) / G - ARC_STEP_CM (R: the widest box's half diagonal; G: how much
        #   farther the centre moves than the rear axle on the tightest arc)
        self._far_ray = half_len + half_w + geo.MAX_FACE_FACTOR * ht
        self._far_arc_r = math.hypot(half_len, half_w + geo.SIDE_MARGIN_CM)
        self._far_arc_g = math.sqrt(1.0 + (kappa * spec.wheelbase_cm / 2.0) ** 2)
        # (x, y, distance to each segment from there, to the nearest edge of each zone, to the nearest segment)
        self._far_at: tuple[float, float, list[float], dict[str, float], float] | None = None
        self._edge_reach = math.inf
        # The arena's edge (Arena.bounds builds a new Zone each time) and the session's play area.
        self._zones = ((self._arena.bounds if self._arena else None, "edge"), (self.limits.fence, "fence"))
        # How far the chord ray looks: stopping from the top speed the limits allow, and a bit.
        self._lookahead = geo.stopping_distance_cm(spec.top_speed_cm_s * self.limits.max_throttle,
                                                   self.hard.brake_decel_cm_s2, self.hard.reaction_s) + geo.LOOKAHEAD_EXTRA_CM

    def _fence_zone(self) -> Zone | None:
        return self.limits.fence

    def _keep_out(self) -> tuple[Zone, ...]:
        """The session's closed zones, less one the car is in now (walls around it would trap it)."""
        xy = self._last_xy
        return tuple(z for z in self.session.keep_out if xy is None or not z.contains(*xy))

    def heartbeat(self, now: float) -> None:
        self.watchdog.feed(now)

    def estop(self, now: float, reason: str = "emergency stop") -> SafetyEvent:
        self._estop_reason = reason
        self._last_emitted["estop"] = now
        return SafetyEvent(
            t=now, reason="estop", kid_text="I stopped: emergency stop. The teacher will restart me.", detail=reason
        )

    def reset_estop(self) -> None:
        self._estop_reason = None

    @property
    def estopped(self) -> bool:
        return self._estop_reason is not None

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
        dt = 0.0 if self._prev_now is None else max(0.0, now - self._prev_now)
        self._last_xy = (state.x_cm, state.y_cm)
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

        speed_cap = lim.max_throttle
        # 1) Slew from the previous output toward the (speed-limited) wish.
        target_t = _clamp(want_t, speed_cap)
        out_t = _slew(self._prev.throttle, target_t, hard.max_accel_per_s * dt, hard.max_decel_per_s * dt)
        target_s = _clamp(want_s, lim.max_steer)
        out_s = self._prev.steering + _clamp(target_s - self._prev.steering, hard.max_steer_rate_per_s * dt)

        # 2) Caps on |throttle| for the direction the car will actually be driven (while slewing
        #    through zero that is still the old direction, not the wished one).
        sign_of = out_t if out_t != 0.0 else want_t if want_t != 0.0 else self._prev.throttle
        direction = -1.0 if sign_of < 0 else 1.0
        # The fence can only change the output if its cap falls below this (the speed-capped larger of
        # the wish and the slewed output): farther walls need no geometry (see _fence_cap).
        matters = min(max(abs(out_t), abs(want_t)), speed_cap)
        fence_cap, fence_clear = self._fence_cap(state, direction, out_s, out_t, top, matters)
        obstacle_cap = self._obstacle_cap(state, top) if direction > 0 else math.inf
        watchdog_cap = self.watchdog.throttle_cap(now + self.tick_s, hard.max_decel_per_s)
        # Reversing at speed is the one slew a kid should hear about (it explains a pause).
        reversing = self._prev.throttle * want_t < 0 and abs(self._prev.throttle) > REVERSE_REPORT_MIN
        slewed = abs(target_t - out_t) > CLIP_EPS or abs(target_s - out_s) > CLIP_EPS

        # 3) Hard caps last: they may brake harder than the decel ramp (a wall appeared, a limit dropped).
        caps = (("speed_limit", speed_cap), ("fence", fence_cap), ("obstacle", obstacle_cap), ("watchdog", watchdog_cap))
        for reason, cap in caps:
            if abs(out_t) > cap:
                out_t = math.copysign(cap, out_t)
                binding.add(reason)
        if abs(out_s) > lim.max_steer:
            out_s = math.copysign(lim.max_steer, out_s)
            binding.add("steer_limit")

        # 4) Which limits changed the wish? (for events and safety_state)
        if abs(want_t) > speed_cap + CLIP_EPS:
            binding.add("speed_limit")
        if abs(want_s) > lim.max_steer + CLIP_EPS:
            binding.add("steer_limit")
        # A cap looser than the speed limit changed nothing the kid would notice: not reported.
        if abs(want_t) > fence_cap + CLIP_EPS and fence_cap < speed_cap:
            binding.add("fence")
        if want_t > obstacle_cap + CLIP_EPS and obstacle_cap < speed_cap:
            binding.add("obstacle")
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
            caps_now = {"fence": fence_cap, "obstacle": obstacle_cap}
            events.extend(self._events(binding, now, want_t, want_s, state, fence_clear, caps_now, reversing))
        return out, events

    # --- caps ----------------------------------------------------------------------------------------

    def _fence_cap(self, state: CarState, direction: float, steer: float, throttle: float,
                   top: float, matters: float = math.inf) -> tuple[float, geo.Clearance]:
        """Throttle cap from the fence, and the clearance it came from.

        `matters`: a cap at or above this changes nothing (the caller's speed-capped wish). Walls whose
        every ray, corner and swept-arc hit would be farther than the distance that cap needs are
        skipped; if that is every wall, no geometry runs at all and the cap is inf. Below `matters` the
        cap is exactly the full computation's (tests/runtime/test_safety_fast_path.py).
        """
        if not self._segments:
            return math.inf, geo.Clearance(math.inf, "")
        hard = self.hard
        zones = self._zones
        x, y = state.x_cm, state.y_cm
        for zone, what in zones:
            if zone is not None and not (zone.x0 <= x <= zone.x1 and zone.y0 <= y <= zone.y1):  # geo.inside
                # Outside: crawl back toward the middle, never further out.
                h = math.radians(state.heading_deg)
                cx, cy = (zone.x0 + zone.x1) / 2 - state.x_cm, (zone.y0 + zone.y1) / 2 - state.y_cm
                back_in = (math.cos(h) * cx + math.sin(h) * cy) * direction > 0
                return (RETURN_CRAWL if back_in else 0.0), geo.Clearance(0.0, what)
        cutoff = math.inf
        if self.fast_fence and matters < math.inf:
            # A clearance of `cutoff` or more gives a cap above `matters` (and the car, at its speed,
            # can stop in it): the envelope's two conditions, plus FAR_SLACK_CM for rounding.
            fastest = max(matters * top, abs(state.speed_cm_s))
            cutoff = (geo.stopping_distance_cm(fastest, hard.brake_decel_cm_s2, hard.reaction_s)
                      + hard.fence_margin_cm + FAR_SLACK_CM)
            segments = self._near_segments(state.x_cm, state.y_cm, cutoff)
            if not segments:
                # Every segment is farther than its nearest possible hit needs; the centre is inside
                # every zone, farther from its edges than the bumper reaches: nothing to compute.
                return math.inf, geo.Clearance(math.inf, "")
        else:
            segments = self._segments
        for zone, what in zones:
            # (Skipped when none of this zone's edges is near: the centre is inside, the bumper within reach.)
            if zone is not None and (segments is self._segments or self._far_at[3][what] < self._edge_reach):
                bumper = geo.bumper_points(state.x_cm, state.y_cm, state.heading_deg, direction, self.spec)
                if not all(geo.inside(px, py, zone) for px, py in bumper):
                    return 0.0, geo.Clearance(0.0, what)  # the bumper is already over the edge
        clear = geo.clearance(
            state.x_cm,
            state.y_cm,
            state.heading_deg,
            direction,
            steer,
            self._lookahead,
            self.spec,
            segments,
            cutoff,
        )
        if abs(steer) >= geo.ARC_STEER_MIN:
            # Turning: also sweep the whole footprint along the arc, as far as stopping needs.
            speed = max(abs(throttle) * top, abs(state.speed_cm_s))
            need = geo.stopping_distance_cm(speed, hard.brake_decel_cm_s2, hard.reaction_s) + hard.fence_margin_cm
            arc = geo.arc_clearance(state.x_cm, state.y_cm, state.heading_deg, direction, steer,
                                    need + geo.ARC_STEP_CM, self.spec, segments)
            if arc.distance_cm < clear.distance_cm:
                clear = arc
        free = clear.distance_cm - hard.fence_margin_cm
        return self._envelope(free, state.speed_cm_s * direction, top), clear

    def _near_segments(self, x: float, y: float, cutoff: float) -> list[geo.Segment]:
        """The segments some fence test from (x, y) could see closer than `cutoff`; the rest are skipped.

        A segment D cm from the centre is seen no closer than D - _far_ray (rays, corners) and
        (D - _far_arc_r) / _far_arc_g - ARC_STEP_CM (the swept arc). Distances are cached: after moving
        m cm each is at least its cached value minus m (recomputed every FAR_REFRESH_CM of travel).
        """
        if not (math.isfinite(x) and math.isfinite(y)):
            return self._segments
        need = max(cutoff + self._far_ray, (cutoff + geo.ARC_STEP_CM) * self._far_arc_g + self._far_arc_r)
        need += geo.CULL_SLACK_CM
        at = self._far_at
        moved = 0.0 if at is None else math.hypot(x - at[0], y - at[1])
        if at is None or not moved < FAR_REFRESH_CM:
            dists = [geo.point_segment_distance(x, y, s) for s in self._segments]
            nearest_edge = {what: min((d for d, s in zip(dists, self._segments) if s.what == what), default=math.inf)
                            for _, what in self._zones}
            at = self._far_at = (x, y, dists, nearest_edge, min(dists))
            moved = 0.0
        reach = need + moved
        if at[4] >= reach:
            return []  # open floor: nothing within reach
        self._edge_reach = reach  # zone edges farther than this: the bumper cannot be over them
        return [s for s, d in zip(self._segments, at[2]) if d < reach]

    def _envelope(self, free_cm: float, speed_toward: float, top: float) -> float:
        """Throttle cap for `free_cm` of free path: a setpoint the car could stop from in time, and zero
        when the car is already moving too fast to stop in time (its speed lags the setpoint)."""
        hard = self.hard
        if speed_toward > 0 and geo.stopping_distance_cm(speed_toward, hard.brake_decel_cm_s2, hard.reaction_s) > free_cm:
            return 0.0
        return geo.allowed_speed_cm_s(free_cm, hard.brake_decel_cm_s2, hard.reaction_s) / top

    def _obstacle_cap(self, state: CarState, top: float) -> float:
        d = state.distance_cm
        if d is None or not math.isfinite(d):
            return math.inf
        return self._envelope(d - self.hard.obstacle_margin_cm, state.speed_cm_s, top)

    # --- reporting -----------------------------------------------------------------------------------

    @staticmethod
    def _state_name(binding: set[str], out: Command) -> SafetyState:
        # (Ramping, "slew", is normal driving, not an intervention.)
        if "watchdog" in binding:
            return "watchdog"
        if "fence" in binding or "obstacle" in binding:
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
        if "speed_limit" in binding and abs(want_t) > lim.max_throttle + CLIP_EPS:
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
            where = "ahead" if want_t >= 0 else "behind me"
            cm = max(0, round(clear.distance_cm)) if math.isfinite(clear.distance_cm) else 0
            verb = "I stopped" if caps["fence"] < CLIP_EPS else "I slowed down"
            events.append(self.report(
                now, "fence", f"{verb}: {thing} {cm} cm {where}",
                lambda: f"{clear.what} {clear.distance_cm:.0f} cm {where}; throttle {want_t:.2f} -> {out.throttle:.2f}",
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
