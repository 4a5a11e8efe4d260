"""SimCar: the simulated car behind the Hardware seam (robot_runtime.hardware.Hardware).

    car = SimCar(arena=my_arena)             # placed at the arena's start pose
    sent = car.apply(Command(0.5, 0.0))       # clamped command actually sent
    car.advance(0.02)                         # 20 ms of physics (200 Hz substeps inside)
    state = car.read()                        # pose, speeds, slip, distance sensor, new collisions

Headless and much faster than real time: ``advance`` integrates as fast as the CPU allows; time is the
simulator's own (``state.t``, seconds since the car was made). Nothing here sleeps.

In real time, give it a clock (``SimCar(clock=time.monotonic)``): then it behaves like a real car —
time passes by itself, ``advance`` does nothing, and every ``apply``/``stop``/``read`` first integrates
the time since the last call with the command that was really in force. A stalled control loop is then
as visible in the simulator as on a real car (the motors keep their last command until the dead-man's
``stop``), and ``history`` timestamps are that clock's time since the car was made. Calls are
thread-safe: the dead-man calls ``stop`` from its own thread.

Other cars (``set_bodies``, from the server's ``neighbours`` message via the runtime) are moving bodies
the footprint can hit (sim/bodies.py): a contact bounces as from a wall and is a collision
``with="car:<id>"``.

Fault injection (the simulator's sensors can fail like real ones): ``sensor_fault = "timeout"`` makes
``read`` report the distance sensor as faulty (``"nan"``: a NaN reading, as a careless driver would); ``bad_pose_reads = n`` makes the next n reads return
a NaN pose (a tracker glitch).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from robot_runtime.arena import DEFAULT_ARENA, Arena
from robot_runtime.hardware import NEUTRAL, CarSpec, CarState, Command
from robot_runtime.protocol import CollisionEvent, Pose
from robot_runtime.sim.bodies import Body, box_contact
from robot_runtime.sim.noise import NoiseSource, NoiseSpec
from robot_runtime.sim.vehicle import BicycleModel, VehicleParams
from robot_runtime.sim.world import World

PHYSICS_HZ = 200.0  # substeps: 1.5 cm of travel at 3 m/s, and the tyre dynamics stay stable down to the kinematic blend
RESTITUTION = 0.3  # plastic bumper on a wooden wall or a rubber cone: a small bounce
CONTACT_FRICTION = 0.4  # bumper sliding along a wall
CONTACT_RELEASE_S = 0.1  # a contact that comes back within this time is the same collision (no event spam)
# Contacts push the car back to the side its centre is on, so a wall of any thickness holds as long as
# the car cannot move its centre across it in one substep: at most a quarter of the car's half-width.
MAX_SUBSTEP_TRAVEL_CM = 2.5
FREE_DISC_MARGIN_CM = 1.0  # the free disc is kept this much smaller than the true clearance
GAP_MARGIN_CM = 0.5  # contacts are checked every substep once the footprint is this close to reach
CONTACT_SLOP_CM = 0.05  # push out a hair further than the overlap so resting contact does not flicker


class SimCar:
    """One simulated car in one arena. Implements the Hardware protocol exactly."""

    def __init__(
        self,
        spec: CarSpec | None = None,
        arena: Arena | None = None,
        pose: Pose | None = None,
        noise: NoiseSpec | None = None,
        params: VehicleParams | None = None,
        physics_hz: float = PHYSICS_HZ,
        record: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.spec = spec or CarSpec()
        self.failsafe_s: float | None = None  # a simulated ESC has no signal to lose
        self._lock = threading.RLock()
        self._clock = clock
        self._wall = clock() if clock is not None else 0.0
        self.sensor_fault: str | None = None
        self.bad_pose_reads = 0
        if not 20.0 <= physics_hz <= 5000.0:
            raise ValueError(f"physics_hz must be between 20 and 5000 (got {physics_hz})")
        self.params = params or VehicleParams.from_spec(self.spec)
        self.model = BicycleModel(self.params)
        self._max_substep = 1.0 / physics_hz
        self._hl = self.spec.length_cm / 2.0
        self._hw = self.spec.width_cm / 2.0
        self._radius = math.hypot(self._hl, self._hw)  # footprint's bounding circle
        self._noise = NoiseSource(noise) if noise is not None else None
        self.t = 0.0
        self._cmd = NEUTRAL  # clamped command as sent
        self._act = (0.0, 0.0)  # what the actuators actually do (with actuator noise)
        self._events: list[CollisionEvent] = []
        self._touching: dict[str, float] = {}  # obstacle -> last time it was touched
        self.collision_log: list[CollisionEvent] = []  # every collision since the car was made
        self.record = record
        self.history: list[tuple[float, Command]] = []  # (t, command sent) when record=True
        self.closed = False
        self.world = World(arena or DEFAULT_ARENA)
        self.bodies: tuple[Body, ...] = ()  # the other cars near this one (set_bodies)
        self.place(pose or self.world.arena.start)

    # --- set-up (the server's ArenaSetup message) --------------------------------------------------

    @property
    def arena(self) -> Arena:
        return self.world.arena

    def load_arena(self, arena: Arena, pose: Pose | None = None) -> None:
        """Swap the arena and place the car at `pose` (None: the arena's start pose)."""
        with self._lock:
            self.world = World(arena)
            self.place(pose or arena.start)  # (also forgets the free disc of the old arena)

    def place(self, pose: Pose) -> None:
        """Put the car at rest at a pose (wheels straight, no pending collisions)."""
        with self._lock:
            self.model.place(pose.x_cm, pose.y_cm, math.radians(pose.heading_deg))
            self._touching.clear()
            self._events.clear()
            self._free_disc = (0.0, 0.0, -1.0)  # (x, y, r): the footprint cannot touch anything while its centre stays in this disc

    def set_bodies(self, cars: list) -> None:
        """The other cars near this one (protocol.NearbyCar list): solid, moving bodies from now on."""
        with self._lock:
            self._catch_up()
            self.bodies = tuple(
                Body(c.car_id, c.x_cm, c.y_cm, math.radians(c.heading_deg), c.vx_cm_s, c.vy_cm_s,
                     c.length_cm / 2.0, c.width_cm / 2.0, self.t - c.age_s)
                for c in cars)

    def _catch_up(self) -> None:
        """Real time: integrate the time since the last call with the command that was in force."""
        if self._clock is not None:
            now = self._clock()
            dt, self._wall = now - self._wall, now
            if dt > 0.0:
                self._integrate(dt)

    # --- Hardware protocol -----------------------------------------------------------------------

    def apply(self, cmd: Command) -> Command:
        with self._lock:
            self._catch_up()
            return self._apply(cmd)

    def _apply(self, cmd: Command) -> Command:
        th, st = cmd.throttle, cmd.steering
        if -1.0 <= th <= 1.0 and -1.0 <= st <= 1.0:
            sent = cmd  # already within range (the supervisor's output always is)
        elif math.isnan(th) or math.isnan(st):
            sent = NEUTRAL  # NaN never reaches a motor (and min/max would turn it into full throttle)
        else:
            sent = cmd.clamped()
        self._cmd = sent
        if self._noise is not None:
            th, st = self._noise.actuator(sent.throttle, sent.steering)
            self._act = (max(-1.0, min(1.0, th)), max(-1.0, min(1.0, st)))
        else:
            self._act = (sent.throttle, sent.steering)
        if self.record:
            self.history.append((self.t, sent))
        return sent

    def stop(self) -> None:
        with self._lock:
            self._catch_up()
            self._cmd = NEUTRAL
            self._act = (0.0, 0.0)
            if self.record:
                self.history.append((self.t, NEUTRAL))

    def close(self) -> None:
        self.stop()
        self.closed = True

    def advance(self, dt: float) -> None:
        if not dt > 0.0:
            if dt == 0.0:
                return
            raise ValueError(f"advance needs dt >= 0 seconds (got {dt})")
        if self._clock is not None:
            return  # real time: time passes by itself (apply/stop/read catch up)
        with self._lock:
            self._integrate(dt)

    def _integrate(self, dt: float) -> None:
        m = self.model
        th, st = self._act
        if m.at_rest(th, st):  # a parked car: nothing moves (idle classroom cars cost almost nothing)
            self.t += dt
            return
        n = max(1, math.ceil(dt / self._max_substep - 1e-9))
        # broad phase once per call: what could the footprint reach during dt?
        speed = math.sqrt(m.vx * m.vx + m.vy * m.vy) + abs(m.r) * self._radius
        travel = (speed + self.params.drive_force_max_g * 981.0 * dt) * dt
        bodies = [b for b in self.bodies if _may_touch(b, m.x, m.y, self._radius + travel, self.t, dt)]
        fx, fy, free = self._free_disc
        if math.hypot(m.x - fx, m.y - fy) + travel < free:
            check = False  # still well inside the free disc found earlier: nothing to hit this step
        else:
            clear = self.world.clearance(m.x, m.y) - self._radius
            if clear > travel + FREE_DISC_MARGIN_CM:
                self._free_disc = (m.x, m.y, clear - FREE_DISC_MARGIN_CM)
                check = False
            else:
                self._free_disc = (0.0, 0.0, -1.0)
                walls, cones, edge = self.world.nearby(m.x, m.y, self._radius + travel + 1.0)
                check = bool(walls or cones or edge)
                if check:  # near something, but maybe not near enough to touch it within dt
                    c, s = math.cos(m.psi), math.sin(m.psi)
                    gap = self.world.gap(m.x, m.y, c, s, self._hl, self._hw, walls, cones, edge)
                    check = gap <= travel + GAP_MARGIN_CM
        if bodies:
            if not check:
                walls, cones, edge = [], [], False
            check = True
        if check:  # near something: never move more than MAX_SUBSTEP_TRAVEL_CM per substep (no tunnelling)
            n = max(n, math.ceil(travel / MAX_SUBSTEP_TRAVEL_CM))
        h = dt / n
        for _ in range(n):
            m.step(h, th, st)
            self.t += h
            if check:
                self._resolve_contacts(walls, cones, edge, bodies)

    def read(self) -> CarState:
        """State now. slip_deg is the rear axle's slip angle (0 in any clean turn; see sim/vehicle.py);
        collisions are those since the previous read; noise, if any, is on pose, speed and distance."""
        with self._lock:
            self._catch_up()
            return self._read()

    def _read(self) -> CarState:
        m = self.model
        self._events, events = [], self._events
        c, s = math.cos(m.psi), math.sin(m.psi)
        dist = self.world.ray(m.x + self._hl * c, m.y + self._hl * s, c, s, self.spec.sensor_range_cm)
        x, y, heading, speed = m.x, m.y, math.degrees(m.psi), m.vx
        if self._noise is not None:
            nx, ny, nh, nv, nd = self._noise.sensors()
            x, y, heading, speed = x + nx, y + ny, heading + nh, speed + nv
            if dist is not None:
                dist = max(0.0, dist + nd)
                if dist > self.spec.sensor_range_cm:
                    dist = None
        fault = self.sensor_fault
        if fault == "nan":  # like a driver that passes a garbage reading on instead of reporting it
            fault, dist = None, math.nan
        elif fault is not None:
            dist = None
        if self.bad_pose_reads > 0:
            self.bad_pose_reads -= 1
            x = y = math.nan
        return CarState(
            t=self.t,
            distance_fault=fault,
            x_cm=x,
            y_cm=y,
            heading_deg=wrap_deg(heading),
            speed_cm_s=speed,
            lateral_cm_s=m.vy,
            yaw_rate_dps=math.degrees(m.r),
            slip_deg=math.degrees(m.slip_rad),
            distance_cm=dist,
            collisions=tuple(events),
        )

    # --- extras for the simulator's users ---------------------------------------------------------

    @property
    def command(self) -> Command:
        """The last command sent (clamped)."""
        return self._cmd

    @property
    def pose(self) -> Pose:
        m = self.model
        return Pose(x_cm=m.x, y_cm=m.y, heading_deg=wrap_deg(math.degrees(m.psi)))

    @property
    def steer_deg(self) -> float:
        """The front wheels' actual angle (the servo is rate-limited)."""
        return math.degrees(self.model.steer)

    # --- collisions ------------------------------------------------------------------------------

    def _resolve_contacts(self, walls: list[int], cones: list[int], edge: bool, bodies: list[Body] = ()) -> None:
        m = self.model
        c, s = math.cos(m.psi), math.sin(m.psi)
        contacts = self.world.contacts(m.x, m.y, c, s, self._hl, self._hw, walls, cones, edge)
        for body in bodies:
            hit = box_contact(m.x, m.y, c, s, self._hl, self._hw, body, self.t)
            if hit is not None:
                contacts.append(hit)
        if not contacts:
            return
        p = self.params
        mass, inertia = p.mass_kg, p.yaw_inertia
        vwx, vwy = m.vx * c - m.vy * s, m.vx * s + m.vy * c  # world-frame velocity
        w = m.r
        for ct in contacts:
            impact_speed = math.hypot(vwx, vwy)
            m.x += ct.nx * (ct.depth + CONTACT_SLOP_CM)
            m.y += ct.ny * (ct.depth + CONTACT_SLOP_CM)
            rx, ry = ct.px - m.x, ct.py - m.y
            vcx, vcy = vwx - w * ry, vwy + w * rx  # velocity of the contact point
            vn = vcx * ct.nx + vcy * ct.ny
            if vn < 0.0:  # moving into the obstacle: bounce (impulse on a rigid body with yaw)
                rn = rx * ct.ny - ry * ct.nx
                j = -(1.0 + RESTITUTION) * vn / (1.0 / mass + rn * rn / inertia)
                tx, ty = -ct.ny, ct.nx
                vt = vcx * tx + vcy * ty
                rt = rx * ty - ry * tx
                jt = -vt / (1.0 / mass + rt * rt / inertia)
                lim = CONTACT_FRICTION * j
                jt = -lim if jt < -lim else lim if jt > lim else jt
                vwx += (j * ct.nx + jt * tx) / mass
                vwy += (j * ct.ny + jt * ty) / mass
                w += (rn * j + rt * jt) / inertia
            last = self._touching.get(ct.obstacle)
            if last is None or self.t - last > CONTACT_RELEASE_S:
                # where it touched: the obstacle's surface (the overlap has just been undone)
                ex, ey = ct.px + ct.nx * ct.depth, ct.py + ct.ny * ct.depth
                ev = CollisionEvent(t=self.t, with_=ct.key, x_cm=ex, y_cm=ey, speed_cm_s=impact_speed)
                self._events.append(ev)
                self.collision_log.append(ev)
            self._touching[ct.obstacle] = self.t
        m.vx, m.vy, m.r = vwx * c + vwy * s, -vwx * s + vwy * c, w


def _may_touch(body: Body, x: float, y: float, reach: float, t: float, dt: float) -> bool:
    """Could this body come within `reach` of (x, y) during the next dt? (its bounding circle, moving)"""
    bx, by = body.at(t)
    move = math.hypot(body.vx, body.vy) * dt
    return math.hypot(bx - x, by - y) < reach + body.radius + move + 1.0


def wrap_deg(a: float) -> float:
    """An angle in degrees, in (-180, 180]."""
    a = math.fmod(a, 360.0)
    if a > 180.0:
        a -= 360.0
    elif a <= -180.0:
        a += 360.0
    return a
