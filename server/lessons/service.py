"""Attempts: a run on a lesson is recorded, graded and turned into feedback for the kid and the teacher.

Lifecycle (all driven by classroom events, nothing polls the cars):

    kid selects a lesson (POST /api/lessons/select) -> the lesson's arena goes to the kid's car
    "run_started" with a lesson (or the selected one)  -> an Attempt: the car is put at the start pose,
                                                          the program snapshot and every telemetry sample,
                                                          safety event and collision are appended to disk
    time limit / kid stop / teacher stop / program end -> "run_ended": record until the car stands still
    the car's link drops during the attempt            -> the attempt is cut: `interrupted` (below)
    grading (background task)                          -> judge + frames + overlay (a thread), stored with
                                                          feedback from the checks, progress updated (unlocks,
                                                          level up), the core's "attempt_graded" event (the
                                                          kid's editors get `feedback`, the console a refresh);
                                                          then the coach (Ollama) through the coach queue
                                                          (coach_queue.py): its words follow as a second
                                                          "attempt_graded" (`coach_update`)

An attempt cut by a crash (the car's link dropped while it ran, or the server died before its end was
written) is judged from what was recorded: if the checks already pass, it is graded as usual; otherwise it
is marked `interrupted` — no stars, no coach, not a failed try (it uses up no hint and counts for no
progress), its recording and verdict kept for the teacher. A kid is never given 0 stars for a crash.

On a home floor (the set-up wizard's saved arena, ``Classroom.home_floor_for``: real cars, and simulated
cars when the simulated room was measured) a lesson runs fitted into that floor (curriculum/lesson_fit.py):
the car gets the moved or shrunk arena and start, the judge and the attempt's pictures use it, the lesson
list says how it was fitted (``floor``), and a lesson too big for the floor is refused when picked or run.

It is also the core's lesson book (server/core/lesson_book.py). Rows and lesson picks are kept by
server/lessons/store.py; the HTTP API is server/lessons/routes.py. Frames are files under the data dir
and are only ever served to the kid who made the attempt or the teacher.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from aiohttp import web

from curriculum.coach import Coach, CoachConfig, CoachImages, from_checks
from curriculum.frames import render_attempt_images
from curriculum.gate import Refusal, lesson_refusal
from curriculum.judge import Verdict, judge
from curriculum.lesson import Lesson
from curriculum.lesson_fit import Fit, fitted_lesson
from curriculum.loader import LessonSet, load_lessons
from curriculum.progress import lesson_list, level_up, newly_unlocked
from curriculum.recording import EndReason, Recording, RecordingWriter, append_frames, read_recording
from robot_runtime.private_files import write_private
from robot_runtime.protocol import Telemetry
from server.core.classroom import Classroom
from server.core.lesson_book import LessonMode
from server.core.types import ClassroomError, Kid, Run
from server.lessons.coach_queue import CoachJob, CoachQueue, register_metrics
from server.lessons.store import AttemptStore
from server.web.state import CLASSROOM, CONFIG, LESSONS, METRICS, STORAGE

log = logging.getLogger(__name__)

ARENA_SETTLE_S = 0.5  # after the start pose is sent, samples from the old pose may still be in flight
START_POSE_CM = 10.0  # a sample this close to the lesson's start pose is the new attempt's first one
STOPPED_CM_S = 3.0  # the car counts as standing still below this speed (as the judge's MOVING_CM_S)
SETTLE_MAX_S = 3.0  # after the run ends, record at most this long while the car comes to rest
SETTLE_POLL_S = 0.05  # one telemetry period: how often the settle wait looks at the latest speed
TIME_LIMIT_GRACE_S = 0.25  # the run is stopped this long after the lesson's time limit, not a tick earlier
COACH_WRITING_NOTE = "the coach model is still writing; until then the feedback comes from the checks"
COACH_OFF_NOTE = "the coach model is switched off; feedback comes from the checks alone"
COACH_SKIPPED_NOTE = ("the coach model skipped this try: the kid's newer try took its place in the coach queue; "
                      "feedback comes from the checks alone")
COACH_RESTART_NOTE = ("the server restarted while this try waited for the coach model, so the coach's words are "
                      "not coming; feedback comes from the checks alone")
COACH_RESTART_KID_TEXT = "The coach couldn't look at this drive this time. Your stars and checks are all here!"


def end_reason_of(run_reason: str | None) -> EndReason:
    """The classroom's free-text run end reason -> the recording's end reason."""
    text = (run_reason or "").lower()
    if "time" in text and "limit" in text:
        return "time_limit"
    if "estop" in text or "emergency" in text:
        return "estop"
    if "teacher" in text:
        return "teacher_stop"
    if "stop" in text or "newer program" in text or "disconnect" in text:
        return "kid_stop"
    if text in ("finished", "done", "failed", "refused", "program_finished", ""):
        return "program_finished"
    return "unknown"


@dataclass
class LiveAttempt:
    attempt_id: str
    run: Run
    kid: Kid
    lesson: Lesson
    car_id: str | None
    writer: RecordingWriter
    directory: Path
    armed_at: float  # monotonic time the start pose was sent
    accepting: bool = False  # first sample of this attempt seen (see ARENA_SETTLE_S)
    last_speed: float = 0.0
    timer: asyncio.Task | None = None
    finishing: bool = False  # the run ended; still recording while the car comes to rest
    cut: bool = False  # the car's link dropped during the attempt: it may end `interrupted`
    ended: bool = False  # recording closed


@dataclass
class AttemptService:
    app: web.Application
    lesson_set: LessonSet
    store: AttemptStore
    coach: Coach
    root: Path
    coach_queue: CoachQueue = field(default_factory=CoachQueue)
    live_by_car: dict[str, LiveAttempt] = field(default_factory=dict)
    live_by_run: dict[str, LiveAttempt] = field(default_factory=dict)
    tasks: set[asyncio.Task] = field(default_factory=set)

    @property
    def classroom(self) -> Classroom:
        return self.app[CLASSROOM]

    # --- the home floor: a lesson as it runs on this car's floor -------------------------------

    def on_floor(self, lesson: Lesson, car_id: str | None) -> tuple[Lesson | None, Fit | None]:
        """(the lesson as it runs on this car, how it was fitted): the lesson itself and None off any home
        floor; the fitted lesson on one; (None, fit) when it is too big for that floor."""
        home = self.classroom.home_floor_for(car_id) if car_id else None
        if home is None:
            return lesson, None
        fit, fitted = fitted_lesson(lesson, home)
        return fitted, fit

    def floor_refusal(self, kid: Kid, lesson: Lesson) -> ClassroomError | None:
        """A lesson too big for the kid's car's floor: its sentence names the fix (a bigger floor)."""
        car_id = self.classroom.car_of(kid.kid_id)
        fitted, fit = self.on_floor(lesson, car_id)
        if fitted is not None or fit is None:
            return None
        home = self.classroom.home_floor_for(car_id or "")
        size = f"{home.width_cm:.0f} x {home.height_cm:.0f} cm" if home else "this"
        return ClassroomError(
            "lesson_too_big", f"This lesson needs more room than your {size} floor. Pick another lesson, or ask "
            "a grown-up to make the arena bigger and measure it again in the set-up.", lesson.id,
            "lay the corner markers further apart and do steps 3, 4 and 7 of /setup/ again (the measure and save "
            "steps), or pick a lesson that fits", status=409)

    # --- the lesson book (server.core.lesson_book): what the rest of the server may ask -------

    def lessons(self, kid: Kid | None) -> list[dict[str, Any]]:
        """Behind GET /api/lessons and the teacher's progress: with a kid, their stars, locks and pick."""
        if kid is None:
            return lesson_list(self.lesson_set, None)
        kid = self.classroom.kid(kid.kid_id)
        items = lesson_list(self.lesson_set, kid.level, self.store.results_of(kid.kid_id), self.store.overrides_of(kid))
        selected = self.store.selected(kid.kid_id)
        car_id = self.classroom.car_of(kid.kid_id)
        home = self.classroom.home_floor_for(car_id) if car_id else None
        out = []
        for item in items:
            item = {**item, "selected": item["id"] == selected}
            if home is not None and item["id"] in self.lesson_set.lessons:
                fitted, fit = self.on_floor(self.lesson_set.get(item["id"]), car_id)
                assert fit is not None
                item["floor"] = {"fit": fit.kind, "scale": round(fit.scale, 2), "words": fit.words(home)}
                if fitted is not None:
                    item["arena"] = fitted.arena.model_dump(mode="json")
            out.append(item)
        return out

    def selected_lesson(self, kid_id: str) -> str | None:
        return self.store.selected(kid_id)

    def last_attempt(self, kid_id: str) -> tuple[float | None, str | None]:
        return self.store.last_attempt(kid_id)

    def class_lesson_modes(self, class_code: str) -> dict[str, LessonMode]:
        return self.store.class_modes(class_code)

    def set_class_lesson_mode(self, class_code: str, lesson_id: str, mode: LessonMode) -> None:
        if lesson_id not in self.lesson_set.lessons:
            raise KeyError(lesson_id)
        self.store.set_class_mode(class_code, lesson_id, mode)

    # --- picking a lesson -----------------------------------------------------------------

    def lesson_blocks_check(self, kid: Kid, program: Any, lesson_id: str | None = None) -> Refusal | None:
        """A program check: a run that names a lesson names one that exists and is open to the kid (else it
        would silently become free driving, never graded); during a lesson only the lesson's blocks may be
        used (the gate's lesson rule). Without a named lesson, the kid's picked one applies."""
        if lesson_id is not None:
            if lesson_id not in self.lesson_set.lessons:
                known = ", ".join(sorted(self.lesson_set.lessons)[:5])
                return Refusal("lesson_id", f"there is no lesson {lesson_id!r}", value=lesson_id,
                               fix=f"start the run with the id of a lesson from GET /api/lessons (e.g. {known}), "
                                   "or without lesson_id to drive freely",
                               kid_text="That lesson isn't here. Pick a lesson from the list and press go again.")
            locked, reason = self.is_locked(kid, lesson_id)
            if locked:
                return Refusal("lesson_locked", f"lesson {lesson_id!r} is locked for this kid: {reason}",
                               value=lesson_id, fix="pick an open lesson, or the teacher opens this one",
                               kid_text=f"{reason} Pick an open lesson and press go again.")
        lesson_id = lesson_id or self.store.selected(kid.kid_id)
        if not lesson_id or lesson_id not in self.lesson_set.lessons:
            return None
        lesson = self.lesson_set.get(lesson_id)
        too_big = self.floor_refusal(kid, lesson)
        if too_big is not None:
            return Refusal(too_big.rule, f"lesson {lesson_id!r} does not fit this car's floor", value=lesson_id,
                           fix=too_big.fix, kid_text=too_big.message)
        return lesson_refusal(lesson, program)

    def is_locked(self, kid: Kid, lesson_id: str) -> tuple[bool, str]:
        for item in self.lessons(kid):
            if item["id"] == lesson_id:
                return item["locked"], item["locked_reason"]
        return True, "There is no such lesson."

    async def select_lesson(self, kid: Kid, lesson_id: str | None) -> dict[str, Any] | None:
        """The kid picks a lesson (None: free driving): the car goes into the lesson's arena, at its start.

        On a shared car the arena moves only while nobody else drives it: while another kid's program
        runs on it, the pick is refused (409 ``car_busy``, nothing changes) — it would move their car
        away under them, or leave the car and the server with different arenas."""
        car_id = self.classroom.car_of(kid.kid_id)
        lesson = self.lesson_set.get(lesson_id) if lesson_id is not None else None
        if lesson is not None:
            too_big = self.floor_refusal(kid, lesson)
            if too_big is not None:
                raise too_big
        if car_id:
            other = self.classroom.other_driver(kid.kid_id, car_id)
            if other is not None:
                raise car_busy(car_id, other.name)
            here = self.on_floor(lesson, car_id)[0] if lesson else None
            moved = await self.classroom.set_arena(car_id, here.arena if here else None,
                                                   here.arena.start if here else None)
            if not moved:
                other = self.classroom.other_driver(kid.kid_id, car_id)
                raise car_busy(car_id, other.name if other else None)
        self.store.select(kid.kid_id, lesson_id)
        return lesson.summary() if lesson else None

    async def on_car_changed(self, kid_id: str, old: str | None, new: str | None) -> None:
        """A kid with a picked lesson who is given another car finds the lesson's arena on it."""
        lesson_id = self.store.selected(kid_id)
        if new and lesson_id in self.lesson_set.lessons:
            here = self.on_floor(self.lesson_set.get(lesson_id), new)[0]
            if here is None:  # too big for the new car's floor: it waits in its own arena (a run is refused)
                log.info("lesson %s does not fit %s's floor: the car keeps its arena", lesson_id, new)
                return
            await self.classroom.set_arena(new, here.arena, here.arena.start)

    # --- recording ------------------------------------------------------------------------

    def on_run_started(self, run: Run) -> None:
        lesson_id = run.lesson_id or self.store.selected(run.kid_id)
        if not lesson_id or lesson_id not in self.lesson_set.lessons:
            return  # free driving: not an attempt
        kid = self.classroom.kid(run.kid_id)
        if self.is_locked(kid, lesson_id)[0]:
            log.info("run %s names locked lesson %s for kid %s: free driving, not an attempt", run.run_id, lesson_id,
                     kid.kid_id)
            return
        lesson = self.on_floor(self.lesson_set.get(lesson_id), run.car_id)[0]  # as it runs on this car's floor
        if lesson is None:  # the program check refuses this run first; a block-by-block run is not an attempt
            log.info("run %s: lesson %s does not fit %s's floor: free driving, not an attempt", run.run_id, lesson_id,
                     run.car_id)
            return
        attempt_id = "a" + secrets.token_hex(6)
        directory = self.root / attempt_id
        header = Recording(attempt_id=attempt_id, lesson_id=lesson.id, kid_id=kid.kid_id, car_id=run.car_id or "",
                           source=run.source, program=run.program, started_at=run.started_at)
        writer = RecordingWriter(header, directory / "recording.jsonl")
        self.store.add(attempt_id, run.run_id, kid, lesson.id, run.car_id, run.source, run.started_at, str(directory))
        live = LiveAttempt(attempt_id, run, kid, lesson, run.car_id, writer, directory, time.monotonic())
        self.live_by_run[run.run_id] = live
        if run.car_id:
            old = self.live_by_car.get(run.car_id)
            if old is not None and not old.finishing:
                self._spawn(self._finish(old, "kid_stop"))
            self.live_by_car[run.car_id] = live
        live.timer = self._spawn(self._time_limit(live))

    async def setup_run(self, run: Run) -> None:
        """Before the attempt's first block: the car at the lesson's start, and the server seeing it there
        (a program that reads `car x` first must read the start, not where the last try ended)."""
        live = self.live_by_run.get(run.run_id)
        if live is None or not run.car_id:
            return
        start = live.lesson.arena.start
        other = self.classroom.other_driver(run.kid_id, run.car_id)
        if other is not None:  # a shared car someone else drives: never moved away under them
            log.info("run %s: %s is driving %s, the car stays where it is", run.run_id, other.name, run.car_id)
        elif not await self.classroom.set_arena(run.car_id, live.lesson.arena, start):
            log.info("run %s: %s did not take the lesson's arena (busy); it starts where it is", run.run_id, run.car_id)
        live.armed_at = time.monotonic()
        deadline = live.armed_at + ARENA_SETTLE_S  # a real car is not moved by the server: it may never get there

        def at_start() -> bool:
            tel = self.classroom.latest_telemetry(run.car_id or "")
            return tel is not None and (tel.pose.x_cm - start.x_cm) ** 2 + (tel.pose.y_cm - start.y_cm) ** 2 <= START_POSE_CM ** 2

        while not at_start() and time.monotonic() < deadline:
            await asyncio.sleep(SETTLE_POLL_S)

    def on_telemetry(self, car_id: str, tel: Telemetry) -> None:
        live = self.live_by_car.get(car_id)
        if live is None or live.ended:
            return
        if not live.accepting:
            s = live.lesson.arena.start
            near = (tel.pose.x_cm - s.x_cm) ** 2 + (tel.pose.y_cm - s.y_cm) ** 2 <= START_POSE_CM ** 2
            if not near and time.monotonic() - live.armed_at < ARENA_SETTLE_S:
                return
            live.accepting = True
        live.last_speed = abs(tel.speed_cm_s)
        live.writer.add_telemetry(tel)

    def on_run_ended(self, run: Run) -> None:
        live = self.live_by_run.get(run.run_id)
        if live is not None and not live.finishing:
            self._spawn(self._finish(live, end_reason_of(run.end_reason)))

    def on_car_disconnected(self, car_id: str) -> None:
        live = self.live_by_car.get(car_id)
        if live is not None and not live.ended:
            live.cut = True

    def on_estop(self, reason: str, car_ids: list[str]) -> None:
        for car_id in car_ids:
            live = self.live_by_car.get(car_id)
            if live is not None and not live.finishing:
                self._spawn(self.classroom.end_run(live.run.run_id, f"teacher emergency stop: {reason}"))

    async def _time_limit(self, live: LiveAttempt) -> None:
        await asyncio.sleep(live.lesson.time_limit_s + TIME_LIMIT_GRACE_S)
        if not live.finishing:
            await self.classroom.stop_kid(live.kid.kid_id, "lesson time limit")
            await self.classroom.end_run(live.run.run_id, "time limit")

    async def _finish(self, live: LiveAttempt, reason: EndReason) -> None:
        if live.finishing:
            return
        live.finishing = True  # no second finish; telemetry keeps flowing in until the car rests
        deadline = time.monotonic() + SETTLE_MAX_S
        while time.monotonic() < deadline and live.last_speed > STOPPED_CM_S:
            await asyncio.sleep(SETTLE_POLL_S)
        live.ended = True
        if live.timer is not None and live.timer is not asyncio.current_task():
            live.timer.cancel()
        # The cancelled timer keeps its CancelledError, whose traceback keeps the timer's frame, which holds
        # `live`: were `live` still to hold the timer, the attempt and its whole recording would be a
        # reference cycle that only the collector's rare full pass frees (server/runner.py GC_THRESHOLDS).
        live.timer = None
        rec = live.writer.end(reason)
        live.writer.close()
        if live.car_id and self.live_by_car.get(live.car_id) is live:
            del self.live_by_car[live.car_id]
        self.live_by_run.pop(live.run.run_id, None)
        self.store.update(live.attempt_id, ended_at=rec.ended_at, end_reason=reason, status="grading")
        await self._grade(live.attempt_id, live.lesson, live.kid, rec, cut=live.cut)

    # --- grading --------------------------------------------------------------------------

    async def _grade(self, attempt_id: str, lesson: Lesson, kid: Kid, rec: Recording, *, cut: bool = False) -> None:
        """Stars and checks at once (with feedback written from the checks); the coach's words follow
        through the coach queue when the model has answered (a second `feedback` event: coach_update)."""
        directory = self.root / attempt_id
        before = self.store.results_of(kid.kid_id)
        verdict, images = await asyncio.to_thread(_judge_and_draw, lesson, rec, directory)
        if cut and not verdict.passed:  # a crash, not the kid's program, ended it: no stars, no failed try
            self.store.update(attempt_id, status="interrupted", verdict=verdict.model_dump(mode="json"))
            log.info("attempt %s of kid %s was cut by a crash: interrupted, not graded", attempt_id, kid.kid_id)
            return
        # Each earlier try that did not pass got the next hint: this one gets the one after (never a repeat).
        hints_given = sum(1 for r in self.store.rows_of_kid(kid.kid_id, lesson.id)
                          if r["attempt_id"] != attempt_id and r["status"] == "graded" and not r["final_stars"])
        use_model = self.coach.config.enabled
        checks = from_checks(lesson, verdict, COACH_WRITING_NOTE if use_model else COACH_OFF_NOTE, hints_given=hints_given)
        self.store.update(attempt_id, status="graded", passed=int(verdict.passed), stars=verdict.stars,
                          final_stars=verdict.stars, verdict=verdict.model_dump(mode="json"),
                          feedback={**checks.model_dump(mode="json"), "coach_pending": use_model})
        kid = self.classroom.kid(kid.kid_id)
        after = self.store.results_of(kid.kid_id)
        overrides = self.store.overrides_of(kid)
        new_level = level_up(self.lesson_set, kid.level, after)
        unlocked = newly_unlocked(self.lesson_set, kid.level, before, after, overrides, new_level)
        if new_level is not None:
            self.classroom.set_level(kid.kid_id, new_level)
        await self.deliver(attempt_id, unlocked=unlocked, level_up=new_level)
        if not use_model:
            return
        coach_images = CoachImages([images[n] for n in sorted(images) if n.startswith("key-")], images.get("overlay.png"))

        async def ask_coach() -> None:
            result = await self.coach.feedback(lesson, verdict, verdict.program.get("text", ""), coach_images,
                                               hints_given=hints_given)
            await self._coach_answered(attempt_id, result.model_dump(mode="json"))

        async def skipped() -> None:
            fb = self.store.row(attempt_id)["feedback"] or {}  # type: ignore[index]
            await self._coach_answered(attempt_id, {**fb, "teacher_note": COACH_SKIPPED_NOTE})

        self.coach_queue.submit(CoachJob(kid.kid_id, attempt_id, ask_coach, skipped))

    async def _coach_answered(self, attempt_id: str, feedback: dict[str, Any]) -> None:
        """The coach's words (or why there are none) replace the checks' feedback; the kid gets the update."""
        self.store.update(attempt_id, feedback={**feedback, "coach_pending": False})
        await self.deliver(attempt_id, coach_update=True)

    async def deliver(self, attempt_id: str, **extra: Any) -> dict[str, Any]:
        row = self.store.row(attempt_id)
        assert row is not None
        payload = {**feedback_payload(row, self.lesson_set), **extra}
        self.classroom.events.publish("attempt_graded", row["kid_id"], payload)  # the kid's editors, the console
        return payload

    async def override(self, attempt_id: str, stars: int, comment: str) -> dict[str, Any]:
        row = self.store.row(attempt_id)
        if row is None:
            raise KeyError(attempt_id)
        kid = self.classroom.kid(row["kid_id"])
        before = self.store.results_of(kid.kid_id)
        self.store.update(attempt_id, final_stars=stars, status="graded" if row["status"] != "recording" else row["status"],
                          override={"stars": stars, "comment": comment, "at": time.time(), "original_stars": row["stars"]})
        after = self.store.results_of(kid.kid_id)
        new_level = level_up(self.lesson_set, kid.level, after)
        unlocked = newly_unlocked(self.lesson_set, kid.level, before, after, self.store.overrides_of(kid), new_level)
        if new_level is not None:
            self.classroom.set_level(kid.kid_id, new_level)
        return await self.deliver(attempt_id, unlocked=unlocked, level_up=new_level)

    async def recover(self) -> list[str]:
        """After a crash or restart: grade every attempt that was still recording or grading, from what
        reached the disk (a torn last line is skipped). An attempt whose end was never written was cut by the
        crash: end reason `error`, and `interrupted` unless what was recorded already passes.

        A graded try still waiting for the coach's words lost its place in the coach queue (it lives in
        memory): it keeps its checks' feedback, and says the coach's words are not coming, instead of
        "still thinking" forever."""
        for attempt_id in self.store.coach_waiting():
            fb = self.store.row(attempt_id)["feedback"] or {}  # type: ignore[index]
            await self._coach_answered(attempt_id, {**fb, "teacher_note": COACH_RESTART_NOTE,
                                                     "coach_note": COACH_RESTART_KID_TEXT})
        recovered = []
        for attempt_id in self.store.unfinished():
            row = self.store.row(attempt_id)
            rec = self.recording(row) if row else None
            if row is None or rec is None or row["lesson_id"] not in self.lesson_set.lessons:
                self.store.update(attempt_id, status="lost")
                continue
            try:
                kid = self.classroom.kid(row["kid_id"])
            except Exception:
                self.store.update(attempt_id, status="lost")
                continue
            cut = rec.end_reason in (None, "error")  # never written, or written by a shutdown mid-attempt
            if cut:
                rec.end_reason, rec.ended_at = "error", time.time()
            self.store.update(attempt_id, ended_at=rec.ended_at, end_reason=rec.end_reason, status="grading")
            # graded on the car's floor as it is now (the fitted layout is not stored with the recording)
            lesson = self.lesson_set.get(row["lesson_id"])
            await self._grade(attempt_id, self.on_floor(lesson, row["car_id"])[0] or lesson, kid, rec, cut=cut)
            recovered.append(attempt_id)
        return recovered

    def recording(self, row: dict[str, Any]) -> Recording | None:
        path = Path(row["dir"]) / "recording.jsonl"
        return read_recording(path) if path.is_file() else None

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("attempt task failed", exc_info=task.exception())

    async def close(self) -> None:
        await self.coach_queue.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for live in list(self.live_by_run.values()):
            live.writer.end("error")
            live.writer.close()


