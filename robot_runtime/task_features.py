"""A trick as geometry: gates to pass and a box to stop in, the car's progress through them, and the
task features a learned policy observes. I/O-free; the same code runs in training and on the car.

    task = TaskSpec(kind="slalom", goal_zone="finish")
    tracker = TaskTracker(task, arena)       # raises TaskError if the arena lacks what the task needs
    tracker.start(state)
    status = tracker.update(state)           # "running" | "done" | "failed" (passed a gate on the wrong side)
    row = tracker.features(state)            # floats in TASK_FIELDS order

Geometry comes from the arena alone, so every run of a trick in the same arena has the same course:
- the course frame is the arena's start pose (x ahead along its heading, y to the left);
- gates (when ``task.gates``): the arena's cones in a corridor ahead of the start pose, in order of
  distance; the first is passed on ``first_side`` of the car, the next on the other side, and so on. A
  gate is passed when the car's centre gets level with its cone; on the wrong side the task fails;
- the goal: the arena zone ``goal_zone``; the task is done when every gate is passed and the car's
  whole footprint is inside the zone, lined up with the zone's heading (if it has one and
  ``heading_tolerance_deg`` is set), and stopped.

Features are relative to the car (its frame: ahead, left), so a policy learns "the box is ahead and a
bit left", not where the box happens to be in one arena.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from robot_runtime.arena import Arena, NamedZone
from robot_runtime.hardware import CarSpec, CarState

GATE_MIN_AHEAD_CM = 40.0  # a cone under the car's nose at the start is not part of the course
GATE_MAX_AHEAD_CM = 800.0
GATE_CORRIDOR_CM = 60.0  # cones this far either side of the course line are gates
GATE_CLEARANCE_CM = 9.0  # the pass point leaves this gap between the car's side and the cone (as the scripted slalom)
SETTLED_CM_S = 4.0  # slower than this, inside the box, counts as parked (the ESC snaps to rest below ~1 cm/s)
NO_CONE_AHEAD_CM = -500.0  # an arena without cones: "the nearest cone" is far behind, out of the way

TASK_FIELDS = (
    "goal_ahead_cm", "goal_left_cm",  # the goal box's centre, in the car's frame
    "goal_sin", "goal_cos",  # the box's axis relative to the car's heading (0, 1 when the box has no axis)
    "gate_ahead_cm", "gate_left_cm",  # where to pass the next gate (the goal's centre once all are passed)
    "gate_side",  # +1: pass the next cone with it on my right (I go left of it); -1 the other way; 0 none left
    "gates_left",  # how many gates are still to pass
    "cone_ahead_cm", "cone_left_cm",  # the nearest cone, in the car's frame
)
FIELD_INDEX = {name: i for i, name in enumerate(TASK_FIELDS)}
# What a learned trick observes: its speed and forward sensor, then the task features. Not the yaw rate:
# it gives away the steering already applied, and a cloned policy then learns to keep steering as it
# is (it copies its own past instead of reacting to the course: late, oscillating turns).
BASE_FIELDS = ("speed_cm_s", "distance_cm")
OBSERVATION_FIELDS = BASE_FIELDS + TASK_FIELDS

TaskStatus = Literal["running", "done", "failed"]


class TaskError(ValueError):
    """An arena that does not fit the task (no goal zone, not enough cones); the message says the fix."""


class TaskSpec(BaseModel):
    """What a trick asks for (part of a learned skill's manifest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]  # park, slalom, ...
    goal_zone: Annotated[str, Field(min_length=1, max_length=40)]
    gates: bool = False
    min_gates: Annotated[int, Field(ge=0, le=20)] = 0  # the arena must have at least this many cones on the course
    first_side: Literal["left", "right"] = "left"
    heading_tolerance_deg: Annotated[float, Field(gt=0, le=90)] | None = None  # None: any heading in the box


@dataclass(frozen=True)
class TaskGate:
    index: int
    cone_x: float  # world
    cone_y: float
    ahead_cm: float  # the cone, in the course frame
    lateral_cm: float
    side: int  # +1: the car passes on the cone's left (course frame), -1 on its right
    pass_x: float  # world point beside the cone where the car's centre should go
    pass_y: float


def _local(x: float, y: float, ox: float, oy: float, c: float, s: float) -> tuple[float, float]:
    dx, dy = x - ox, y - oy
    return dx * c + dy * s, -dx * s + dy * c


def course_gates(task: TaskSpec, arena: Arena, spec: CarSpec) -> list[TaskGate]:
    """The gates of this task in this arena (empty when the task has none)."""
    if not task.gates:
        return []
    st = arena.start
    h = math.radians(st.heading_deg)
    c, s = math.cos(h), math.sin(h)
    found = []
    for cone in arena.cones:
        ax, ly = _local(cone.x_cm, cone.y_cm, st.x_cm, st.y_cm, c, s)
        if GATE_MIN_AHEAD_CM <= ax <= GATE_MAX_AHEAD_CM and abs(ly) <= GATE_CORRIDOR_CM:
            found.append((ax, ly, cone))
    found.sort(key=lambda f: f[0])
    if len(found) < max(1, task.min_gates):
        raise TaskError(f"{task.kind} needs at least {max(1, task.min_gates)} cones in a line ahead of the arena's "
                        f"start pose (found {len(found)} in arena '{arena.name}'); put cones "
                        f"{GATE_MIN_AHEAD_CM:g}-{GATE_MAX_AHEAD_CM:g} cm ahead of the start, within "
                        f"{GATE_CORRIDOR_CM:g} cm of its line")
    first = 1 if task.first_side == "left" else -1
    gates = []
    for k, (ax, ly, cone) in enumerate(found):
        side = first if k % 2 == 0 else -first
        off = ly + side * (cone.radius_cm + spec.width_cm / 2.0 + GATE_CLEARANCE_CM)
        px, py = st.x_cm + ax * c - off * s, st.y_cm + ax * s + off * c
        gates.append(TaskGate(k, cone.x_cm, cone.y_cm, ax, ly, side, px, py))
    return gates


def footprint_inside(zone: NamedZone, x: float, y: float, heading_deg: float, spec: CarSpec) -> bool:
    h = math.radians(heading_deg)
    c, s = math.cos(h), math.sin(h)
    hl, hw = spec.length_cm / 2.0, spec.width_cm / 2.0
    return all(zone.contains(x + a * hl * c - b * hw * s, y + a * hl * s + b * hw * c)
               for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1)))


