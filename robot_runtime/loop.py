"""The control loop: every tick read -> skill -> supervisor -> hardware -> telemetry.

    state = hardware.read()
    wish  = executor.step(state)            the running skill's command (neutral when idle)
    sent, events = supervisor.filter(wish)  the only path to the motors
    hardware.apply(sent); hardware.advance(dt)        (advance integrates the simulator; no-op on a car)
    telemetry sample at TELEMETRY_HZ        pose, speed, what was sent, safety state/events, timing
                                            (headless with no consumer: kept, built only when read)

Every supervised command reaches the hardware through the dead-man (deadman.py), which sits below
the loop: if the loop stops delivering commands for DEADMAN_S it puts the motors in neutral from its own
thread, and a command computed before such a stall never reaches them. The next tick reports the stall
as a car fault (kid sentence, teacher detail naming the stage that stalled) and, if it lasted
STALL_FAIL_S or more, ends the running request `failed`/`car_fault` — never as a lost link. (A shorter
one is a hiccup on a busy machine: the move goes on from standstill.)

Bad state samples (a NaN pose, a tracker glitch) are dropped and counted; the tick runs on the last good
state with its pose uncertainty grown by how far the car could have gone since. Only a run of
BAD_STATE_RUN of them hands the bad state to the supervisor, which stops the car.

Two ways to run it:
- real time (`run_realtime`): the ticks run on a thread of their own (so the link, the e-stop handler and
  the watchdog's heartbeats keep going on the asyncio thread while a tick is slow), each tick scheduled
  at start + k * period (compensating sleep, so jitter never accumulates); late ticks are counted, never
  bunched up. Server messages take `lock` (runtime.py), the tick holds it while it runs.
- headless (`run_headless`): as fast as possible on a ManualClock, for evaluation, training, tests and
  the simulator benchmark; identical tick code, so what passes headless is what runs on the car.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import threading
import time
import typing
from collections.abc import Callable

from robot_runtime.clock import Clock, ManualClock
from robot_runtime.deadman import DeadMan, Trip
from robot_runtime.executor import SkillExecutor
from robot_runtime.hardware import HARDWARE_CALL_BUDGET_S, NEUTRAL, CarState, Command, Hardware
from robot_runtime.protocol import TELEMETRY_HZ, CollisionEvent, Pose, PoseSource, SafetyEvent, Telemetry
from robot_runtime.recorder import FlightRecorder
from robot_runtime.safety import SafetySupervisor
from robot_runtime.timing import StageTimer

log = logging.getLogger(__name__)

POSE_SOURCES = frozenset(typing.get_args(PoseSource))  # a driver's CarState.pose_source outside these is not sent

MAX_PENDING_EVENTS = 50  # events kept for the next telemetry message; more means the link is down (the log keeps all)
LATE_TICKS_RESYNC = 1.0  # more than one period late: restart the schedule from now instead of catching up
MAX_CATCH_UP_S = 0.25  # a clock-less simulator replays at most this much after a late tick
STALL_FAIL_S = 0.5  # a stall this long ends the move (the car cannot keep time); a shorter one is a hiccup
BAD_STATE_RUN = 5  # this many bad samples in a row (0.1 s at 50 Hz) is a broken pose source, not a glitch: stop
OVERRUN_NOTE_S = 1.0  # driver calls over their budget are noted in the flight log at most once a second
THREAD_JOIN_S = 2.0  # stopping the real-time thread: it finishes its tick (20 ms) and returns


class ControlLoop:
    def __init__(
        self,
        car_id: str,
        hardware: Hardware,
        supervisor: SafetySupervisor,
        executor: SkillExecutor,
        clock: Clock,
        *,
        rate_hz: float = 50.0,
        telemetry_hz: float = TELEMETRY_HZ,
        on_telemetry: Callable[[Telemetry], None] | None = None,
        telemetry_wanted: Callable[[], bool] | None = None,
        recorder: FlightRecorder | None = None,
        perf: Callable[[], float] = time.perf_counter,
        deadman: DeadMan | None = None,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError(f"loop rate must be > 0 Hz (got {rate_hz})")
        self.car_id = car_id
        self.hardware = hardware
        self.supervisor = supervisor
        self.executor = executor
        self.clock = clock
        self.period = 1.0 / rate_hz
        self.telemetry_period = 1.0 / telemetry_hz
        self.on_telemetry = on_telemetry
        # Does on_telemetry lead anywhere right now? (CarRuntime: any telemetry sink.) None: always.
        self.telemetry_wanted = telemetry_wanted
        self.recorder = recorder
        self.timer = StageTimer()
        self._rings = tuple(self.timer.ring(s) for s in ("skill", "supervisor", "hardware", "telemetry", "tick"))
        self._perf = perf
        self.ticks = 0
        self.late_ticks = 0
        self.telemetry_seq = 0
        self._next_telemetry = -1e18
        self._pending_events: list[SafetyEvent] = []
        self._events_lock = threading.Lock()
        self._pending_collisions: list[CollisionEvent] = []
        self.last_state: CarState | None = None
        self.last_sent: Command = Command()
        self._last_telemetry: Telemetry | None = None
        self._unbuilt: tuple | None = None  # a headless sample nobody consumed yet: built if read
        self._stop = threading.Event()
        self._realtime = False  # set by run_realtime: measured tick intervals instead of the nominal period
        self._last_now: float | None = None
        self.stage = "idle"  # what the tick is doing now (the dead-man names it when it fires)
        self.deadman = deadman or DeadMan(hardware, clock.now, stage=lambda: self.stage)
        self.lock = threading.RLock()  # held by a tick; server messages take it too (runtime.py)
        self._good: CarState | None = None  # the last state with a finite pose
        self._bad_run = 0
        self.bad_states = 0  # bad samples dropped since start
        self.stalls = 0  # dead-man trips reported
        self.driver_overruns = 0  # driver calls that took longer than HARDWARE_CALL_BUDGET_S
        self._overrun_noted = -math.inf
        self._thread: threading.Thread | None = None

    # --- events from outside the loop (link handlers) ------------------------------------------------

    def telemetry_on_next_tick(self) -> None:
        """Report the very next tick (after an e-stop: the neutral tick itself reaches the server, to the tick)."""
        self._next_telemetry = -1e18

    def add_event(self, event: SafetyEvent) -> None:
        """Any thread (the e-stop handler adds its event from the link's)."""
        with self._events_lock:
            self._pending_events.append(event)
            del self._pending_events[:-MAX_PENDING_EVENTS]
        if self.recorder:
            self.recorder.write("safety", event.t, event=event)

    # --- one tick --------------------------------------------------------------------------------------

    def tick(self) -> Command:
        now = self.clock.now()
        perf = self._perf
        t0 = perf()
        trip = self.deadman.rearm()
        if trip is not None:
            self._on_stall(trip, now)
        if self.supervisor.estopped and self.executor.running is not None:  # latched from another thread
            self.executor.estop(self.supervisor.estop_reason or "emergency stop", now)
        dt = self.period
        catch_up = 0.0
        if self._realtime:
            # Real time: the time since the last tick really passed (late ticks included); a clock-less
            # simulator integrates it now, with the command that was in force, before we read its state.
            if self._last_now is not None:
                dt = min(max(0.0, now - self._last_now), MAX_CATCH_UP_S)
                self.stage = "hardware"
                self.hardware.advance(dt)
            self._last_now = now
            catch_up = perf() - t0
        self.stage = "read"
        state = self._read_state(now)
        self.last_state = state
        for hit in state.collisions:
            if hit.with_.startswith("car:"):  # another car: stop as after any crash, and say so
                self._bumped(hit, now)
        self.stage = "skill"
        wish = self.executor.step(state, now, dt)
        src = self.executor.running.name if self.executor.running else "idle"
        t1 = perf()
        self.stage = "supervisor"
        sent, events = self.supervisor.filter(wish, state, now)
        self.executor.after_supervisor(wish, sent, state, now)
        t2 = perf()
        self.stage = "hardware"
        applied = self.deadman.apply(sent, now)
        t_apply = perf() - t2
        if applied is None:  # the dead-man or the e-stop holds the motors in neutral
            applied = NEUTRAL
            self.supervisor.hardware_went_neutral()
        elif t_apply > HARDWARE_CALL_BUDGET_S:
            self._overrun("apply", t_apply, now)
        if not self._realtime:
            self.hardware.advance(self.period)  # headless: simulated time is exactly one period per tick
        self.last_sent = applied
        t3 = perf()
        self.stage = "telemetry"
        if self.recorder:
            self.recorder.command(now, src, (wish.throttle, wish.steering), (applied.throttle, applied.steering),
                                  self.supervisor.binding)
        for ev in events:
            self.add_event(ev)
        if state.collisions:
            self._pending_collisions.extend(state.collisions)
            del self._pending_collisions[:-MAX_PENDING_EVENTS]
        shown = state if self._bad_run == 0 else self._good  # telemetry shows the last known pose
        if now >= self._next_telemetry and shown is not None:
            self._next_telemetry = max(self._next_telemetry + self.telemetry_period, now + self.telemetry_period / 2)
            if self._realtime or self.recorder is not None or self._telemetry_consumed():
                self._send_telemetry(shown, applied, now)
            else:
                self._keep_sample(shown, applied, now)
        t4 = perf()
        skill, supervisor, hardware, telemetry, tick = self._rings
        skill.add(t1 - t0 - catch_up)
        supervisor.add(t2 - t1)
        hardware.add(t3 - t2 + catch_up)
        telemetry.add(t4 - t3)
        tick.add(t4 - t0)
        self.ticks += 1
        self.stage = "idle"
        return applied

    def _read_state(self, now: float) -> CarState:
        """hardware.read(), with bad samples dropped: the last good state stands in (its pose uncertainty
        grown by how far the car could have gone), until BAD_STATE_RUN of them in a row."""
        t0 = self._perf()
        raw = self.hardware.read()
        took = self._perf() - t0
        if took > HARDWARE_CALL_BUDGET_S:
            self._overrun("read", took, now)
        if _finite_pose(raw):
            if self._bad_run and self.recorder:
                self.recorder.write("note", now, what="pose_back", bad_samples=self._bad_run)
            self._good, self._bad_run = raw, 0
            return raw
        self.bad_states += 1
        self._bad_run += 1
        good = self._good
        if self._bad_run == 1 and self.recorder:
            self.recorder.write("note", now, what="bad_state", x=repr(raw.x_cm), y=repr(raw.y_cm),
                                heading=repr(raw.heading_deg), speed=repr(raw.speed_cm_s))
        if self._bad_run >= BAD_STATE_RUN or good is None:
            if self._bad_run == BAD_STATE_RUN or good is None:
                self.executor.pose_lost(self._bad_run, now)
            return raw  # the supervisor sees it and stops the car: it cannot tell where it is
        age = self._bad_run * self.period
        grown = good.pose_uncertainty_cm + self.supervisor.spec.top_speed_cm_s * age
        return dataclasses.replace(good, t=raw.t, pose_uncertainty_cm=grown, collisions=raw.collisions,
                                   distance_cm=raw.distance_cm, distance_fault=raw.distance_fault)

    def _bumped(self, hit: CollisionEvent, now: float) -> None:
        other = hit.with_.split(":", 1)[1]
        self.executor.bumped(other, hit.speed_cm_s, now)
        ev = self.supervisor.report(now, "obstacle", "I bumped into another car, so I stopped.",
                                    f"collision with {other} at {hit.speed_cm_s:.0f} cm/s", hit.speed_cm_s)
        if ev is not None:
            self.add_event(ev)

    def _on_stall(self, trip: Trip, now: float) -> None:
        """The dead-man fired since the last tick: a car fault, reported as one (never as a lost link)."""
        self.stalls += 1
        stalled = max(0.0, now - trip.last_apply)
        stage = trip.stage or "unknown"
        detail = (f"control loop stalled {stalled:.2f} s (stage: {stage}, {trip.why}); the dead-man set neutral "
                  f"{trip.at - trip.last_apply:.3f} s after the last supervised command")
        self.supervisor.hardware_went_neutral()
        ev = self.supervisor.report(now, "stall", "I had a hiccup, so I stopped to be safe.", detail, stalled,
                                    self.deadman.timeout_s)
        if ev is not None:
            self.add_event(ev)
        if self.recorder:
            self.recorder.write("note", now, what="stall", stalled_s=stalled, stage=stage, why=trip.why,
                                neutral_after_s=trip.at - trip.last_apply)
        if stalled >= STALL_FAIL_S:
            self.executor.car_fault(detail, now)
        # (shorter: the motors were neutral meanwhile; the move goes on, ramping up again from standstill)

    def _overrun(self, call: str, took: float, now: float) -> None:
        self.driver_overruns += 1
        if self.recorder and now - self._overrun_noted >= OVERRUN_NOTE_S:
            self._overrun_noted = now
            self.recorder.write("note", now, what="driver_overrun", call=call, took_ms=took * 1e3,
                                budget_ms=HARDWARE_CALL_BUDGET_S * 1e3, count=self.driver_overruns)

    def _telemetry_consumed(self) -> bool:
        if self.on_telemetry is None:
            return False
        return self.telemetry_wanted is None or self.telemetry_wanted()

    # --- telemetry ---------------------------------------------------------------------------------------

    @property
    def last_telemetry(self) -> Telemetry | None:
        """The newest telemetry sample (in a headless run nobody listens to, built now from what was kept)."""
        if self._unbuilt is not None:
            self._last_telemetry = self._build_telemetry(*self._unbuilt)
            self._unbuilt = None
        return self._last_telemetry

    def _keep_sample(self, state: CarState, applied: Command, now: float) -> None:
        """Headless and nobody listening: keep what the sample needs (a tuple), build the message only
        if someone reads last_telemetry. Events still move out of the pending list, as when sent."""
        self.telemetry_seq += 1
        self._unbuilt = (self.telemetry_seq, state, applied, now, self.supervisor.state, self._take_events(),
                         self._pending_collisions, self.executor.progress())
        self._pending_collisions = []

    def _take_events(self) -> list[SafetyEvent]:
        with self._events_lock:
            events, self._pending_events = self._pending_events, []
        return events

    def _build_telemetry(self, seq: int, state: CarState, applied: Command, now: float, safety_state: str,
                         events: list[SafetyEvent], collisions: list[CollisionEvent], skill) -> Telemetry:
        return Telemetry(
            car_id=self.car_id,
            seq=seq,
            t=round(now, 4),
            pose=Pose(x_cm=round(state.x_cm, 2), y_cm=round(state.y_cm, 2), heading_deg=round(state.heading_deg, 2)),
            speed_cm_s=round(state.speed_cm_s, 2),
            yaw_rate_dps=round(state.yaw_rate_dps, 2),
            slip_deg=round(state.slip_deg, 2),
            distance_cm=None if state.distance_cm is None else round(state.distance_cm, 1),
            throttle=round(applied.throttle, 4),
            steering=round(applied.steering, 4),
            safety_state=safety_state,
            safety_events=events,
            collisions=collisions,
            skill=skill,
            timing=self.timer.summary(now),
            pose_source=state.pose_source if state.pose_source in POSE_SOURCES else None,
            pose_uncertainty_cm=round(u, 1) if math.isfinite(u := state.pose_uncertainty_cm) and u >= 0 else None,
        )

    def _send_telemetry(self, state: CarState, applied: Command, now: float) -> None:
        self.telemetry_seq += 1
        telem = self._build_telemetry(self.telemetry_seq, state, applied, now, self.supervisor.state,
                                      self._take_events(), self._pending_collisions, self.executor.progress())
        self._pending_collisions = []
        self._last_telemetry, self._unbuilt = telem, None
        if self.recorder:
            self.recorder.write("telemetry", now, pose=telem.pose, speed=telem.speed_cm_s, thr=telem.throttle,
                                steer=telem.steering, safety=telem.safety_state, dist=telem.distance_cm,
                                skill=telem.skill, collisions=telem.collisions)
        if self.on_telemetry:
            try:
                self.on_telemetry(telem)
            except Exception:
                log.exception("telemetry sink failed")

    # --- running -------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run_realtime(self) -> None:
        """Tick at the loop rate until stop() (or cancellation), on a thread of its own, with the
        dead-man watching; sleeps compensate the tick's own work."""
        if not self.supervisor.watchdog.enabled:
            raise ValueError("a car that runs in real time needs its link watchdog: build the supervisor with "
                             "watchdog=True (only headless runs may switch it off)")
        aloop = asyncio.get_running_loop()
        finished: asyncio.Future[None] = aloop.create_future()

        def settle(exc: BaseException | None) -> None:
            if not finished.done():
                finished.set_exception(exc) if exc is not None else finished.set_result(None)

        def body() -> None:
            error: BaseException | None = None
            try:
                self._run_thread()
            except BaseException as exc:  # reported to the awaiting task
                error = exc
            try:
                aloop.call_soon_threadsafe(settle, error)
            except RuntimeError:  # the event loop is already closed: nobody is waiting
                pass

        self._stop.clear()
        self._thread = threading.Thread(target=body, name=f"control-loop-{self.car_id}", daemon=True)
        self._thread.start()
        try:
            await asyncio.shield(finished)
        except asyncio.CancelledError:
            self.stop()
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, THREAD_JOIN_S)
            raise

    def _run_thread(self) -> None:
        self._realtime, self._last_now = True, None
        self.deadman.start()
        try:
            next_at = self.clock.now()
            while not self._stop.is_set():
                # Jitter: how far this tick started from its slot (only meaningful in real time).
                self.timer.add("jitter", abs(self.clock.now() - next_at))
                with self.lock:
                    self.tick()
                next_at += self.period
                delay = next_at - self.clock.now()
                if delay < -self.period * LATE_TICKS_RESYNC:
                    self.late_ticks += 1
                    next_at = self.clock.now()
                    delay = 0.0
                if delay > 0.0:
                    self._stop.wait(delay)
        finally:
            self.deadman.close()
            self._realtime = False

    def run_headless(self, seconds: float | None = None, *, until: Callable[[], bool] | None = None,
                     max_seconds: float = 600.0) -> float:
        """Tick as fast as possible on a ManualClock; stops after `seconds`, or when `until()` is true.

        Returns the simulated seconds that passed.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError("run_headless needs a ManualClock (got a real clock: use run_realtime)")
        limit = max_seconds if seconds is None else seconds
        n_max = int(round(limit / self.period))
        start = self.clock.now()
        for _ in range(n_max):
            self.tick()
            self.clock.advance(self.period)
            if until is not None and until():
                break
        return self.clock.now() - start


def _finite_pose(state: CarState) -> bool:
    return all(math.isfinite(v) for v in (state.x_cm, state.y_cm, state.heading_deg, state.speed_cm_s,
                                          state.lateral_cm_s, state.yaw_rate_dps, state.slip_deg))
