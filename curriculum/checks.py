"""The checks catalogue: each check measures one thing on a recording (or the program) and says it kindly.

A check returns a :class:`CheckResult` with the measured value, the threshold, a kid sentence for
pass or fail ("parked inside the box", "touched 2 cones") and evidence (when and where) for the
teacher. Geometry uses the car's footprint (a rectangle from CarSpec), so "touched a cone" means the
body overlapped it, not only the centre point. Everything here is pure and deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from curriculum.lesson import (CheckSpec, EndPose, FinishWithin, Lesson, MaxBlocks, PathLengthMax, ReachZone,
                               SlideAtLeast, Smooth, StayOutOfZone, TouchNoCone, TouchNoWall, TurnedAtLeast, UsesSkill)
from curriculum.program import ProgramInfo
from curriculum.recording import Recording, Sample
from robot_runtime.arena import Arena, NamedZone
from robot_runtime.hardware import CarSpec

MOVING_CM_S = 3.0  # slower than this counts as standing still (sim noise and creep stay below it)
STEER_DEADBAND = 0.15  # steering smaller than this is "straight" when counting left/right reversals
SLIDE_MIN_SPEED_CM_S = 20.0  # slip angles at a crawl are noise, not a drift
JERK_WINDOW_S = 0.25  # speed is differentiated over this window, so one noisy sample is not a "jerk"
WALL_SAMPLE_CM = 2.0  # walls are tested as points this far apart along the segment


class CheckResult(BaseModel):
    id: str
    kind: str
    required: bool
    passed: bool
    measured: float | None
    threshold: float | str | None
    unit: str = ""
    kid_text: str
    evidence: dict[str, Any] = {}


@dataclass(frozen=True)
class CheckContext:
    lesson: Lesson
    recording: Recording
    program: ProgramInfo
    spec: CarSpec = CarSpec()

    @property
    def arena(self) -> Arena:
        return self.lesson.arena

    @property
    def samples(self) -> list[Sample]:
        return self.recording.samples

    @property
    def end(self) -> Sample | None:
        return self.recording.samples[-1] if self.recording.samples else None


# --- geometry -----------------------------------------------------------------------------------


def car_corners(s: Sample, spec: CarSpec) -> list[tuple[float, float]]:
    h = math.radians(s.heading)
    c, n = math.cos(h), math.sin(h)
    hl, hw = spec.length_cm / 2, spec.width_cm / 2
    return [(s.x + c * dx - n * dy, s.y + n * dx + c * dy) for dx, dy in ((hl, hw), (hl, -hw), (-hl, -hw), (-hl, hw))]


def point_to_car_cm(px: float, py: float, s: Sample, spec: CarSpec) -> float:
    """Distance from a point to the car's body rectangle (0 when inside)."""
    h = math.radians(s.heading)
    dx, dy = px - s.x, py - s.y
    lx, ly = dx * math.cos(h) + dy * math.sin(h), -dx * math.sin(h) + dy * math.cos(h)
    ox, oy = max(abs(lx) - spec.length_cm / 2, 0.0), max(abs(ly) - spec.width_cm / 2, 0.0)
    return math.hypot(ox, oy)


def distance_to_zone(x: float, y: float, z: NamedZone) -> float:
    ox = max(z.x0 - x, 0.0, x - z.x1)
    oy = max(z.y0 - y, 0.0, y - z.y1)
    return math.hypot(ox, oy)


def heading_error(actual: float, target: float, either_direction: bool = False) -> float:
    err = abs((actual - target + 180.0) % 360.0 - 180.0)
    return min(err, 180.0 - err) if either_direction else err


def _wall_points(arena: Arena) -> list[tuple[float, float, float]]:
    pts: list[tuple[float, float, float]] = []
    for w in arena.walls:
        length = math.hypot(w.x1 - w.x0, w.y1 - w.y0)
        n = max(1, int(length / WALL_SAMPLE_CM))
        pts += [(w.x0 + (w.x1 - w.x0) * i / n, w.y0 + (w.y1 - w.y0) * i / n, w.thickness_cm / 2) for i in range(n + 1)]
    return pts


def _at(s: Sample) -> dict[str, float]:
    return {"t": round(s.t, 2), "x_cm": round(s.x, 1), "y_cm": round(s.y, 1)}


def _no_samples(spec: Any, ctx: CheckContext) -> CheckResult:
    return CheckResult(id=spec.check_id, kind=spec.kind, required=spec.required, passed=False, measured=None,
                       threshold=None, kid_text="the car did not move yet — press run and watch it go",
                       evidence={"samples": 0})


