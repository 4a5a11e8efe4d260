"""One kid driving their car by hand to show it a trick, recorded as one episode.

    session = DriveSession(classroom, kid_id, log, send=emit_to_page)
    await session.start("park")          # the car goes to the trick's start; a `remote` request runs
    await session.steer(0.6, -0.2, seq)  # the stick (rate limited: STEER_RATE_HZ, burst STEER_BURST)
    summary = await session.end("stopped")   # the car stops; the episode is kept (DriveLog)

The request goes through the classroom's dispatcher like any block: the driver's level limits reach the
car before it starts (top speed, fence, closed zones, allowed skills) and the car's supervisor filters
every command. The recording comes from the car's telemetry: the pose and speed it reports, the command
the supervisor actually applied, and the stick the kid held (learning/recorder.py). The drive ends by
itself when the trick is done or failed, after the trick's time limit, or when the car's request ends
(the car's own dead-man: no stick for 10 s). Frames count only once telemetry says the request runs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from curriculum.gate import TokenBucket
from learning.drives import DriveLog
from learning.evaluate import DEMO_SEED_BASE
from learning.recorder import DriveRecorder
from learning.tricks import TRICKS, get_trick
from robot_runtime.hardware import CarState, Command
from robot_runtime.protocol import TELEMETRY_HZ, Telemetry
from server.core.classroom import Classroom
from server.core.types import ClassroomError

log = logging.getLogger(__name__)

STEER_RATE_HZ = 25.0  # the page sends its stick at 20 Hz; more is dropped (counted), never queued
STEER_BURST = 10
STATE_EVERY = 2  # telemetry samples per state message to the page (10 Hz)
DRIVE_SEED_BASE = DEMO_SEED_BASE + 500_000  # kids' starts: never an evaluation start


class DriveError(ValueError):
    """Something a drive cannot do now; `kid_text` says it for the kid, `rule` for the page."""

    def __init__(self, rule: str, message: str, kid_text: str) -> None:
        super().__init__(message)
        self.rule, self.kid_text = rule, kid_text


def state_of(t: Telemetry) -> CarState:
    return CarState(t=t.t, x_cm=t.pose.x_cm, y_cm=t.pose.y_cm, heading_deg=t.pose.heading_deg,
                    speed_cm_s=t.speed_cm_s, yaw_rate_dps=t.yaw_rate_dps, slip_deg=t.slip_deg,
                    distance_cm=t.distance_cm, collisions=tuple(t.collisions))


class DriveSession:
    def __init__(self, classroom: Classroom, kid_id: str, drives: DriveLog,
                 send: Callable[[str, dict], Awaitable[None]], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.classroom, self.kid_id, self.drives, self.send = classroom, kid_id, drives, send
        self.clock = clock
        self.bucket = TokenBucket(STEER_RATE_HZ, STEER_BURST, clock)
        self.dropped_steers = 0
        self.request_id: str | None = None
        self.car_id: str | None = None
        self.trick_name = ""
        self.recorder: DriveRecorder | None = None
        self.requested = Command()
        self.status = "idle"  # idle | waiting | driving
        self.started_at = 0.0
        self._future: asyncio.Future | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._samples = 0
        self._ending = False
        self._seq = 0
        self.speed_scale = 1.0

    # --- start ---------------------------------------------------------------------------------

    async def start(self, trick_name: str) -> dict:
        if trick_name not in TRICKS:
            raise DriveError("unknown_trick", f"there is no trick {trick_name!r} (tricks: {', '.join(TRICKS)})",
                             "Pick one of the tricks on the page.")
        if self.status != "idle":
            raise DriveError("already_driving", "a drive is already running", "You're already driving!")
        kid = self.classroom.kid(self.kid_id)
        car_id = self.classroom.car_of(self.kid_id)
        if car_id is None or not self.classroom.dispatcher.is_connected(car_id):
            raise DriveError("no_car", f"{kid.name} has no connected car", "Your car isn't here yet — ask your teacher.")
        trick = get_trick(trick_name)
        seed = DRIVE_SEED_BASE + random.randrange(100_000)
        pose = trick.start_pose(seed)
        await self.classroom.set_arena(car_id, trick.arena, pose)  # a simulated car is placed at the start
        try:
            request, future = self.classroom.start_drive(self.kid_id)
        except ClassroomError as exc:
            raise DriveError(exc.rule, exc.message, "Your car isn't here yet — ask your teacher.") from None
        self.car_id, self.trick_name, self.request_id, self._future = car_id, trick.name, request.request_id, future
        self.recorder = DriveRecorder(trick, source=f"kid:{kid.name}", seed=seed, fps=TELEMETRY_HZ)
        self.requested, self._samples, self._ending = Command(), 0, False
        self.status, self.started_at = "waiting", self.clock()
        self._unsubscribe = self.classroom.events.subscribe("telemetry", self._on_telemetry)
        future.add_done_callback(self._request_ended)
        speed = request.action.speed_pct  # type: ignore[union-attr]
        self.speed_scale = speed / 100.0
        return {"request_id": request.request_id, "trick": trick.name, "title": trick.title, "seed": seed,
                "start": pose.model_dump(mode="json"), "arena": trick.arena.model_dump(mode="json"),
                "level": kid.level, "max_speed_pct": speed, "time_limit_s": trick.time_limit_s}

    # --- the stick -----------------------------------------------------------------------------

    async def steer(self, throttle: float, steering: float, seq: int = 0) -> bool:
        if self.status == "idle" or self.request_id is None:
            return False
        if not self.bucket.take():
            self.dropped_steers += 1
            return False
        self.requested = Command(max(-1.0, min(1.0, throttle)), max(-1.0, min(1.0, steering)))
        self._seq = seq
        try:
            return await self.classroom.steer(self.kid_id, self.request_id, self.requested.throttle,
                                              self.requested.steering, seq)
        except ConnectionError:
            return False

    # --- recording -----------------------------------------------------------------------------

    def _on_telemetry(self, car_id: str, t: Telemetry) -> None:
        if car_id != self.car_id or self.recorder is None or self._ending:
            return
        if t.skill is None or t.skill.request_id != self.request_id:
            return  # before the request runs (or the car is still being placed)
        self.status = "driving"
        # what the kid asked, as the car saw it (the throttle the skill scales by the level's speed)
        requested = Command(self.requested.throttle * self.speed_scale, self.requested.steering)
        status = self.recorder.add(state_of(t), requested, Command(t.throttle, t.steering))
        self._samples += 1
        if self._samples % STATE_EVERY == 1:
            self._spawn(self.send("drive_state", {
                "x": t.pose.x_cm, "y": t.pose.y_cm, "heading": t.pose.heading_deg, "speed_cm_s": round(t.speed_cm_s, 1),
                "throttle": round(t.throttle, 3), "steering": round(t.steering, 3),
                "frames": len(self.recorder.episode.actions), "status": status,
                "narration": self.recorder.episode.narration[-1] if self.recorder.episode.narration else "",
                "safety": [e.kid_text for e in t.safety_events]}))
        trick = TRICKS[self.trick_name]
        if status != "running":
            self._spawn(self.end(status))
        elif self.clock() - self.started_at > trick.time_limit_s:
            self._spawn(self.end("timeout"))

    def _request_ended(self, future: asyncio.Future) -> None:
        if not self._ending and self.status != "idle":
            self._spawn(self.end("car_ended"))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    # --- end -----------------------------------------------------------------------------------

    async def end(self, reason: str = "stopped") -> dict | None:
        """Stop the car and keep the episode; returns the drive's summary (None if nothing ran)."""
        if self._ending or self.recorder is None:
            return None
        self._ending = True
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self.classroom.driving(self.kid_id, self.request_id or "") is not None:
            await self.classroom.stop_kid(self.kid_id, "drive ended")
        outcome = None if reason in ("done", "failed") else reason
        episode = self.recorder.finish(outcome)
        number = self.drives.add(self.kid_id, episode) if episode.actions else 0
        summary = {"trick": self.trick_name, "number": number, "outcome": episode.outcome, "success": episode.success,
                   "kid_text": episode.kid_text or _ended_text(episode.outcome), "frames": len(episode.actions),
                   "collisions": episode.collisions, "duration_s": round(episode.duration_s, 2),
                   "path": [[round(v, 1) for v in p] for p in episode.path],
                   "drives": self.drives.summary(self.kid_id, self.trick_name) if number else None}
        self.recorder, self.request_id, self.status = None, None, "idle"
        await self.send("drive_ended", summary)
        return summary

    async def leave(self) -> None:
        """The page went away: end the drive and put the car back in the class's arena."""
        await self.end("page_closed")
        car_id = self.car_id
        if car_id is not None and self.classroom.dispatcher.is_connected(car_id):
            await self.classroom.set_arena(car_id, None)


def _ended_text(outcome: str) -> str:
    return {"timeout": "Time's up! Try again — a bit quicker.", "stopped": "Stopped. Press Start to drive again.",
            "page_closed": "Stopped.", "car_ended": "The car stopped. Press Start to drive again."}.get(
        outcome, "Stopped.")
