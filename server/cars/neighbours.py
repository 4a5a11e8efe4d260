"""The neighbours relay: every car hears where the cars near it are, so it can keep off them.

Where the cars are comes from the classroom's events: "telemetry" (each car's own pose and speed) and
"tracked_pose" (the overhead camera's, Classroom.on_tracked_pose); a camera pose younger than
TRACKED_FRESH_S wins over telemetry (it is the truth for a real car). NEIGHBOURS_HZ times a second,
each connected car gets a ``neighbours`` message (protocol.Neighbours) with the cars on its floor within
NEIGHBOUR_RADIUS_CM of it: pose, world velocity, footprint, how old the pose is and how sure it is; and,
when the camera sees the car itself, that pose as ``own`` (its external pose: a real car fuses it). The
car's supervisor treats them as moving obstacles, its simulator as solid bodies (robot_runtime/neighbours.py,
robot_runtime/sim/bodies.py).

The floor: real cars share the room; simulated cars share the classroom's default arena (the demo's
floor) when ``ServerConfig.sim_cars_see_each_other`` is on (``dojo demo --cars-see-each-other``);
a simulated car in a lesson's own arena is alone in its world. A car whose list has just become
empty gets one empty list (so it forgets the cars that left); quiet floors send nothing.

What the relay can do to a car is only ever "avoid this too": the car adds the regions to its own walls
and limits, which nothing here can remove or loosen (docs/threat-model.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from robot_runtime.config import HardLimits
from robot_runtime.fence import stopping_distance_cm
from robot_runtime.hardware import CarSpec
from robot_runtime.protocol import MAX_NEIGHBOURS, NEIGHBOURS_HZ, NearbyCar, Neighbours, Telemetry
from server.cars.hub import CAR_HUB
from server.core.types import TrackedPose
from server.web.state import CLASSROOM
from server.web.tasks import periodic

log = logging.getLogger(__name__)

# Two cars closing at full speed (2 x 300 cm/s) each need ~2 m to stop (1.05 s); 5 m covers both and a car.
NEIGHBOUR_RADIUS_CM = 500.0
TRACKED_FRESH_S = 0.5  # a camera pose older than this gives way to the car's own telemetry
FOOTPRINT = CarSpec()  # cars do not report their size yet: every car is the standard 1/10 car (40 x 20 cm)
STOP_LIMITS = HardLimits()  # how far a car that lost its link may still roll (its watchdog stops it)


@dataclass(frozen=True)
class Seen:
    x: float
    y: float
    heading: float
    vx: float
    vy: float
    uncertainty: float
    t: float  # server monotonic time of the pose
    source: str  # "telemetry" | "camera"


def _nearby(car_id: str, seen: Seen, now: float) -> NearbyCar:
    return NearbyCar(car_id=car_id, x_cm=seen.x, y_cm=seen.y, heading_deg=seen.heading, vx_cm_s=_v(seen.vx),
                     vy_cm_s=_v(seen.vy), length_cm=FOOTPRINT.length_cm, width_cm=FOOTPRINT.width_cm,
                     age_s=max(0.0, now - seen.t), uncertainty_cm=min(seen.uncertainty, 100_000.0), source=seen.source)


def from_telemetry(tm: Telemetry, t: float) -> Seen:
    h = math.radians(tm.pose.heading_deg + tm.slip_deg)  # the velocity's direction: heading plus slip
    v = tm.speed_cm_s
    return Seen(tm.pose.x_cm, tm.pose.y_cm, tm.pose.heading_deg, v * math.cos(h), v * math.sin(h),
                tm.pose_uncertainty_cm or 0.0, t, "telemetry")


def from_tracked(tp: TrackedPose) -> Seen:
    return Seen(tp.x_cm, tp.y_cm, tp.heading_deg, tp.vx_cm_s, tp.vy_cm_s, tp.uncertainty_cm, tp.t, "camera")


class NeighbourRelay:
    def __init__(self, classroom, emit: Callable, connected: Callable[[], list[str]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.classroom = classroom
        self._emit = emit  # async (car_id, payload dict) -> None
        self._connected = connected
        self._clock = clock
        self.telemetry: dict[str, Seen] = {}
        self.tracked: dict[str, Seen] = {}
        self.parked: dict[str, Seen] = {}  # real cars whose link dropped: standing where they stopped
        self._had: set[str] = set()  # cars whose last list was not empty
        self._kinds: dict[str, str] = {}  # "sim" | "real", looked up once per connection (not every round)
        self.seq = 0
        self.sent = 0
        ev = classroom.events
        ev.subscribe("telemetry", self._on_telemetry)
        ev.subscribe("tracked_pose", self._on_tracked)
        ev.subscribe("car_disconnected", self._on_disconnected)
        ev.subscribe("car_connected", self._on_connected)

    # --- where the cars are -----------------------------------------------------------------------

    def _on_telemetry(self, car_id: str, tm: Telemetry) -> None:
        self.telemetry[car_id] = from_telemetry(tm, self._clock())

    def _on_tracked(self, car_id: str, tp: TrackedPose) -> None:
        self.tracked[car_id] = from_tracked(tp)

    def _on_connected(self, car_id: str) -> None:
        self.parked.pop(car_id, None)
        self._kinds[car_id] = self.classroom.car_info(car_id).kind

    def _on_disconnected(self, car_id: str) -> None:
        last = self.telemetry.pop(car_id, None)
        self._had.discard(car_id)
        if last is not None and self._kind(car_id) == "real":
            # Still on the floor: its watchdog stops it within the distance it needs to stop.
            speed = math.hypot(last.vx, last.vy)
            roll = stopping_distance_cm(speed, STOP_LIMITS.brake_decel_cm_s2, STOP_LIMITS.reaction_s)
            self.parked[car_id] = Seen(last.x, last.y, last.heading, 0.0, 0.0, last.uncertainty + roll, last.t,
                                       "telemetry")

    def _kind(self, car_id: str) -> str:
        kind = self._kinds.get(car_id)
        if kind is None:
            kind = self._kinds[car_id] = self.classroom.car_info(car_id).kind
        return kind

    def where(self, car_id: str, now: float) -> Seen | None:
        cam = self.tracked.get(car_id)
        if cam is not None and now - cam.t <= TRACKED_FRESH_S:
            return cam
        return self.telemetry.get(car_id) or self.parked.get(car_id) or cam

    def floor(self, car_id: str) -> str | None:
        """Which floor a car drives on (None: a world of its own)."""
        if self._kind(car_id) == "real":
            return "room"
        if not self.classroom.config.sim_cars_see_each_other:
            return None
        return "shared" if self.classroom.arena_for_car(car_id) is self.classroom.default_arena else None

    # --- what each car hears --------------------------------------------------------------------------

    def lists(self, now: float) -> dict[str, Neighbours]:
        """The neighbours message for every connected car whose list is not empty (or just became so)."""
        connected = self._connected()
        on_floor: dict[str, list[tuple[str, Seen]]] = {}
        for car_id in {*connected, *self.parked}:
            floor = self.floor(car_id)
            seen = self.where(car_id, now)
            if floor is not None and seen is not None:
                on_floor.setdefault(floor, []).append((car_id, seen))
        out: dict[str, Neighbours] = {}
        for car_id in connected:
            floor = self.floor(car_id)
            me = self.where(car_id, now)
            near: list[tuple[float, NearbyCar]] = []
            for other, seen in on_floor.get(floor, []) if floor is not None else []:
                if other == car_id:
                    continue
                d = math.hypot(seen.x - me.x, seen.y - me.y) if me is not None else 0.0
                if d <= NEIGHBOUR_RADIUS_CM:
                    near.append((d, _nearby(other, seen, now)))
            cars = [c for _, c in sorted(near, key=lambda item: item[0])[:MAX_NEIGHBOURS]]
            own = _nearby(car_id, me, now) if me is not None and me.source == "camera" else None
            if cars or own is not None or car_id in self._had:
                out[car_id] = Neighbours(seq=self.seq, cars=cars, own=own)
            if cars:
                self._had.add(car_id)
            else:
                self._had.discard(car_id)
        return out

    async def send(self) -> None:
        self.seq += 1
        for car_id, msg in self.lists(self._clock()).items():
            try:
                await self._emit(car_id, msg.model_dump(mode="json"))
                self.sent += 1
            except ConnectionError:  # gone since: the next round leaves it out
                log.debug("neighbours for %s not sent: not connected", car_id)


def _v(v: float) -> float:
    return max(-5000.0, min(5000.0, v))


NEIGHBOURS: web.AppKey[NeighbourRelay] = web.AppKey("neighbours", NeighbourRelay)


def setup(app: web.Application) -> None:
    """The relay on the classroom's events, sending through the /car hub at NEIGHBOURS_HZ."""
    hub = app[CAR_HUB]

    async def emit(car_id: str, payload: dict) -> None:
        await hub.send_neighbours(car_id, payload)

    app[NEIGHBOURS] = NeighbourRelay(app[CLASSROOM], emit, lambda: list(hub.sid_of))

    async def step(app: web.Application) -> None:
        await app[NEIGHBOURS].send()

    app.cleanup_ctx.append(periodic("neighbours", 1.0 / NEIGHBOURS_HZ, step))
