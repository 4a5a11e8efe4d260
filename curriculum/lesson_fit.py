"""Which lessons fit a home arena, and how a lesson's layout is moved or shrunk to fit one.

A lesson brings its own arena (size, start, zones, cones, walls), made for a classroom floor. A home
arena measured by the set-up wizard is often smaller. For each lesson, best first:

- ``fits``: the lesson's whole arena fits; it is used as it is (both share the lower-left corner).
- ``moved``: the part the lesson uses (start, zones, cones, walls, plus room to turn) fits; the layout
  is moved so that part sits inside the home arena, and the arena takes the home size.
- ``scaled``: even that part is too big, but shrunk to no less than MIN_SCALE it fits: every position
  and zone is scaled about the lower-left corner (cones and the car keep their size). The kid's
  distances shrink too, so the lesson says so.
- ``too_big``: it would have to shrink below MIN_SCALE (a car cannot turn in it): not offered.

The result is a plain :class:`robot_runtime.arena.Arena`, validated like any lesson's.
:func:`fitted_lesson` gives the whole lesson on the home floor: its arena, and its checks that name a
point (``end_pose`` with ``x_cm``/``y_cm``) or a length (``path_length_max``) moved and scaled with it;
checks on zones follow their zones by name. Both the set-up wizard (which lessons fit) and the lessons
feature (what a car on the home floor runs and is graded on) use it: it lives here, below them both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from curriculum.lesson import EndPose, Lesson, PathLengthMax
from robot_runtime.arena import Arena, Cone, NamedZone, Wall
from robot_runtime.protocol import Pose

TURN_ROOM_CM = 60.0  # a 1/10 car's tightest circle has a 51 cm radius: room around what the lesson uses
MIN_SCALE = 0.6  # smaller, the turning circle no longer fits the layout's gaps

FitKind = Literal["fits", "moved", "scaled", "too_big"]


@dataclass(frozen=True)
class Fit:
    kind: FitKind
    arena: Arena | None  # the lesson's arena in this home (None: too big)
    scale: float = 1.0
    offset_cm: tuple[float, float] = (0.0, 0.0)

    def words(self, home: Arena) -> str:
        if self.kind == "fits":
            return "Fits as it is."
        if self.kind == "moved":
            return (f"Fits when moved {self.offset_cm[0]:+.0f} cm sideways and {self.offset_cm[1]:+.0f} cm up: "
                    "the layout was moved for you.")
        if self.kind == "scaled":
            return (f"Shrunk to {self.scale * 100:.0f} % to fit your {home.width_cm:.0f} x {home.height_cm:.0f} cm "
                    "floor: distances in this lesson are shorter too.")
        return f"Needs a bigger floor than {home.width_cm:.0f} x {home.height_cm:.0f} cm."


def used_box(arena: Arena) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): what the lesson uses, with room to turn, inside its own arena."""
    xs = [arena.start.x_cm]
    ys = [arena.start.y_cm]
    for z in arena.zones:
        xs += [z.x0, z.x1]
        ys += [z.y0, z.y1]
    for c in arena.cones:
        xs += [c.x_cm - c.radius_cm, c.x_cm + c.radius_cm]
        ys += [c.y_cm - c.radius_cm, c.y_cm + c.radius_cm]
    for w in arena.walls:
        xs += [w.x0, w.x1]
        ys += [w.y0, w.y1]
    return (max(0.0, min(xs) - TURN_ROOM_CM), max(0.0, min(ys) - TURN_ROOM_CM),
            min(arena.width_cm, max(xs) + TURN_ROOM_CM), min(arena.height_cm, max(ys) + TURN_ROOM_CM))


def _transform(arena: Arena, home: Arena, scale: float, dx: float, dy: float) -> Arena:
    def x(v: float) -> float:
        return round((v + dx) * scale, 1)

    def y(v: float) -> float:
        return round((v + dy) * scale, 1)

    def inside(px: float, py: float) -> bool:
        return 0.0 <= px <= home.width_cm and 0.0 <= py <= home.height_cm

    walls = [Wall(x0=x(w.x0), y0=y(w.y0), x1=x(w.x1), y1=y(w.y1), thickness_cm=w.thickness_cm) for w in arena.walls]
    cones = [Cone(x_cm=x(c.x_cm), y_cm=y(c.y_cm), radius_cm=c.radius_cm) for c in arena.cones]
    zones = [z.model_copy(update={"x0": x(z.x0), "y0": y(z.y0), "x1": x(z.x1), "y1": y(z.y1)}) for z in arena.zones]
    return Arena(name=arena.name, width_cm=home.width_cm, height_cm=home.height_cm,
                 start=Pose(x_cm=x(arena.start.x_cm), y_cm=y(arena.start.y_cm), heading_deg=arena.start.heading_deg),
                 walls=[w for w in walls if inside(w.x0, w.y0) and inside(w.x1, w.y1)],
                 cones=[c for c in cones if inside(c.x_cm, c.y_cm)],
                 zones=[NamedZone.model_validate(z.model_dump()) for z in zones], markers=home.markers)


def fit_lesson(arena: Arena, home: Arena) -> Fit:
    """How the lesson's `arena` goes into the `home` arena (see the module's doc)."""
    if arena.width_cm <= home.width_cm and arena.height_cm <= home.height_cm:
        return Fit("fits", _transform(arena, home.model_copy(update={"width_cm": arena.width_cm,
                                                                     "height_cm": arena.height_cm}), 1.0, 0.0, 0.0))
    x0, y0, x1, y1 = used_box(arena)
    bw, bh = x1 - x0, y1 - y0
    if bw <= home.width_cm and bh <= home.height_cm:
        # shift only as far as needed along each axis (bw <= width, so x1 - width <= x0: nothing falls off)
        dx = -(x1 - home.width_cm) if x1 > home.width_cm else 0.0
        dy = -(y1 - home.height_cm) if y1 > home.height_cm else 0.0
        return Fit("moved", _transform(arena, home, 1.0, dx, dy), 1.0, (dx, dy))
    scale = min(home.width_cm / bw, home.height_cm / bh)
    if scale < MIN_SCALE:
        return Fit("too_big", None, scale)
    return Fit("scaled", _transform(arena, home, scale, -x0, -y0), round(scale, 3), (-x0, -y0))


def fitted_lesson(lesson: Lesson, home: Arena) -> tuple[Fit, Lesson | None]:
    """(how it fits, the lesson as it runs on the `home` floor); None when it is too big for it.

    The arena is :func:`fit_lesson`'s; a check's point is moved (and scaled) like everything else, a
    path-length limit shrinks with a scaled layout. Everything else (seconds, degrees, blocks) is kept."""
    fit = fit_lesson(lesson.arena, home)
    if fit.arena is None:
        return fit, None
    (dx, dy), k = fit.offset_cm, fit.scale
    checks = []
    for check in lesson.checks:
        if isinstance(check, EndPose) and check.x_cm is not None and check.y_cm is not None:
            check = check.model_copy(update={"x_cm": round((check.x_cm + dx) * k, 1),
                                             "y_cm": round((check.y_cm + dy) * k, 1)})
        elif isinstance(check, PathLengthMax) and k != 1.0:
            check = check.model_copy(update={"cm": round(check.cm * k, 1)})
        checks.append(check)
    data = lesson.model_dump(mode="json")
    data.update(arena=fit.arena.model_dump(mode="json"), checks=[c.model_dump(mode="json") for c in checks])
    return fit, Lesson.model_validate(data)