class TaskTracker:
    """One run of a task: which gate is next, whether the car has finished, and the features."""

    def __init__(self, task: TaskSpec, arena: Arena, spec: CarSpec | None = None) -> None:
        self.task = task
        self.arena = arena
        self.spec = spec or CarSpec()
        try:
            self.goal = arena.zone(task.goal_zone)
        except KeyError as exc:
            raise TaskError(f"{task.kind} needs a zone named '{task.goal_zone}' to finish in: {exc.args[0]}") from None
        self.gates = course_gates(task, arena, self.spec)
        st = arena.start
        h = math.radians(st.heading_deg)
        self._course = (st.x_cm, st.y_cm, math.cos(h), math.sin(h))
        self._gx, self._gy = (self.goal.x0 + self.goal.x1) / 2.0, (self.goal.y0 + self.goal.y1) / 2.0
        self._axis = None if self.goal.heading_deg is None else math.radians(self.goal.heading_deg)
        self._cones = [(cn.x_cm, cn.y_cm) for cn in arena.cones]
        self.next_gate = 0
        self.status: TaskStatus = "running"
        self.kid_text = ""
        self._start_distance = 1.0

    @property
    def goal_centre(self) -> tuple[float, float]:
        return self._gx, self._gy

    def start(self, state: CarState) -> None:
        self.next_gate = 0
        self.status, self.kid_text = "running", ""
        self._start_distance = max(1.0, math.hypot(self._gx - state.x_cm, self._gy - state.y_cm))
        self.update(state)

    def progress(self, state: CarState) -> float:
        """0..1 for a progress bar: gates passed, and how much closer to the box; 1 only when done."""
        if self.status == "done":
            return 1.0
        closer = 1.0 - math.hypot(self._gx - state.x_cm, self._gy - state.y_cm) / self._start_distance
        return min(0.99, (self.next_gate + max(0.0, min(1.0, closer))) / (len(self.gates) + 1))

    def in_goal(self, state: CarState) -> bool:
        """The whole car inside the goal zone, lined up if the task asks for it."""
        if not footprint_inside(self.goal, state.x_cm, state.y_cm, state.heading_deg, self.spec):
            return False
        tol = self.task.heading_tolerance_deg
        if tol is None or self._axis is None:
            return True
        err = (math.radians(state.heading_deg) - self._axis + math.pi) % (2 * math.pi) - math.pi
        return abs(math.degrees(err)) <= tol

    def update(self, state: CarState) -> TaskStatus:
        if self.status != "running":
            return self.status
        ox, oy, c, s = self._course
        ahead, left = _local(state.x_cm, state.y_cm, ox, oy, c, s)
        while self.next_gate < len(self.gates) and ahead >= self.gates[self.next_gate].ahead_cm:
            g = self.gates[self.next_gate]
            if (left - g.lateral_cm) * g.side <= 0:
                self.status = "failed"
                want = "left" if g.side > 0 else "right"
                self.kid_text = f"I went the wrong way round cone {g.index + 1} — I should pass on its {want}."
                return self.status
            self.next_gate += 1
        if self.next_gate == len(self.gates) and abs(state.speed_cm_s) < SETTLED_CM_S and self.in_goal(state):
            self.status = "done"
            self.kid_text = f"{self.task.kind.replace('_', ' ').capitalize()} done — I stopped in the {self.goal.name.replace('_', ' ')}!"
        return self.status

    def features(self, state: CarState) -> list[float]:
        """The task features (TASK_FIELDS order) for this state; call update first in each tick."""
        x, y = state.x_cm, state.y_cm
        h = math.radians(state.heading_deg)
        c, s = math.cos(h), math.sin(h)
        ga, gl = _local(self._gx, self._gy, x, y, c, s)
        if self._axis is None:
            gs, gc = 0.0, 1.0
        else:
            gs, gc = math.sin(self._axis - h), math.cos(self._axis - h)
        left = len(self.gates) - self.next_gate
        if left > 0:
            g = self.gates[self.next_gate]
            pa, pl = _local(g.pass_x, g.pass_y, x, y, c, s)
            side = float(g.side)
        else:
            pa, pl, side = ga, gl, 0.0
        if self._cones:
            cx, cy = min(self._cones, key=lambda p: (p[0] - x) ** 2 + (p[1] - y) ** 2)
            ca, cl = _local(cx, cy, x, y, c, s)
        else:
            ca, cl = NO_CONE_AHEAD_CM, 0.0
        return [ga, gl, gs, gc, pa, pl, side, float(left), ca, cl]


def observation_row(state: CarState, task_row: list[float], sensor_range_cm: float) -> list[float]:
    """OBSERVATION_FIELDS for one state, unscaled (the policy runner's getters give the same numbers:
    distance_cm is the sensor range when the sensor sees nothing, as the manifest's `missing` says)."""
    d = sensor_range_cm if state.distance_cm is None else state.distance_cm
    return [state.speed_cm_s, d, *task_row]