def _result(spec: Any, passed: bool, measured: float | None, threshold: Any, unit: str, ok: str, bad: str,
            evidence: dict[str, Any] | None = None) -> CheckResult:
    return CheckResult(id=spec.check_id, kind=spec.kind, required=spec.required, passed=passed,
                       measured=None if measured is None else round(float(measured), 3), threshold=threshold,
                       unit=unit, kid_text=ok if passed else bad, evidence=evidence or {})


# --- trajectory checks --------------------------------------------------------------------------


def reach_zone(spec: ReachZone, ctx: CheckContext) -> CheckResult:
    """The car's middle (the dot every picture draws on it) must be inside the zone: half the car or more."""
    if not ctx.samples:
        return _no_samples(spec, ctx)
    zone = ctx.arena.zone(spec.zone)
    label = zone.name.replace("_", " ")

    def away(d: float) -> str:
        return "just outside" if d < 1 else f"{d:.0f} cm away from"

    if spec.when == "end":
        d = distance_to_zone(ctx.end.x, ctx.end.y, zone)  # type: ignore[union-attr]
        return _result(spec, d == 0.0, d, 0.0, "cm", f"stopped inside the {label}",
                       f"stopped with its middle dot {away(d)} the {label}", _at(ctx.end))  # type: ignore[arg-type]
    best = min(ctx.samples, key=lambda s: distance_to_zone(s.x, s.y, zone))
    d = distance_to_zone(best.x, best.y, zone)
    return _result(spec, d == 0.0, d, 0.0, "cm", f"drove through the {label}",
                   f"came {away(d)} the {label} with its middle dot", _at(best))


def stay_out_of_zone(spec: StayOutOfZone, ctx: CheckContext) -> CheckResult:
    zone = ctx.arena.zone(spec.zone)
    inside = [s for s in ctx.samples if any(zone.contains(x, y) for x, y in car_corners(s, ctx.spec))
              or zone.contains(s.x, s.y)]
    label = zone.name.replace("_", " ")
    dt = _sample_period(ctx.samples)
    return _result(spec, not inside, len(inside) * dt, 0.0, "s", f"stayed out of the {label}",
                   f"drove into the {label}", _at(inside[0]) if inside else {})


def touch_no_cone(spec: TouchNoCone, ctx: CheckContext) -> CheckResult:
    touched: dict[int, dict[str, Any]] = {}
    for c in ctx.recording.collisions:
        w = str(c.get("with", ""))
        if w.startswith("cone"):
            idx = int(w.split(":")[1]) if ":" in w and w.split(":")[1].isdigit() else -1
            touched.setdefault(idx, {"t": c.get("t"), "x_cm": c.get("x_cm"), "y_cm": c.get("y_cm"), "by": "collision"})
    for i, cone in enumerate(ctx.arena.cones):
        if i in touched:
            continue
        for s in ctx.samples:
            if point_to_car_cm(cone.x_cm, cone.y_cm, s, ctx.spec) < cone.radius_cm:
                touched[i] = {**_at(s), "by": "footprint"}
                break
    n = len(touched)
    first = min(touched.items(), key=lambda kv: kv[1].get("t") or 0.0) if touched else None
    evidence = {"touched": sorted(touched), "first": {"cone": first[0], **first[1]}} if first else {"touched": []}
    return _result(spec, n <= spec.max_touches, n, spec.max_touches, "cones", "touched no cone" if n == 0 else
                   f"touched only {n} cone{'s' if n > 1 else ''}",
                   f"touched {n} cone{'s' if n > 1 else ''} — leave a little more room around them", evidence)


def touch_no_wall(spec: TouchNoWall, ctx: CheckContext) -> CheckResult:
    hits = [c for c in ctx.recording.collisions if str(c.get("with", "")).split(":")[0] in ("wall", "edge")]
    evidence: dict[str, Any] = {"t": hits[0].get("t"), "x_cm": hits[0].get("x_cm"), "y_cm": hits[0].get("y_cm"),
                                "by": "collision"} if hits else {}
    if not hits:
        pts = _wall_points(ctx.arena)
        for s in ctx.samples:
            outside = any(not (0 <= x <= ctx.arena.width_cm and 0 <= y <= ctx.arena.height_cm)
                          for x, y in car_corners(s, ctx.spec))
            if outside or any(point_to_car_cm(px, py, s, ctx.spec) < half for px, py, half in pts):
                evidence = {**_at(s), "by": "footprint"}
                break
    touched = bool(evidence)
    return _result(spec, not touched, float(touched), 0.0, "", "touched no wall",
                   "bumped into a wall — stop a bit earlier", evidence)


