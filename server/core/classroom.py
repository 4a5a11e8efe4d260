"""The Classroom: the one service every front end calls (Scratch, Blockly, the SDK, the teacher).

A thin coordinator: ``run_block`` = translate (curriculum.catalog.translate) -> gate (curriculum.gate)
-> dispatch (server.core.dispatch) -> the one final answer as a :class:`BlockReply`. It reaches the cars
only through the CarPort it is built with (server/core/car_port.py). It also owns who is who (kids,
classes, cars and assignments through server.core.storage), who is online (presence), the latest
telemetry per car, runs, and the event bus the features subscribe to.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import secrets
import time
from collections import deque
from typing import Any, Awaitable, Callable

from curriculum.catalog import translate
from curriculum.errors import BlockError, Problem
from curriculum.gate import Gate, TokenBucket, capped_speed, program_refusal, session_limits
from curriculum.levels import MAX_LEVEL, MIN_LEVEL
from robot_runtime.arena import DEFAULT_ARENA, Arena, load_arena
from robot_runtime.protocol import Action, ArenaSetup, Pose, RemoteAction, SessionLimits, Steer, Telemetry
from server.core import log_context
from server.core.auth import AuthError, KidTokens, UrlSigner
from server.core.car_port import CarPort
from server.core.cluster import Peers, RemoteCars
from server.core.config import ServerConfig
from server.core.dispatch import Dispatcher, Outcome, Request, skill_timeout_s
from server.core.events import EventBus
from server.core.home_floor import HomeFloor
from server.core.kid_names import clean_name
from server.core.presence import Presence
from server.core.refusal_digest import RefusalDigest
from server.core.storage import KidRecord, RequestLogEntry, Storage
from server.core.tenancy import Tenancy
from server.core.types import BlockReply, CarInfo, ClassroomError, Kid, ProgramCheck, Run, TrackedPose

log = logging.getLogger(__name__)

DEFAULT_SPEED_PCT = 50.0  # the speed moves use until a kid sets one (capped by the level's top speed)
CLASS_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: kids copy it from the board
CLASS_CODE_LENGTH = 5
LIMITS_TRIES, LIMITS_RETRY_S = 3, 0.2  # a busy car (stalled tick) gets two more chances within ~0.6 s
REQUEST_LOG_PRUNE_S = 60.0  # retention is checked once a minute: a DELETE on the primary key, off the event loop
ARENA_IDLE_WAIT_S = 1.0  # a car finishing a stop is idle within ~0.5 s; longer means someone drives it
ARENA_RETRY_S = 0.05  # one control tick or two between asking a busy car again
SAFETY_PUSH_PER_S = 5.0  # safety events a second per car that reach screens: more is a broken car, not news
SAFETY_PUSH_BURST = 20  # a crash into a cone at speed reports a handful at once
START_SLOT_SPACING_CM = 45.0  # simulated cars start in a column this far apart, so they do not overlap
ENDED_RUNS_KEPT = 256  # ended runs kept in memory (a late run_end finds them); older ones are in storage only
SETUP_DRIVER = "setup-wizard"  # the driver id of the set-up wizard's test drive (never a kid: kids are k...)

# A pose filter sees each car's telemetry before anyone else and may hand back a better one (the arena
# camera's pose for a real car: the truth lessons are graded from); None keeps the car's own.
PoseFilter = Callable[[str, Telemetry], "Telemetry | None"]


class Classroom:
    def __init__(self, config: ServerConfig, storage: Storage, cars: CarPort, *,
                 clock: Callable[[], float] = time.monotonic, peers: Peers | None = None) -> None:
        self.config, self.storage, self.cars, self._clock = config, storage, cars, clock
        self.events = EventBus()
        # who is online, over /kid and /scratch/ble (and, with several processes, on the others)
        self.presence = Presence(self._presence_changed if peers else None)
        self.tokens = KidTokens(config.resolved_secret_key(), config.timeouts.kid_token_max_age_s)
        self.url_signer = UrlSigner(config.resolved_secret_key())  # <img> URLs of a kid's frames (no token in URLs)
        rl = config.rate_limits
        self.gate = Gate(blocks_per_s=rl.blocks_per_s, burst=rl.burst, runs_per_s=rl.runs_per_s, run_burst=rl.run_burst,
                         clock=clock)
        self.refusals = RefusalDigest(rl.refusal_report_s, clock)  # refused blocks: reported per kid per second
        self._pruned_at: float | None = None  # clock() of the request log's last pruning
        t = config.timeouts
        self.dispatcher = Dispatcher(cars, ack_timeout_s=t.car_ack_s, result_margin_s=t.result_margin_s,
                                     stop_grace_s=t.stop_grace_s, before_start=self._before_start,
                                     on_finished=self._log_request, clock=clock)
        # several server processes (docs/cluster.md): the cars of the others, through their owners' queues
        self.remote: RemoteCars | None = RemoteCars(self, peers) if peers else None
        self.program_checks: list[ProgramCheck] = []
        # Asked for every block after `stop` (never refused) and before the gate: a refusal ends the block
        # there (a draining server takes no new work: server/ops/drain.py).
        self.block_checks: list[Callable[[Kid, str], Problem | None]] = []
        self.blocks_in_flight = 0  # run_block calls without their answer yet (a drain waits for them)
        # Awaited after a run has started and before start_run returns: what must be ready before the run's
        # first block (a lesson puts the car at its start, so the program's first reading is from there).
        self.run_setups: list[Callable[[Run], Awaitable[None]]] = []
        self.pose_filters: list[PoseFilter] = []  # the arena camera's truth for real cars (server/arena_camera)
        self.default_arena: Arena = load_arena(config.arena_path) if config.arena_path else DEFAULT_ARENA
        self._arenas: dict[str, Arena] = {}
        # the floor the set-up wizard measured (server/arena_camera sets it; lessons are fitted into it)
        self.home_floor: HomeFloor | None = None
        self._car_kinds: dict[str, str] = {}
        self._car_slots: dict[str, int] = {}
        self._limits_level: dict[str, int] = {}
        self._telemetry: dict[str, Telemetry] = {}
        self._tracked: dict[str, TrackedPose] = {}  # car -> the camera's latest pose of it
        self._away_pose: dict[str, tuple[Arena, Pose]] = {}  # car -> (arena, pose) when it disconnected
        self._safety_push: dict[str, TokenBucket] = {}  # per car: safety events pushed to kids and teachers
        self.safety_not_pushed: dict[str, int] = {}  # per car: events over that budget (recorded, not pushed)
        self._speed: dict[str, float] = {}
        self._kids: dict[str, Kid] = {}
        self.runs: dict[str, Run] = {}  # live runs and the ENDED_RUNS_KEPT newest ended ones (storage has them all)
        self._ended_runs: deque[str] = deque()  # run ids in self.runs that ended, oldest first
        self._active_run: dict[str, str] = {}  # kid -> run_id
        self._request_log: list[RequestLogEntry] = []
        self.car_refusals: dict[str, dict[str, Any]] = {}  # car -> second connections refused {count, t, address}
        self._car_of: dict[str, str | None] = {}  # kid -> car cache (telemetry fan-out asks 600 times a second)
        self.tenancy = Tenancy(storage, clock)  # teacher accounts: who owns which class and car

    # --- kids and classes -----------------------------------------------------------------

    def kid(self, kid_id: str) -> Kid:
        kid = self._kids.get(kid_id)
        if kid is None:
            record = self.storage.get_kid(kid_id)
            if record is None:
                raise AuthError("unknown_kid", "this kid is not in any class — join again with the class code")
            kid = self._kids[kid_id] = _kid(record)
        return kid

    def auth_kid(self, token: object) -> Kid:
        claims = self.tokens.verify(token)
        kid = self.kid(claims.kid_id)
        if kid.class_code != claims.class_code:
            raise AuthError("kid_token_class", "kid token does not match the class — join again")
        return kid

    def token_for(self, kid: Kid) -> str:
        return self.tokens.issue(kid.kid_id, kid.class_code)

    def create_class(self, name: str, code: str | None = None, owner: str | None = None) -> str:
        """A new class; ``owner``: the teacher account it belongs to (accounts mode), None for nobody's."""
        name = (name or "").strip()
        if not 1 <= len(name) <= 60:
            raise ClassroomError("class_name", f"class name must be 1 to 60 characters (got {len(name)})", name,
                                 "give the class a short name like 'Class 4B'")
        if code is not None:
            code = code.strip().upper()
            if not re.fullmatch(r"[A-Z0-9]{3,8}", code):
                raise ClassroomError("class_code", f"class code must be 3 to 8 letters or digits (got {code!r})", code,
                                     "use a code like DEMO")
            if self.storage.get_class(code):
                raise ClassroomError("class_code_taken", f"class {code} already exists", code, "pick another code",
                                     status=409)
        else:
            while True:
                code = "".join(secrets.choice(CLASS_CODE_ALPHABET) for _ in range(CLASS_CODE_LENGTH))
                if not self.storage.get_class(code):
                    break
        self.storage.create_class(code, name)
        if owner:
            self.tenancy.set_class_owner(code, owner)
        return code

    def ensure_class(self, code: str, name: str) -> str:
        if self.storage.get_class(code.upper()) is None:
            return self.create_class(name, code)
        return code.upper()

    def join(self, class_code: Any, name: Any) -> tuple[Kid, str, str | None]:
        """Code + first name -> (kid, token, car_id). The same name again in a class is the same kid."""
        name = self.check_name(name)  # first: a bad name gets the same answer whether the code exists or not
        code = class_code.strip().upper() if isinstance(class_code, str) else ""
        if not self.class_exists(code):
            raise ClassroomError("class_code", f"there is no class with code {class_code!r}", class_code,
                                 "check the code on the board", status=404)
        record = self.storage.find_kid_by_name(code, name)
        joined = record is None
        if record is None:
            level = int(self.storage.kv_get("class_level", code, MIN_LEVEL))
            record = self.storage.add_kid("k" + secrets.token_hex(6), code, name, level)
        kid = self._kids[record.kid_id] = _kid(record)
        car_id = self.car_of(kid.kid_id)
        if car_id is None and self.config.auto_assign_cars:
            car_id = self._least_busy_car(code)
            if car_id:
                self.assign(car_id, self.storage.kids_of_car(car_id) + [kid.kid_id])
        if joined:
            self.events.publish("kid_joined", kid)
        return kid, self.token_for(kid), car_id

    async def remove_kid(self, kid_id: str) -> Kid:
        """The teacher takes a kid out of the class: their car stops if they drive it, their queue and run
        end, they leave their car, their record goes and their token opens nothing any more."""
        kid = self.kid(kid_id)  # AuthError (unknown_kid) if there is no such kid
        car_id = self.car_of(kid_id)
        await self.kid_left(kid_id)
        if car_id is not None:
            self.assign(car_id, [k for k in self.storage.kids_of_car(car_id) if k != kid_id])
        self.storage.delete_kid(kid_id)
        for cache in (self._kids, self._car_of, self._speed):
            cache.pop(kid_id, None)
        self.gate.forget(kid_id)
        self.events.publish("kid_removed", kid)
        return kid

    @staticmethod
    def check_name(name: Any) -> str:
        """A kid's first name as stored (NFC, any script), or ClassroomError kid_name with what to type
        (server/core/kid_names.py)."""
        return clean_name(name)

    def class_exists(self, class_code: Any) -> bool:
        code = class_code.strip().upper() if isinstance(class_code, str) else ""
        return bool(code) and self.storage.get_class(code) is not None

    def car_of(self, kid_id: str) -> str | None:
        """The car assigned to this kid (cached; assignments change only through assign(), here or — replayed
        by server/cluster — in another process)."""
        if kid_id not in self._car_of:
            self._car_of[kid_id] = self.storage.car_of_kid(kid_id)
        return self._car_of[kid_id]

    def kids_in_class(self, class_code: str) -> list[Kid]:
        return [_kid(r) for r in self.storage.kids_in_class(class_code)]

    def set_level(self, kid_id: str, level: Any) -> Kid:
        level = _check_level(level)
        kid = self.kid(kid_id)
        self.storage.set_kid_level(kid_id, level)
        kid = self._kids[kid_id] = Kid(kid.kid_id, kid.name, kid.class_code, level)
        if kid_id in self._speed:
            self._speed[kid_id] = capped_speed(level, self._speed[kid_id])
        self.events.publish("level_changed", kid_id, level)
        car_id = self.car_of(kid_id)
        if car_id and self.dispatcher.kid_status(kid_id, car_id)[0] == "running":
            self._spawn(self._send_limits(car_id, level))
        return kid

    def set_class_level(self, class_code: str, level: Any) -> list[Kid]:
        level = _check_level(level)
        self.storage.kv_put("class_level", class_code, level)
        return [self.set_level(k.kid_id, level) for k in self.kids_in_class(class_code)]

    def speed_of(self, kid: Kid) -> float:
        return capped_speed(kid.level, self._speed.get(kid.kid_id, DEFAULT_SPEED_PCT))

    # --- cars -----------------------------------------------------------------------------

    def assign(self, car_id: str, kid_ids: list[str]) -> None:
        car_class = self.tenancy.car_class(car_id)
        for kid_id in kid_ids:
            kid = self.kid(kid_id)
            if car_class is not None and kid.class_code != car_class:
                raise ClassroomError("car_class", f"{car_id} belongs to class {car_class}, {kid.name} is in class "
                                     f"{kid.class_code}", car_id, "give the kid a car of their own class",
                                     status=409)
        if len(set(kid_ids)) != len(kid_ids):
            raise ClassroomError("assign_duplicates", "a kid is listed twice", kid_ids, "list each kid once")
        old_kids = self.storage.kids_of_car(car_id)
        before = {k: self.car_of(k) for k in [*kid_ids, *old_kids]}
        self.storage.assign(car_id, kid_ids)
        for kid_id in before:
            self._car_of.pop(kid_id, None)
        self.events.publish("assignment_changed", car_id, list(kid_ids))
        for kid_id, old in before.items():
            if old and old != car_id and kid_id in kid_ids:
                self.events.publish("assignment_changed", old, self.storage.kids_of_car(old))
        for kid_id, old in before.items():
            if self.car_of(kid_id) != old:  # editors follow the kid's car: they switch, and say why
                if old:
                    self._spawn(self._leave_car(kid_id, old))
                self.events.publish("car_changed", kid_id, old, self.car_of(kid_id))

    async def _leave_car(self, kid_id: str, car_id: str) -> None:
        """A kid whose car was given away: what they were doing on it stops (their run ends with it)."""
        reason = "the teacher gave the car to someone else"
        node = self._owner(car_id)
        if node is not None and self.remote is not None:
            self.remote.stop_kid(node, kid_id, car_id, reason, "Your teacher changed your car.", "if_running")
        running = self.dispatcher.kid_status(kid_id, car_id)[0] == "running"
        await self.dispatcher.stop_kid(kid_id, car_id if running else None, reason,
                                       kid_text="Your teacher changed your car.")
        run = self.active_run(kid_id)
        if run is not None and run.car_id == car_id:
            await self.end_run(run.run_id, reason)

    def kid_named(self, class_code: Any, name: Any) -> Kid | None:
        """The kid of this class whose first name looks like this one (server/core/kid_names.py), if any."""
        code = class_code.strip().upper() if isinstance(class_code, str) else ""
        try:
            name = clean_name(name)
        except ClassroomError:
            return None
        record = self.storage.find_kid_by_name(code, name) if code else None
        return _kid(record) if record else None

    def _least_busy_car(self, class_code: str) -> str | None:
        known = {c.car_id for c in self.storage.list_cars()} | set(self.dispatcher.cars)
        if self.remote is not None:
            known |= set(self.remote.peers.cars())
        known = {c for c in known if self.tenancy.car_may_serve(c, class_code)}  # never another class's car
        if not known:
            return None
        connected = lambda c: self.dispatcher.is_connected(c) or self._owner(c) is not None  # noqa: E731
        load = lambda c: (not connected(c), len(self.storage.kids_of_car(c)), c)  # noqa: E731
        return min(known, key=load)

    def car_info(self, car_id: str) -> CarInfo:
        queue = self.dispatcher.cars.get(car_id)
        kids = tuple(self.storage.kids_of_car(car_id))
        connected = bool(queue and queue.connected) or self._owner(car_id) is not None
        return CarInfo(car_id, self._car_kinds.get(car_id, "sim"), connected, kids,
                       bool(queue and queue.estopped), len(kids) > 1)

    def all_cars(self) -> list[CarInfo]:
        known = {c.car_id: c.kind for c in self.storage.list_cars()}
        self._car_kinds = {**known, **self._car_kinds}
        elsewhere = set(self.remote.peers.cars()) if self.remote else set()
        return [self.car_info(c) for c in sorted(set(known) | set(self.dispatcher.cars) | elsewhere)]

    def cars_for_kid(self, kid_id: str) -> list[CarInfo]:
        car_id = self.car_of(kid_id)
        return [self.car_info(car_id)] if car_id else []

    def latest_telemetry(self, car_id: str) -> Telemetry | None:
        return self._telemetry.get(car_id)

    def connected_car_ids(self) -> list[str]:
        """The cars connected to this process (server/cluster knows the others')."""
        return [c for c, q in self.dispatcher.cars.items() if q.connected]

    def _presence_changed(self, kid_id: str, online: bool) -> None:
        if self.remote is not None:
            self.remote.presence_changed([kid_id], online)

    def _owner(self, car_id: str | None) -> str | None:
        """The other server process this car is connected to; None when it is here, nowhere, or alone."""
        return self.remote.owner(car_id) if self.remote is not None and car_id else None

    async def car_connected(self, car_id: str, kind: str) -> None:
        """Called by the /car hub once the car is connected: arena and limits go out before any skill."""
        self._car_kinds[car_id] = kind
        self.storage.upsert_car(car_id, kind)
        self._car_slots.setdefault(car_id, len(self._car_slots))
        self.dispatcher.car_connected(car_id)
        self._limits_level.pop(car_id, None)
        # Back after a blip, a restart or a server stall: the car stays where it was (a lesson's start pose
        # again would make a simulated car jump back mid-lesson); a car new to this server gets its start.
        away = self._away_pose.pop(car_id, None)
        pose = away[1] if away is not None and away[0] is self.arena_for_car(car_id) else self.start_pose(car_id)
        try:
            ack = await self.cars.send_arena(car_id, ArenaSetup(arena=self.arena_for_car(car_id).model_dump(mode="json"),
                                                                pose=pose))
            if not ack.ok:
                log.warning("%s did not take its arena on connect: %s", car_id, ack.error)
            levels = [self.kid(k).level for k in self.storage.kids_of_car(car_id)] or [MIN_LEVEL]
            await self._send_limits(car_id, min(levels))
            if self.remote is not None and await self.remote.peers.latched(car_id):  # e-stopped on another process
                self.dispatcher.cars[car_id].estopped = True
            if self.dispatcher.cars[car_id].estopped:  # missed the teacher's e-stop while it was away
                await self.cars.send_estop(car_id, "emergency stop still on: the teacher has not reset this car")
        except TimeoutError as exc:
            log.warning("%s: %s", car_id, exc)
        except ConnectionError as exc:  # it left again while we were sending: its next connect sends all this
            log.info("%s left while being set up: %s", car_id, exc)
            return
        self.events.publish("car_connected", car_id)

    def car_refused(self, car_id: str, info: dict[str, Any]) -> None:
        """A second connection for this live car was refused (the /car hub): kept for the console's board
        (a console opened later still shows it) and published as "car_refused"."""
        seen = self.car_refusals.get(car_id, {"count": 0})
        self.car_refusals[car_id] = {"count": seen["count"] + 1, "t": time.time(), "address": info.get("address")}
        self.events.publish("car_refused", car_id, info)

    def car_disconnected(self, car_id: str) -> None:
        self.dispatcher.car_disconnected(car_id, f"{car_id} lost its connection")
        last = self._telemetry.pop(car_id, None)
        if last is not None:  # where it was, in which arena: where it stays when it comes back (car_connected)
            self._away_pose[car_id] = (self.arena_for_car(car_id), last.pose)
        self.events.publish("car_disconnected", car_id)

    def on_telemetry(self, car_id: str, telemetry: Telemetry) -> None:
        for pose_filter in self.pose_filters:
            try:
                telemetry = pose_filter(car_id, telemetry) or telemetry
            except Exception:  # a broken filter must not stop telemetry: the car's own pose goes on
                log.exception("pose filter failed for %s", car_id)
        self._telemetry[car_id] = telemetry
        self.events.publish("telemetry", car_id, telemetry)  # the recording keeps every event
        for event in telemetry.safety_events:
            bucket = self._safety_push.get(car_id)
            if bucket is None:
                bucket = self._safety_push[car_id] = TokenBucket(SAFETY_PUSH_PER_S, SAFETY_PUSH_BURST, self._clock)
            if bucket.take():
                self.events.publish("safety", car_id, event)  # to the kids of the car and every teacher
            else:
                self.safety_not_pushed[car_id] = self.safety_not_pushed.get(car_id, 0) + 1

    def on_tracked_pose(self, car_id: str, pose: Pose, *, vx_cm_s: float = 0.0, vy_cm_s: float = 0.0,
                        uncertainty_cm: float = 0.0, t: float | None = None) -> TrackedPose:
        """Where the overhead camera saw a car (the camera service calls this at camera rate; `t` is the
        picture's time on this server's monotonic clock). The truth for real cars: the neighbours relay
        prefers it to the car's own telemetry."""
        tracked = TrackedPose(car_id, pose.x_cm, pose.y_cm, pose.heading_deg, vx_cm_s, vy_cm_s, uncertainty_cm,
                              self._clock() if t is None else t)
        self._tracked[car_id] = tracked
        self.events.publish("tracked_pose", car_id, tracked)
        return tracked

    def latest_tracked_pose(self, car_id: str) -> TrackedPose | None:
        return self._tracked.get(car_id)

    # --- arenas ---------------------------------------------------------------------------

    def arena_for_car(self, car_id: str) -> Arena:
        return self._arenas.get(car_id, self.default_arena)

    def set_home_floor(self, floor: HomeFloor | None) -> None:
        """The arena camera's saved floor (None: none). Lessons picked or run from now on are fitted into it."""
        self.home_floor = floor

    def home_floor_for(self, car_id: str) -> Arena | None:
        """The measured floor this car drives on (server/core/home_floor.py), or None: lessons as written."""
        floor = self.home_floor
        return None if floor is None else floor.for_kind(self.car_kind(car_id))

    def car_kind(self, car_id: str) -> str:
        """"sim" or "real": as the car said when it connected (or last connected), else "sim"."""
        kind = self._car_kinds.get(car_id)
        if kind is None:
            kind = next((c.kind for c in self.storage.list_cars() if c.car_id == car_id), "sim")
        return kind

    def start_pose(self, car_id: str) -> Pose:
        """Each simulated car gets its own start slot in a column, so cars never start on top of each other."""
        return self._start_in(car_id, self.arena_for_car(car_id), car_id in self._arenas)

    def _start_in(self, car_id: str, arena: Arena, lesson: bool) -> Pose:
        if lesson:
            return arena.start
        rows = max(1, int((arena.height_cm - 2 * 30) // START_SLOT_SPACING_CM) + 1)
        slot = self._car_slots.get(car_id, 0)
        x = min(arena.width_cm - 30, arena.start.x_cm + (slot // rows) * 2 * START_SLOT_SPACING_CM)
        y = 30 + (slot % rows) * START_SLOT_SPACING_CM
        return Pose(x_cm=x, y_cm=y, heading_deg=arena.start.heading_deg)

    async def set_arena(self, car_id: str, arena: Arena | None, pose: Pose | None = None) -> bool:
        """Lessons put a car into their arena (None: back to the default arena); True once it is there.

        The server's idea of a car's arena changes only when the car has taken it, so the two never
        disagree: a car loads an arena only while idle, so a busy car is asked again for up to
        ARENA_IDLE_WAIT_S, then nothing changes and the answer is False. A car that is not connected
        gets the arena when it connects."""
        node = self._owner(car_id)
        if node is not None and self.remote is not None:  # the car's own process sets it (and tells everyone)
            ok = await self.remote.set_arena(node, car_id, arena, pose)
            if ok:
                self.set_known_arena(car_id, arena)
            return ok
        target = arena if arena is not None else self.default_arena
        pose = pose or self._start_in(car_id, target, arena is not None)
        if self.dispatcher.is_connected(car_id):
            setup = ArenaSetup(arena=target.model_dump(mode="json"), pose=pose)
            deadline = self._clock() + ARENA_IDLE_WAIT_S
            while True:
                try:
                    ack = await self.cars.send_arena(car_id, setup)
                except ConnectionError:
                    break  # gone meanwhile: it gets the arena when it connects again
                except TimeoutError as exc:
                    log.warning("arena for %s not confirmed: %s", car_id, exc)
                    return False
                if ack.ok:
                    break
                if ack.error is None or ack.error.rule != "busy" or self._clock() > deadline:
                    log.info("%s kept its arena: %s", car_id, ack.error)
                    return False
                await asyncio.sleep(ARENA_RETRY_S)
        self.set_known_arena(car_id, arena)
        if self.dispatcher.is_connected(car_id) and car_id in self._limits_level:  # other closed zones
            await self._send_limits(car_id, self._limits_level[car_id])
        self.events.publish("arena_changed", car_id)
        return True

    def known_arena(self, car_id: str) -> Arena | None:
        """The arena a lesson gave this car; None: the default arena."""
        return self._arenas.get(car_id)

    def set_known_arena(self, car_id: str, arena: Arena | None) -> None:
        """The arena this car has taken (None: the default); the car's process tells the others."""
        if arena is None:
            self._arenas.pop(car_id, None)
        else:
            self._arenas[car_id] = arena

    def other_driver(self, kid_id: str, car_id: str) -> Kid | None:
        """Another kid of this (shared) car whose program is running on it now, if any."""
        for other in self.storage.kids_of_car(car_id):
            if other == kid_id:
                continue
            run = self.active_run(other)
            if (run is not None and run.car_id == car_id) or self.dispatcher.kid_status(other, car_id)[0] != "idle":
                return self.kid(other)
        return None

    # --- blocks ---------------------------------------------------------------------------

    async def run_block(self, kid_id: str, block_id: str, args: dict[str, Any] | None = None, *, source: str = "other",
                        ref: Any = None, run_id: str | None = None) -> BlockReply:
        """rate limit -> translate -> gate -> dispatch -> the one final answer."""
        kid = self.kid(kid_id)
        started = self._clock()
        args = dict(args or {})
        self.blocks_in_flight += 1
        try:
            limited = self.gate.admit(kid_id, block_id)  # first: unknown, locked and malformed calls pay too
            if limited:
                reply = BlockReply(status="refused", kid_text=limited.kid_text, detail=limited.detail, block=block_id,
                                   ref=ref, rule=limited.rule)
            else:
                with log_context.bound(run_id=run_id):  # log lines of this block name its run
                    reply = await self._run_block(kid, block_id, args, ref, run_id)
        finally:
            self.blocks_in_flight -= 1
        self._report(kid, reply, args)
        self.events.publish("block_answered", kid_id, reply, self._clock() - started)
        return reply

    def refuse_block(self, kid_id: str, reply: BlockReply) -> BlockReply:
        """A block call a front end could not even read (malformed): it pays the rate limit like any other
        and is reported like any other refusal. Returns the answer to give (rate_limit once over the limit)."""
        kid = self.kid(kid_id)
        limited = self.gate.admit(kid_id, None)
        if limited:
            reply = BlockReply(status="refused", kid_text=limited.kid_text, detail=limited.detail, block=reply.block,
                               ref=reply.ref, rule=limited.rule)
        self._report(kid, reply, {})
        self.events.publish("block_answered", kid_id, reply, 0.0)
        return reply

    def _report(self, kid: Kid, reply: BlockReply, args: dict[str, Any]) -> None:
        """Every answer goes to the teacher's feed; refusals at most once per kid per second, the rest counted
        (server/core/refusal_digest.py) and summarised by the periodic request-log flush."""
        if reply.status == "refused":
            if not self.refusals.note(kid.kid_id, self.car_of(kid.kid_id), reply.rule or "refused"):
                return
            self._log_refusal(kid, reply.block, args, reply.detail)
        self.events.publish("block_result", kid.kid_id, reply)

    async def _run_block(self, kid: Kid, block_id: str, args: dict[str, Any], ref: Any, run_id: str | None) -> BlockReply:
        def refused(r: Problem) -> BlockReply:
            return BlockReply(status="refused", kid_text=r.kid_text, detail=r.detail, block=block_id, ref=ref, rule=r.rule)

        try:
            t = translate(block_id, args, self.speed_of(kid))
        except BlockError as exc:
            return refused(exc)
        if block_id == "stop":
            await self.stop_kid(kid.kid_id, "stop block")
            return BlockReply(status="done", kid_text="Stopped.", block=block_id, ref=ref)
        if run_id is not None and self._active_run.get(kid.kid_id) != run_id:
            return BlockReply(status="cancelled", kid_text="A newer program started.",
                              detail=f"run {run_id} is not running", block=block_id, ref=ref, rule="run_ended")
        for check in self.block_checks:
            problem = check(kid, block_id)
            if problem is not None:
                return refused(problem)
        arena = self.arena_for_car(self.car_of(kid.kid_id) or "")
        refusal = self.gate.rules(kid.level, block_id, t.args, t.action, arena)
        if refusal:
            return refused(refusal)
        if t.action is None:
            return self._setting_or_reporter(kid, block_id, t.block.kind, t.args, ref)
        action = t.action
        car_id = self.car_of(kid.kid_id)
        if car_id is None:
            return BlockReply(status="failed", kid_text="You don't have a car yet — ask your teacher.",
                              detail=f"no car assigned to {kid.name} ({kid.kid_id})", block=block_id, ref=ref,
                              rule="no_car")
        request = Request(self.dispatcher.new_request_id(car_id), kid.kid_id, car_id, action, block_id, run_id,
                          skill_timeout_s(action, self.config.timeouts.min_skill_s))
        outcome: Outcome = await self._submit(request)
        # rule: why it was not done; on a done reply, a note the kid should read (the car's `tight_turn`)
        return BlockReply(status=outcome.status, kid_text=outcome.kid_text, detail=outcome.detail,  # type: ignore[arg-type]
                          request_id=request.request_id, block=block_id, ref=ref, rule=outcome.reason)

    async def drive_for_setup(self, car_id: str, action: Action) -> Outcome:
        """The set-up wizard's test drive: one move through the dispatcher and the car's supervisor, with
        the lowest level's limits (the slowest, most careful caps), like any kid's block."""
        request = Request(self.dispatcher.new_request_id(car_id), SETUP_DRIVER, car_id, action, "setup_test_drive",
                          None, skill_timeout_s(action, self.config.timeouts.min_skill_s))
        return await self._submit(request)

    async def _submit(self, request: Request) -> Outcome:
        """Into the car's queue: here, or on the process the car is connected to (server/core/cluster.py)."""
        node = self._owner(request.car_id)
        if node is not None and self.remote is not None:
            return await self.remote.submit(node, request)
        return await self.dispatcher.submit(request)

    def _setting_or_reporter(self, kid: Kid, block_id: str, kind: str, args: dict[str, Any], ref: Any) -> BlockReply:
        if block_id == "set_speed":
            self._speed[kid.kid_id] = float(args["speed"])
            return BlockReply(status="done", block=block_id, ref=ref, value=float(args["speed"]))
        if kind == "reporter":
            car_id = self.car_of(kid.kid_id)
            tel = self._telemetry.get(car_id or "")
            if tel is None:
                return BlockReply(status="failed", kid_text="I can't see your car yet.",
                                  detail=f"no telemetry from {car_id or 'any car'}", block=block_id, ref=ref,
                                  rule="no_telemetry")
            if block_id == "distance":
                value = tel.distance_cm if tel.distance_cm is not None else -1.0
            else:
                value = {"x": tel.pose.x_cm, "y": tel.pose.y_cm, "heading": tel.pose.heading_deg}[args["axis"]]
            return BlockReply(status="done", block=block_id, ref=ref, value=value)
        return BlockReply(status="refused", kid_text="That block works inside your editor, not on the car.",
                          detail=f"not_a_command: {block_id} is a {kind} block", block=block_id, ref=ref,
                          rule="not_a_command")

    # --- driving by hand (the drive page) ----------------------------------------------------

    def start_drive(self, kid_id: str) -> tuple[Request, asyncio.Future]:
        """The kid drives their car by hand: a `remote` request through the dispatcher like a block's (the
        driver's level limits reach the car first; the car's supervisor filters every command), at the
        level's top speed. Returns the request and the future of its one final Outcome."""
        kid = self.kid(kid_id)
        car_id = self.car_of(kid_id)
        if car_id is None:
            raise ClassroomError("no_car", f"no car assigned to {kid.name}", fix="ask the teacher to assign a car")
        action = RemoteAction(speed_pct=capped_speed(kid.level, 100.0))
        request = Request(self.dispatcher.new_request_id(car_id), kid_id, car_id, action, "drive_by_hand", None,
                          skill_timeout_s(action, self.config.timeouts.min_skill_s))
        return request, self.dispatcher.submit(request)

    def driving(self, kid_id: str, request_id: str) -> str | None:
        """The car this kid is driving by hand with this request right now, else None."""
        car_id = self.car_of(kid_id)
        car = self.dispatcher.cars.get(car_id) if car_id else None
        running = car.running if car else None
        if running is None or running.request_id != request_id or running.kid_id != kid_id:
            return None
        return car_id

    async def steer(self, kid_id: str, request_id: str, throttle: float, steering: float, seq: int = 0) -> bool:
        """Move the stick of the kid's running `remote` request; False if that drive is not running."""
        car_id = self.driving(kid_id, request_id)
        if car_id is None:
            return False
        await self.cars.send_steer(car_id, Steer(request_id=request_id, throttle=throttle, steering=steering, seq=seq))
        return True

    async def refresh_limits(self) -> None:
        """Send every connected car its driver's limits again (a learned skill joined or left the levels)."""
        for car_id, level in list(self._limits_level.items()):
            if self.dispatcher.is_connected(car_id):
                await self._send_limits(car_id, level)

    # --- stops ----------------------------------------------------------------------------

    async def stop_kid(self, kid_id: str, reason: str = "stop") -> None:
        """Stop the kid's car now (whoever drives it: stop is a safety action) and cancel their queue."""
        car_id = self.car_of(kid_id)
        node = self._owner(car_id)
        if node is not None and self.remote is not None and car_id:
            self.remote.stop_kid(node, kid_id, car_id, reason, "Stopped.", "yes")  # sent now, never queued
        await self.dispatcher.stop_kid(kid_id, car_id, reason)

    async def kid_left(self, kid_id: str) -> None:
        """The kid's last connection closed: their queue is cancelled, their car stopped if they drive it."""
        car_id = self.car_of(kid_id)
        node = self._owner(car_id)
        if node is not None and self.remote is not None and car_id:
            self.remote.stop_kid(node, kid_id, car_id, "kid disconnected", "Stopped.", "if_running")
        status, _ = self.dispatcher.kid_status(kid_id, car_id)
        if status == "running":
            await self.dispatcher.stop_kid(kid_id, car_id, "kid disconnected")
        else:
            await self.dispatcher.stop_kid(kid_id, None, "kid disconnected")
        run_id = self._active_run.get(kid_id)
        if run_id:
            await self.end_run(run_id, "kid disconnected")

    async def estop_all(self, reason: str = "teacher emergency stop") -> list[str]:
        """Every car on the server (the single-password teacher, an admin), on every process."""
        return await self._estop(None, reason)

    async def estop_cars(self, car_ids: list[str], reason: str = "teacher emergency stop") -> list[str]:
        """These cars only (one teacher's classes): every other car drives on."""
        return await self._estop(list(car_ids), reason)

    async def _estop(self, car_ids: list[str] | None, reason: str) -> list[str]:
        # the other processes first (one broadcast, no wait), then ours: every car at once, wherever it is
        told = asyncio.ensure_future(self.remote.estop_others(reason, car_ids)) if self.remote is not None else None
        here = await self.dispatcher.estop(car_ids, reason)
        cars = sorted({*here, *(await told if told is not None else [])})
        if self.remote is not None:
            await self.remote.peers.latch(cars)  # a car that reconnects to any process is latched there too
        self.events.publish("estop", reason, cars)
        return cars

    def cars_of_class(self, class_code: str) -> list[str]:
        """The cars that belong to this class (server/core/tenancy.py): the ones its e-stop stops."""
        return [c.car_id for c in self.all_cars() if self.tenancy.car_class(c.car_id) == class_code]

    async def stop_car(self, car_id: str, reason: str = "teacher stop") -> None:
        node = self._owner(car_id)
        if node is not None and self.remote is not None:
            self.remote.stop_car(node, car_id, reason)
            return
        await self.dispatcher.stop_car(car_id, reason)

    async def reset_car(self, car_id: str) -> None:
        if self.remote is not None:
            await self.remote.peers.unlatch(car_id)
            node = self._owner(car_id)
            if node is not None:
                await self.remote.reset_car(node, car_id)
                return
        self.dispatcher.reset_estop(car_id)
        if self.dispatcher.is_connected(car_id):
            await self.cars.send_reset_estop(car_id, "teacher reset")

    # --- runs -----------------------------------------------------------------------------

    async def start_run(self, kid_id: str, source: str, program: Any, lesson_id: str | None = None) -> Run:
        """A kid pressed the green flag. Raises the Refusal if a feature's program check (a lesson's
        blocks) or the gate (the kid's level, for every block that will run) says no."""
        kid = self.kid(kid_id)
        limited = self.gate.admit_run(kid_id)  # first: a flood of green flags never reaches a check or a grader
        if limited is not None:
            raise limited
        for check in self.program_checks:
            result = check(kid, program, lesson_id)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                raise result
        refusal = program_refusal(kid.level, program)
        if refusal is not None:
            raise refusal
        previous = self._active_run.get(kid_id)
        if previous:
            await self.end_run(previous, "a newer program started")
        run = Run("r" + secrets.token_hex(6), kid_id, source, lesson_id, self.car_of(kid_id),
                  time.time(), program)
        self.runs[run.run_id] = run
        self._active_run[kid_id] = run.run_id
        self.storage.kv_put("runs", run.run_id, run.as_dict())
        self.storage.kv_put("programs", kid_id, {"source": source, "program": program, "t": run.started_at})
        self.events.publish("run_started", run)
        for setup in self.run_setups:
            await setup(run)
        return run

    async def end_run(self, run_id: str, reason: str = "finished") -> Run | None:
        run = self.runs.get(run_id)
        if run is None or run.ended_at is not None:
            return run
        run.ended_at, run.end_reason = time.time(), reason
        if self._active_run.get(run.kid_id) == run_id:
            del self._active_run[run.kid_id]
        self.dispatcher.cancel_run(run.kid_id, run_id, reason)
        node = self._owner(run.car_id)
        if node is not None and self.remote is not None:
            self.remote.cancel_run(node, run.kid_id, run_id, reason)
        self.storage.kv_put("runs", run_id, run.as_dict())
        self._ended_runs.append(run_id)
        while len(self._ended_runs) > ENDED_RUNS_KEPT:  # a class runs thousands a day: memory keeps the newest
            self.runs.pop(self._ended_runs.popleft(), None)
        self.events.publish("run_ended", run)
        return run

    def run(self, run_id: str) -> Run | None:
        """A run by id: in memory if live or recently ended, else as storage has it (ended; no program)."""
        run = self.runs.get(run_id)
        if run is not None:
            return run
        stored = self.storage.kv_get("runs", run_id)
        if not isinstance(stored, dict) or stored.get("run_id") != run_id:
            return None
        return Run(**{k: stored.get(k) for k in ("run_id", "kid_id", "source", "lesson_id", "car_id", "started_at",
                                                 "ended_at", "end_reason")})

    def active_run(self, kid_id: str) -> Run | None:
        run_id = self._active_run.get(kid_id)
        return self.runs.get(run_id) if run_id else None

    # --- events of other server processes (server/cluster replays them here) ---------------

    def replayed(self, topic: str, *args: Any) -> None:
        """An event another process published: this process's caches follow it, then its subscribers hear
        it (origin-only ones do not: they acted once, over there)."""
        if topic == "telemetry":
            self._telemetry[args[0]] = args[1]
        elif topic == "car_disconnected":  # where it was: it stays there if it reconnects to this process
            last = self._telemetry.pop(args[0], None)
            if last is not None:
                self._away_pose[args[0]] = (self.arena_for_car(args[0]), last.pose)
        elif topic == "arena_changed":  # (car_id, arena or None): subscribers hear the car id only
            self.set_known_arena(args[0], args[1])
            args = args[:1]
        elif topic == "level_changed":
            kid_id, level = args
            self._kids.pop(kid_id, None)
            if kid_id in self._speed:
                self._speed[kid_id] = capped_speed(level, self._speed[kid_id])
            car_id = self.car_of(kid_id)
            if car_id and self.dispatcher.kid_status(kid_id, car_id)[0] == "running":  # its car is ours
                self._spawn(self._send_limits(car_id, level))
        elif topic == "assignment_changed":
            car_id, kid_ids = args
            for kid_id in [*kid_ids, *(k for k, c in self._car_of.items() if c == car_id)]:
                self._car_of.pop(kid_id, None)
        elif topic == "car_changed":
            kid_id, old, _new = args
            self._car_of.pop(kid_id, None)
            run = self.active_run(kid_id)
            if old and run is not None and run.car_id == old:  # the kid's run lives here
                self._spawn(self.end_run(run.run_id, "the teacher gave the car to someone else"))
        elif topic == "kid_removed":
            kid_id = args[0].kid_id
            for cache in (self._kids, self._car_of, self._speed):
                cache.pop(kid_id, None)
            self.gate.forget(kid_id)
        self.events.replay(topic, *args)

    # --- limits, logging, lifetime --------------------------------------------------------

    def session_limits(self, level: int, car_id: str | None = None) -> SessionLimits:
        """The level's caps (the gate's rule); with a car, its arena's zones closed at that level too."""
        return session_limits(level, self.arena_for_car(car_id) if car_id else None)

    async def _send_limits(self, car_id: str, level: int) -> bool:
        """True once the car has acknowledged the level's limits; only then does the classroom count on them."""
        self._limits_level.pop(car_id, None)
        try:
            ack = await self.cars.send_limits(car_id, self.session_limits(level, car_id), self.config.timeouts.car_ack_s)
        except (TimeoutError, ConnectionError) as exc:
            log.info("limits for %s not acknowledged: %s", car_id, exc)
            return False
        if not ack.ok:  # e.g. car_busy: a stalled tick held the car's loop; the next request sends them again
            log.info("%s kept its limits: %s", car_id, ack.error.message if ack.error else "no reason")
            return False
        self._limits_level[car_id] = level
        return True

    async def _before_start(self, request: Request) -> Outcome | None:
        """The car runs with the driver's level before the driver's request reaches it (a level the teacher
        just changed, a shared car switching drivers): the limits are acknowledged first, or nothing is sent."""
        level = MIN_LEVEL if request.kid_id == SETUP_DRIVER else self.kid(request.kid_id).level
        for attempt in range(LIMITS_TRIES):
            if self._limits_level.get(request.car_id) == level or await self._send_limits(request.car_id, level):
                return None
            await asyncio.sleep(LIMITS_RETRY_S * (attempt + 1))
        return Outcome("failed", "limits_not_acknowledged", "Your car is busy for a moment. Try again!",
                       f"{request.car_id} did not confirm the limits of level {level} after {LIMITS_TRIES} tries; "
                       "the request was not sent (check the car's log for stalled ticks)")

    def _log_request(self, request: Request, outcome: Outcome) -> None:
        duration = self._clock() - request.started_at if request.started_at is not None else 0.0
        self._request_log.append(RequestLogEntry(time.time(), request.kid_id, request.car_id, request.block,
                                                 request.action.model_dump(mode="json"), outcome.status,
                                                 outcome.detail or outcome.reason, duration))

    def _log_refusal(self, kid: Kid, block_id: str, args: dict[str, Any], detail: str) -> None:
        safe_args = {str(k)[:32]: (v if isinstance(v, (int, float, bool)) or v is None else str(v)[:64])
                     for k, v in list(args.items())[:8]}
        self._request_log.append(RequestLogEntry(time.time(), kid.kid_id, self.car_of(kid.kid_id),
                                                 str(block_id)[:40], safe_args, "refused", str(detail)[:500], 0.0))

    def _summarise_refusals(self) -> None:
        """Windows of counted refusals that are over: one request-log row and one teacher event each."""
        window_s = self.refusals.window_s
        for summary in self.refusals.drain():
            detail = summary.detail(window_s)
            self._request_log.append(RequestLogEntry(time.time(), summary.kid_id, summary.car_id, "*",
                                                     dict(summary.rules), "refused", detail, 0.0))
            self.events.publish("refusals_summarised", summary.kid_id,
                                {"count": summary.count, "rules": dict(summary.rules), "detail": detail})

    async def flush_request_log(self) -> int:
        """Write buffered request-log entries in a thread, off the event loop; prune the log once a minute."""
        self._summarise_refusals()
        entries, self._request_log = self._request_log, []
        if entries:
            await asyncio.to_thread(self.storage.log_requests, entries)
        now = self._clock()
        if self._pruned_at is None or now - self._pruned_at >= REQUEST_LOG_PRUNE_S:
            self._pruned_at = now
            await self.prune_request_log()
        return len(entries)

    async def prune_request_log(self) -> int:
        """Retention (config ``request_log``): rows older than max_age_days go, then all but the newest max_rows."""
        keep = self.config.request_log
        return await asyncio.to_thread(self.storage.prune_requests, keep.max_rows,
                                       time.time() - keep.max_age_days * 86400.0)

    def _spawn(self, coro: Awaitable[None]) -> None:
        self.dispatcher.spawn(coro)

    async def close(self) -> None:
        await self.dispatcher.close()
        await self.flush_request_log()
        await self.events.close()


def car_change_text(old: str | None, new: str | None) -> str:
    """What a kid reads when the teacher changes their car (one sentence for every editor)."""
    if new:
        return f"Your teacher gave you {new}." + (f" {old} is not yours any more." if old else "")
    return f"Your teacher took {old} back. Ask your teacher when you need a car again."


def _kid(record: KidRecord) -> Kid:
    return Kid(record.kid_id, record.name, record.class_code, record.level)


def _check_level(level: Any) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ClassroomError("level_range", f"level must be a whole number from {MIN_LEVEL} to {MAX_LEVEL} (got {level!r})",
                             level, f"send a level from {MIN_LEVEL} to {MAX_LEVEL}")
    return level