def _judge_and_draw(lesson: Lesson, rec: Recording, directory: Path) -> tuple[Verdict, dict[str, bytes]]:
    """CPU work, run in a thread: the verdict and the images, written next to the recording."""
    verdict = judge(lesson, rec)
    images = render_attempt_images(rec, lesson.arena)
    for name, data in images.items():
        write_private(directory / name, data)  # 0600 in a 0700 folder: frames of a kid's attempt
    if (directory / "recording.jsonl").is_file():
        append_frames(directory / "recording.jsonl", sorted(images))
    return verdict, images


def car_busy(car_id: str, driver: str | None) -> ClassroomError:
    who = f"{driver} is driving {car_id}" if driver else f"{car_id} is still moving"
    return ClassroomError("car_busy", f"{who} right now, so the lesson was not changed", car_id,
                          f"pick your lesson again when {car_id} has stopped" + (f" and {driver}'s program has ended"
                                                                                  if driver else ""), status=409)


def image_names(row: dict[str, Any]) -> list[str]:
    directory = Path(row["dir"])
    return sorted(p.name for p in directory.glob("*.png")) if directory.is_dir() else []


def feedback_payload(row: dict[str, Any], lessons: LessonSet) -> dict[str, Any]:
    """The `feedback` event both front ends show: stars, checks, the coach's words, the teacher's note."""
    verdict, fb, ov = row["verdict"] or {}, row["feedback"] or {}, row["override"]
    title = lessons.get(row["lesson_id"]).title if row["lesson_id"] in lessons.lessons else row["lesson_id"]
    stars = row["final_stars"] if row["final_stars"] is not None else 0
    return {
        "attempt_id": row["attempt_id"], "lesson_id": row["lesson_id"], "lesson_title": title,
        "run_id": row["run_id"], "passed": stars > 0, "stars": stars, "judge_stars": row["stars"],
        "checks": [{k: c.get(k) for k in ("id", "kind", "required", "passed", "kid_text", "measured", "threshold", "unit")}
                   for c in verdict.get("checks", [])],
        "summary": verdict.get("kid_summary", ""), "text": fb.get("text", ""), "went_well": fb.get("went_well", ""),
        "tip": fb.get("tip", ""), "source": fb.get("source", "checks"), "coach_pending": bool(fb.get("coach_pending")),
        "coach_note": fb.get("coach_note", ""),
        "overridden": ov is not None, "teacher_comment": (ov or {}).get("comment", ""),
    }