def stopped_at(samples: list[Sample]) -> float:
    """When the car stopped for the last time (seconds since start)."""
    moving = [s.t for s in samples if abs(s.speed) > MOVING_CM_S]
    return moving[-1] if moving else 0.0


def finish_within(spec: FinishWithin, ctx: CheckContext) -> CheckResult:
    if not ctx.samples:
        return _no_samples(spec, ctx)
    if not any(abs(s.speed) > MOVING_CM_S for s in ctx.samples):  # standing still is not finishing fast
        return _result(spec, False, None, spec.seconds, "s", "", "the car did not move yet — press run and watch it go",
                       {"moved": False})
    t = stopped_at(ctx.samples)
    cut = ctx.recording.end_reason == "time_limit"
    ok = t <= spec.seconds and not cut
    bad = "ran out of time — try fewer or shorter moves" if cut else f"took {t:.1f} s — the goal is {spec.seconds:g} s"
    return _result(spec, ok, t, spec.seconds, "s", f"finished in {t:.1f} s", bad, {"end_reason": ctx.recording.end_reason})


def end_pose(spec: EndPose, ctx: CheckContext) -> CheckResult:
    if not ctx.samples:
        return _no_samples(spec, ctx)
    end = ctx.end
    assert end is not None
    evidence: dict[str, Any] = {**_at(end), "heading_deg": round(end.heading, 1)}
    target_heading = spec.heading_deg
    if spec.zone is not None:
        zone = ctx.arena.zone(spec.zone)
        target_heading = zone.heading_deg if target_heading is None else target_heading
        points = car_corners(end, ctx.spec) if spec.whole_car else [(end.x, end.y)]
        miss = max(distance_to_zone(x, y, zone) for x, y in points)
        where_ok, where_bad = f"parked inside the {zone.name.replace('_', ' ')}", \
            f"the car stuck out of the {zone.name.replace('_', ' ')} by {miss:.0f} cm"
        pos_ok = miss == 0.0
    else:
        miss = math.hypot(end.x - spec.x_cm, end.y - spec.y_cm)  # type: ignore[operator]
        where_ok, where_bad = "stopped right on the spot", f"stopped {miss:.0f} cm from the spot"
        pos_ok = miss <= spec.tolerance_cm
    evidence["position_error_cm"] = round(miss, 1)
    head_ok, herr = True, 0.0
    if target_heading is not None:
        herr = heading_error(end.heading, target_heading, spec.either_direction)
        head_ok = herr <= spec.heading_tolerance_deg
        evidence["heading_error_deg"] = round(herr, 1)
    if pos_ok and not head_ok:
        where_bad = f"{where_ok}, but {herr:.0f}° crooked — straighten up at the end"
    return _result(spec, pos_ok and head_ok, miss, spec.tolerance_cm if spec.zone is None else 0.0, "cm",
                   where_ok + (" and straight" if target_heading is not None else ""), where_bad, evidence)


def path_length(samples: list[Sample]) -> float:
    return sum(math.hypot(b.x - a.x, b.y - a.y) for a, b in zip(samples, samples[1:]))


def path_length_max(spec: PathLengthMax, ctx: CheckContext) -> CheckResult:
    d = path_length(ctx.samples)
    return _result(spec, d <= spec.cm, d, spec.cm, "cm", f"took a short path ({d:.0f} cm)",
                   f"drove {d:.0f} cm — the shortest way is under {spec.cm:g} cm")


def _sample_period(samples: list[Sample]) -> float:
    return (samples[-1].t - samples[0].t) / (len(samples) - 1) if len(samples) > 1 else 0.05


def steering_reversals(samples: list[Sample]) -> int:
    side, flips = 0, 0
    for s in samples:
        now = 1 if s.steering > STEER_DEADBAND else -1 if s.steering < -STEER_DEADBAND else 0
        if now and side and now != side:
            flips += 1
        side = now or side
    return flips


def max_jerk(samples: list[Sample]) -> float:
    dt = _sample_period(samples)
    k = max(1, round(JERK_WINDOW_S / dt)) if dt > 0 else 1
    acc = [(samples[i + k].speed - samples[i].speed) / (samples[i + k].t - samples[i].t)
           for i in range(0, len(samples) - k) if samples[i + k].t > samples[i].t]
    jerks = [abs(acc[i + k] - acc[i]) / (k * dt) for i in range(0, len(acc) - k)] if dt > 0 else []
    return max(jerks, default=0.0)


