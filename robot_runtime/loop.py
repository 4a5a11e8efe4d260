"""The control loop: every tick read -> skill -> supervisor -> hardware -> telemetry.

    state = hardware.read()
    wish  = executor.step(state)            the running skill's command (neutral when idle)
    sent, events = supervisor.filter(wish)  the only path to the motors
    hardware.apply(sent); hardware.advance(dt)        (advance integrates the simulator; no-op on a car)
    telemetry sample at TELEMETRY_HZ        pose, speed, what was sent, safety state/events, timing
                                            (headless with no consumer: kept, built only when read)

Two ways to run it:
- real time (`run_realtime`): asyncio, each tick scheduled at start + k * period (compensating sleep,
  so jitter never accumulates); late ticks are counted, never bunched up. Skills and the simulator get
  the measured time since the previous tick, so a late tick does not slow the car's clock down.
- headless (`run_headless`): as fast as possible on a ManualClock, for evaluation, training, tests and
  the simulator benchmark; identical tick code, so what passes headless is what runs on the car.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from robot_runtime.clock import Clock, ManualClock
from robot_runtime.executor import SkillExecutor
from robot_runtime.hardware import CarState, Command, Hardware
from robot_runtime.protocol import TELEMETRY_HZ, CollisionEvent, Pose, SafetyEvent, Telemetry
from robot_runtime.recorder import FlightRecorder
from robot_runtime.safety import SafetySupervisor
from robot_runtime.timing import StageTimer

log = logging.getLogger(__name__)

MAX_PENDING_EVENTS = 50  # events kept for the next telemetry message; more means the link is down (the log keeps all)
LATE_TICKS_RESYNC = 1.0  # more than one period late: restart the schedule from now instead of catching up
MAX_CATCH_UP_S = 0.25  # a stall longer than this is not replayed at once: skills and physics see at most this dt


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
        self._pending_collisions: list[CollisionEvent] = []
        self.last_state: CarState | None = None
        self.last_sent: Command = Command()
        self._last_telemetry: Telemetry | None = None
        self._unbuilt: tuple | None = None  # a headless sample nobody consumed yet: built if read
        self._stop = asyncio.Event()
        self._realtime = False  # set by run_realtime: measured tick intervals instead of the nominal period
        self._last_now: float | None = None

    # --- events from outside the loop (link handlers) ------------------------------------------------

    def telemetry_on_next_tick(self) -> None:
        """Report the very next tick (after an e-stop: the neutral tick itself reaches the server, to the tick)."""
        self._next_telemetry = -1e18

    def add_event(self, event: SafetyEvent) -> None:
        self._pending_events.append(event)
        del self._pending_events[:-MAX_PENDING_EVENTS]
        if self.recorder:
            self.recorder.write("safety", event.t, event=event)

    # --- one tick --------------------------------------------------------------------------------------

    def tick(self) -> Command:
        now = self.clock.now()
        perf = self._perf
        t0 = perf()
        dt = self.period
        catch_up = 0.0
        if self._realtime:
            # Real time: the time since the last tick really passed (late ticks included); a simulator
            # integrates it now, with the command that was in force, before we read its state.
            if self._last_now is not None:
                dt = min(max(0.0, now - self._last_now), MAX_CATCH_UP_S)
                self.hardware.advance(dt)
            self._last_now = now
            catch_up = perf() - t0
        state = self.hardware.read()
        self.last_state = state
        wish = self.executor.step(state, now, dt)
        src = self.executor.running.name if self.executor.running else "idle"
        t1 = perf()
        sent, events = self.supervisor.filter(wish, state, now)
        self.executor.after_supervisor(wish, sent, state, now)
        t2 = perf()
        applied = self.hardware.apply(sent)
        if not self._realtime:
            self.hardware.advance(self.period)  # headless: simulated time is exactly one period per tick
        self.last_sent = applied
        t3 = perf()
        if self.recorder:
            self.recorder.command(now, src, (wish.throttle, wish.steering), (applied.throttle, applied.steering),
                                  self.supervisor.binding)
        for ev in events:
            self.add_event(ev)
        if state.collisions:
            self._pending_collisions.extend(state.collisions)
            del self._pending_collisions[:-MAX_PENDING_EVENTS]
        if now >= self._next_telemetry:
            self._next_telemetry = max(self._next_telemetry + self.telemetry_period, now + self.telemetry_period / 2)
            if self._realtime or self.recorder is not None or self._telemetry_consumed():
                self._send_telemetry(state, applied, now)
            else:
                self._keep_sample(state, applied, now)
        t4 = perf()
        skill, supervisor, hardware, telemetry, tick = self._rings
        skill.add(t1 - t0 - catch_up)
        supervisor.add(t2 - t1)
        hardware.add(t3 - t2 + catch_up)
        telemetry.add(t4 - t3)
        tick.add(t4 - t0)
        self.ticks += 1
        return applied

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
        self._unbuilt = (self.telemetry_seq, state, applied, now, self.supervisor.state, self._pending_events,
                         self._pending_collisions, self.executor.progress())
        self._pending_events, self._pending_collisions = [], []

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
        )

    def _send_telemetry(self, state: CarState, applied: Command, now: float) -> None:
        self.telemetry_seq += 1
        telem = self._build_telemetry(self.telemetry_seq, state, applied, now, self.supervisor.state,
                                      self._pending_events, self._pending_collisions, self.executor.progress())
        self._pending_events, self._pending_collisions = [], []
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
        """Tick at the loop rate until stop(); sleeps compensate the tick's own work."""
        self._stop.clear()
        self._realtime, self._last_now = True, None
        next_at = self.clock.now()
        while not self._stop.is_set():
            # Jitter: how far this tick started from its slot (only meaningful in real time).
            self.timer.add("jitter", abs(self.clock.now() - next_at))
            self.tick()
            next_at += self.period
            delay = next_at - self.clock.now()
            if delay < -self.period * LATE_TICKS_RESYNC:
                self.late_ticks += 1
                next_at = self.clock.now()
                delay = 0.0
            await self.clock.sleep(delay)
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
