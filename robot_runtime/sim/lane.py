"""SimLane: one simulated car behind its own safety supervisor, stepped by hand.

The control loop's tick without the executor, for code that drives the car itself one tick at a time
(recording demonstrations, batched policy evaluation, the Gymnasium environment):

    lane = SimLane(arena, pose)
    state = lane.read()                  # the car's state now (collisions since the last read)
    sent = lane.apply(wish)              # supervisor.filter -> car.apply -> advance one tick

Every command passes ``SafetySupervisor.filter`` exactly as in ControlLoop.tick; the lane keeps what
an evaluation reports: collisions, safety events, interventions per reason, the smallest clearance.
No server, so no link watchdog (as in every headless run).
"""

from __future__ import annotations

import math
from collections import Counter

from robot_runtime.arena import Arena
from robot_runtime.config import DEFAULT_RATE_HZ, HardLimits
from robot_runtime.hardware import CarSpec, CarState, Command
from robot_runtime.protocol import CollisionEvent, Pose, SafetyEvent, SessionLimits
from robot_runtime.safety import SafetySupervisor
from robot_runtime.sim.car import SimCar
from robot_runtime.sim.noise import NoiseSpec

CLEARANCE_CAP_CM = 100.0  # clearance is measured up to this far; farther counts as "open floor"
# Reasons that mean the supervisor had to protect the car (speed and steering caps are just limits,
# a slew is normal driving).
SAFETY_REASONS = frozenset({"fence", "obstacle", "watchdog", "estop"})


class SimLane:
    def __init__(
        self,
        arena: Arena,
        pose: Pose | None = None,
        *,
        spec: CarSpec | None = None,
        limits: HardLimits | None = None,
        session: SessionLimits | None = None,
        noise: NoiseSpec | None = None,
        rate_hz: float = DEFAULT_RATE_HZ,
    ) -> None:
        self.car = SimCar(spec, arena, pose, noise)
        self.spec = self.car.spec
        self.dt = 1.0 / rate_hz
        self.supervisor = SafetySupervisor(limits or HardLimits(), self.spec, arena, watchdog=False, tick_s=self.dt)
        if session is not None:
            self.supervisor.set_session(session)
        self.t = 0.0
        self.state: CarState | None = None
        self.collisions: list[CollisionEvent] = []
        self.events: list[SafetyEvent] = []
        self.interventions: Counter[str] = Counter()  # ticks on which each reason changed the command
        self.min_clearance_cm = CLEARANCE_CAP_CM
        self._radius = math.hypot(self.spec.length_cm / 2.0, self.spec.width_cm / 2.0)

    def read(self) -> CarState:
        state = self.car.read()
        self.state = state
        self.collisions.extend(state.collisions)
        self.min_clearance_cm = min(self.min_clearance_cm, self.clearance_cm())
        return state

    def apply(self, wish: Command) -> Command:
        """The supervisor's command for `wish` (the state is the last read), sent; one tick passes."""
        if self.state is None:
            self.read()
        sent, events = self.supervisor.filter(wish, self.state, self.t)
        self.events.extend(events)
        for reason in self.supervisor.binding - {"slew"}:
            self.interventions[reason] += 1
        sent = self.car.apply(sent)
        self.car.advance(self.dt)
        self.t += self.dt
        return sent

    @property
    def safety_events(self) -> list[SafetyEvent]:
        """Interventions where the supervisor protected the car (not speed caps or ramps)."""
        return [e for e in self.events if e.reason in SAFETY_REASONS]

    def clearance_cm(self) -> float:
        """Gap between the car's footprint and the nearest wall, cone or edge (capped at CLEARANCE_CAP_CM)."""
        m, world = self.car.model, self.car.world
        walls, cones, edge = world.nearby(m.x, m.y, self._radius + CLEARANCE_CAP_CM)
        if not (walls or cones or edge):
            return CLEARANCE_CAP_CM
        gap = world.gap(m.x, m.y, math.cos(m.psi), math.sin(m.psi), self.spec.length_cm / 2.0,
                        self.spec.width_cm / 2.0, walls, cones, edge)
        return max(0.0, min(CLEARANCE_CAP_CM, gap))