def _coach_config(app: web.Application) -> CoachConfig:
    """Coach settings: <data_dir>/coach.json if present, else DOJO_OLLAMA_HOST / DOJO_COACH_MODEL /
    DOJO_COACH_TIMEOUT_S, else the defaults (a local qwen2.5vl:3b on 127.0.0.1:11434)."""
    path = Path(app[CONFIG].data_dir) / "coach.json"
    if path.is_file():
        return CoachConfig.model_validate_json(path.read_text(encoding="utf-8"))
    env = {k: v for k, v in {"host": os.environ.get("DOJO_OLLAMA_HOST"), "model": os.environ.get("DOJO_COACH_MODEL"),
                             "timeout_s": os.environ.get("DOJO_COACH_TIMEOUT_S")}.items() if v}
    return CoachConfig.model_validate(env)


ATTEMPTS: web.AppKey[AttemptService] = web.AppKey("attempts", AttemptService)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service = app[ATTEMPTS]
    service._spawn(service.recover())  # attempts a crash interrupted are graded from their recordings
    yield
    await service.close()


def setup(app: web.Application) -> None:
    lessons, errors = load_lessons(strict=False)  # a broken lesson file must not keep the class from starting
    for error in errors:
        log.error("lesson not loaded: %s", error)
    coach_config = _coach_config(app)
    service = AttemptService(app, lessons, AttemptStore(app[STORAGE]), Coach(coach_config),
                             Path(app[CONFIG].data_dir) / "attempts",
                             CoachQueue(coach_config.concurrency, coach_config.per_kid))
    app[ATTEMPTS] = service
    register_metrics(app[METRICS], service.coach_queue)
    app[LESSONS] = service  # the core's lesson book: /api/lessons and the teacher's progress read through it
    events = app[CLASSROOM].events
    events.subscribe("run_started", service.on_run_started, scope="origin")  # the run lives in this process
    events.subscribe("run_ended", service.on_run_ended, scope="origin")
    events.subscribe("telemetry", service.on_telemetry)
    events.subscribe("estop", service.on_estop)
    events.subscribe("car_disconnected", service.on_car_disconnected)
    events.subscribe("car_changed", service.on_car_changed, scope="origin")  # one arena change per car change
    app[CLASSROOM].program_checks.append(service.lesson_blocks_check)
    app[CLASSROOM].run_setups.append(service.setup_run)
    app.cleanup_ctx.append(_lifetime)