def smooth(spec: Smooth, ctx: CheckContext) -> CheckResult:
    flips, jerk = steering_reversals(ctx.samples), max_jerk(ctx.samples)
    ok = flips <= spec.max_steering_reversals and jerk <= spec.max_jerk_cm_s3
    bad = (f"wiggled left and right {flips} times — plan the turns, then drive"
           if flips > spec.max_steering_reversals else "had a few jerky starts and stops — try a gentler speed")
    return _result(spec, ok, flips, spec.max_steering_reversals, "steering reversals", "drove smoothly", bad,
                   {"max_jerk_cm_s3": round(jerk), "jerk_limit_cm_s3": spec.max_jerk_cm_s3})


def total_turn(samples: list[Sample]) -> float:
    """Largest net heading change from the start (unwrapped), in degrees."""
    best, acc = 0.0, 0.0
    for a, b in zip(samples, samples[1:]):
        acc += (b.heading - a.heading + 180.0) % 360.0 - 180.0
        best = max(best, abs(acc))
    return best


def turned_at_least(spec: TurnedAtLeast, ctx: CheckContext) -> CheckResult:
    turned = total_turn(ctx.samples)
    return _result(spec, turned >= spec.degrees, turned, spec.degrees, "°", f"spun {turned:.0f}° around",
                   f"turned {turned:.0f}° — the trick needs {spec.degrees:g}°")


def slide_at_least(spec: SlideAtLeast, ctx: CheckContext) -> CheckResult:
    slides = [s for s in ctx.samples if abs(s.speed) >= SLIDE_MIN_SPEED_CM_S]
    best = max(slides, key=lambda s: abs(s.slip), default=None)
    slip = abs(best.slip) if best else 0.0
    return _result(spec, slip >= spec.degrees, slip, spec.degrees, "°", f"slid sideways {slip:.0f}° — a real drift",
                   f"slid only {slip:.0f}° — a drift needs {spec.degrees:g}°", _at(best) if best else {})


# --- program checks -----------------------------------------------------------------------------


def uses_loop(spec: Any, ctx: CheckContext) -> CheckResult:
    ok = ctx.program.uses_loop
    return _result(spec, ok, float(ok), 1.0, "", "used a repeat loop",
                   "no loop yet — a repeat block can do the same moves again for you")


def uses_distance_sensor(spec: Any, ctx: CheckContext) -> CheckResult:
    ok = ctx.program.uses_distance_sensor
    return _result(spec, ok, float(ok), 1.0, "", "used the distance sensor",
                   "the distance sensor was not used — let it tell the car when to stop")


def uses_condition(spec: Any, ctx: CheckContext) -> CheckResult:
    ok = ctx.program.uses_condition or ctx.program.uses_variable
    return _result(spec, ok, float(ok), 1.0, "", "made the car decide with a condition",
                   "no if or until yet — let the car decide with a condition")


def uses_skill(spec: UsesSkill, ctx: CheckContext) -> CheckResult:
    ok = spec.skill in ctx.program.skills
    return _result(spec, ok, float(ok), spec.skill, "", f"used the {spec.skill.replace('_', ' ')} skill",
                   f"try the do skill [{spec.skill}] block")


def max_blocks(spec: MaxBlocks, ctx: CheckContext) -> CheckResult:
    n = ctx.program.block_count
    bad = "no blocks yet — drag a block into the program" if n == 0 else f"used {n} blocks — can you do it with {spec.n}?"
    return _result(spec, 1 <= n <= spec.n, n, spec.n, "blocks", f"did it with only {n} block{'s' if n != 1 else ''}",
                   bad)


CATALOGUE: dict[str, Callable[[Any, CheckContext], CheckResult]] = {
    "reach_zone": reach_zone, "stay_out_of_zone": stay_out_of_zone, "touch_no_cone": touch_no_cone,
    "touch_no_wall": touch_no_wall, "finish_within": finish_within, "end_pose": end_pose,
    "path_length_max": path_length_max, "smooth": smooth, "turned_at_least": turned_at_least,
    "slide_at_least": slide_at_least, "uses_loop": uses_loop, "uses_distance_sensor": uses_distance_sensor,
    "uses_condition": uses_condition, "uses_skill": uses_skill, "max_blocks": max_blocks,
}


def run_check(spec: CheckSpec, ctx: CheckContext) -> CheckResult:
    return CATALOGUE[spec.kind](spec, ctx)
