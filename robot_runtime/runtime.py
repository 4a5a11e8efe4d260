"""One car, assembled: hardware + supervisor + executor + control loop + recorder, and the car's side
of every server message (validated here, independent of the transport; link.py wires socket.io to it).

A physical stop button on the car (hardware with ``on_stop_button``) latches the same e-stop as the
teacher's, through ``handle_estop``: the console sees it and why, and only the teacher's reset clears it
(never while the button is still held down).

Every handler takes the raw payload (whatever arrived) and returns a JSON-ready Ack dict: a malformed
or out-of-range message gets ``Ack(ok=False, error=ErrorInfo(rule, message, value, fix))`` and the car
keeps running.

Handlers run on the link's thread while the control loop ticks on its own: each takes the loop's lock
(waiting at most HANDLER_WAIT_S for a slow tick). Three never wait: a heartbeat (one number), the
neighbours list (one reference swap) and the e-stop, which latches the dead-man and sets the hardware neutral first, without the lock, so it works
even while the loop is stuck; the latch is kept on disk (estop_latch.py) until a well-formed reset.

The car's own arena (config ``arena_file``, or the one it started with on hardware that cannot load
another) is the outer bound of its fence: a server's arena adds walls and zones inside it, never widens it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from robot_runtime.arena import DEFAULT_ARENA, Arena, bounded_by
from robot_runtime.clock import Clock
from robot_runtime.config import CarConfig
from robot_runtime.estop_latch import EstopLatch
from robot_runtime.executor import SkillExecutor
from robot_runtime.hardware import Hardware, failsafe_of
from robot_runtime.loop import ControlLoop
from robot_runtime.protocol import (
    MAX_MESSAGE_BYTES, Ack, ArenaSetup, Cancel, ErrorInfo, Neighbours, SessionLimits, SkillPackage, SkillRequest,
    SkillResult, Steer, Stop, Telemetry,
)
from robot_runtime.recorder import FlightRecorder
from robot_runtime.safety import PRE_SESSION_LIMITS, SafetySupervisor
from robot_runtime.skill_shelf import SkillShelf
from robot_runtime.skills.remote import RemoteSkill

log = logging.getLogger(__name__)

OK = Ack(ok=True).model_dump(mode="json")
RAW_LOG_CHARS = 300  # how much of a rejected payload the flight recorder keeps
STOP_BUTTON_KID_TEXT = "I stopped: someone pressed my stop button. The teacher will restart me."
HANDLER_WAIT_S = 0.1  # a tick takes ~1 ms; one holding the lock 100 ms is a stall (the dead-man has it): `car_busy`


BUSY = Ack(ok=False, error=ErrorInfo(
    rule="car_busy", message="the car's control loop is stuck right now; the message changed nothing",
    value=None, fix="send it again in a moment (the car reports the stall as a car fault)")).model_dump(mode="json")


def validation_error_info(exc: ValidationError, what: str) -> ErrorInfo:
    """The first problem of a pydantic error as rule / message / value / fix."""
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or what
    value = err.get("input")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)[:80]
    if isinstance(value, (dict, list)):
        value = json.dumps(value)[:80]
    return ErrorInfo(
        rule=f"{what}.{err['type']}",
        message=f"{what}: {where}: {err['msg']} (got {value!r})",
        value=value,
        fix=f"send a valid {what}: fix `{where}` (see robot_runtime/protocol.py)",
    )


def parse(model: type[BaseModel], data: Any, what: str) -> tuple[Any, dict | None]:
    """(message, None) or (None, error-ack dict)."""
    try:
        size = len(json.dumps(data))
    except (TypeError, ValueError):
        size = 0
    if size > MAX_MESSAGE_BYTES:
        info = ErrorInfo(rule="message_too_big", message=f"{what} is {size} bytes (limit {MAX_MESSAGE_BYTES})",
                         value=size, fix=f"keep {what} messages under {MAX_MESSAGE_BYTES} bytes")
        return None, Ack(ok=False, error=info).model_dump(mode="json")
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        return None, Ack(ok=False, error=validation_error_info(exc, what)).model_dump(mode="json")


class CarRuntime:
    def __init__(
        self,
        config: CarConfig,
        hardware: Hardware,
        clock: Clock,
        *,
        arena: Arena | None = None,
        own_arena: Arena | None = None,
        recorder: FlightRecorder | None = None,
        latch: EstopLatch | None = None,
        shelf: SkillShelf | None = None,
    ) -> None:
        self.config = config
        self.shelf = shelf or SkillShelf(Path(config.skills_dir) if config.skills_dir else None)
        self.hardware = hardware
        self.clock = clock
        self.recorder = recorder
        self.spec = hardware.spec
        self.arena = arena or own_arena or DEFAULT_ARENA
        # The outer bound of the fence. Hardware that cannot load an arena (a real car) is bounded by
        # the arena it started with even when the config names none; a simulator's world is the arena
        # it was given, unless the config names its own.
        can_load = callable(getattr(hardware, "load_arena", None))
        self.own_arena = own_arena if own_arena is not None else (None if can_load else self.arena)
        if self.own_arena is not None:
            self.arena = bounded_by(self.arena, self.own_arena)
        self.result_sinks: list[Callable[[SkillResult], None]] = []
        self.telemetry_sinks: list[Callable[[Telemetry], None]] = []
        headless = config.mode == "headless"
        # Headless (no server): the car's own limits are all there is. Driven by a server: Level 1 until
        # the server's limits arrive, and no skill before then.
        self.supervisor = SafetySupervisor(config.limits, self.spec, self.arena, watchdog=config.watchdog,
                                           tick_s=1.0 / config.rate_hz,
                                           session=SessionLimits() if headless else PRE_SESSION_LIMITS)
        self.executor = SkillExecutor(self.supervisor, self.spec, car_id=config.car_id, on_result=self._on_result,
                                      on_event=self._on_event, arena=self.arena, needs_limits=not headless,
                                      realtime=not headless)
        self.loop = ControlLoop(config.car_id, hardware, self.supervisor, self.executor, clock, rate_hz=config.rate_hz,
                                on_telemetry=self._on_telemetry, telemetry_wanted=lambda: bool(self.telemetry_sinks),
                                recorder=recorder)
        self.deadman = self.loop.deadman
        self.latch = latch or EstopLatch(None)
        self.results: list[SkillResult] = []  # every result this car produced (tests, the log)
        if recorder:
            recorder.write("start", clock.now(), car_id=config.car_id, hardware=config.hardware,
                           rate_hz=config.rate_hz, limits=config.limits, spec=config.spec, arena=self.arena.name,
                           own_arena=self.own_arena.name if self.own_arena else None,
                           failsafe_s=failsafe_of(hardware), estop_file=str(self.latch.path) if self.latch.path else None)
        if hasattr(hardware, "on_stop_button"):  # the driver calls it from its own thread when the button is pressed
            hardware.on_stop_button = self._stop_button
        if self.latch.reason is not None:  # latched before a restart: still latched until a teacher resets it
            self._latch(self.latch.reason, clock.now(), persist=False)
            self.note("estop_restored", reason=self.latch.reason, error=self.latch.last_error)

    # --- sinks ---------------------------------------------------------------------------------------

    def _on_result(self, result: SkillResult) -> None:
        self.results.append(result)
        if self.recorder:
            self.recorder.write("result", self.clock.now(), result=result)
        for sink in self.result_sinks:
            sink(result)

    def _on_event(self, event) -> None:
        self.loop.add_event(event)

    def _on_telemetry(self, telem: Telemetry) -> None:
        for sink in self.telemetry_sinks:
            sink(telem)

    def note(self, what: str, **fields: Any) -> None:
        log.info("%s %s", what, fields or "")
        if self.recorder:
            self.recorder.write("note", self.clock.now(), what=what, **fields)

    def _with_loop(self, fn: Callable[[], Any]) -> Any:
        """fn() under the control loop's lock; BUSY if a stalled tick holds it longer than HANDLER_WAIT_S."""
        if not self.loop.lock.acquire(timeout=HANDLER_WAIT_S):
            return BUSY
        try:
            return fn()
        finally:
            self.loop.lock.release()

    # --- server -> car -------------------------------------------------------------------------------

    def handle_skill(self, data: Any) -> dict:
        request, bad = parse(SkillRequest, data, "skill request")
        if bad is None:
            out = self._with_loop(lambda: self.executor.submit(request, self.clock.now()).model_dump(mode="json"))
        else:
            out = bad
        if self.recorder:
            # A rejected payload is logged as a short repr: it may be anything, of any size.
            logged = request if request is not None else repr(data)[:RAW_LOG_CHARS]
            self.recorder.write("request", self.clock.now(), request=logged, ack=out)
        return out

    def handle_cancel(self, data: Any) -> dict:
        cancel, bad = parse(Cancel, data, "cancel")
        if bad:
            return bad
        self.note("cancel", request_id=cancel.request_id, reason=cancel.reason)
        return self._with_loop(
            lambda: self.executor.cancel(cancel.request_id, cancel.reason, self.clock.now()).model_dump(mode="json"))

    def handle_stop(self, data: Any) -> dict:
        stop, bad = parse(Stop, data if data is not None else {}, "stop")
        reason = stop.reason if stop else "stop"
        # A stop always stops, even when its payload is malformed: the error is reported after.
        if self._with_loop(lambda: self.executor.stop(reason, self.clock.now())) is BUSY:
            self.hardware.stop()  # a stuck loop: the dead-man already holds neutral; stop the motors anyway
            self.note("stop", reason=reason, loop="busy")
            return BUSY
        self.note("stop", reason=reason)
        return bad or OK

    def handle_estop(self, data: Any, *, kid_text: str | None = None) -> dict:
        """Never waits for the loop: latched in the dead-man and neutral at once, then on disk; the
        running request ends at the next tick that can run (at once when the loop is free)."""
        stop, bad = parse(Stop, data if data is not None else {}, "estop")
        reason = stop.reason if stop else "emergency stop"
        now = self.clock.now()
        self._latch(reason, now, persist=True, kid_text=kid_text)
        if self.loop.lock.acquire(blocking=False):
            try:
                self.executor.estop(reason, now)
            finally:
                self.loop.lock.release()
        self.note("estop", reason=reason, saved=self.latch.last_error is None, error=self.latch.last_error)
        return bad or OK

    def _stop_button(self, reason: str) -> None:
        """The car's own stop button: the teacher's e-stop path, with the kid told what happened."""
        self.handle_estop({"reason": reason}, kid_text=STOP_BUTTON_KID_TEXT)

    def _latch(self, reason: str, now: float, *, persist: bool, kid_text: str | None = None) -> None:
        self.deadman.latch_estop(reason)  # neutral right now, and no command passes until a reset
        event = self.supervisor.estop(now, reason)  # every later tick is neutral too
        self.loop.add_event(event.model_copy(update={"kid_text": kid_text}) if kid_text else event)
        self.loop.telemetry_on_next_tick()  # the teacher sees the stop at once, and its latency is measurable
        if persist:
            self.latch.set(reason, now)  # after neutral: a slow SD card never delays the stop

    def handle_reset_estop(self, data: Any) -> dict:
        stop, bad = parse(Stop, data if data is not None else {}, "reset_estop")
        if bad:
            return bad  # a reset must be deliberate: a malformed one resets nothing
        held = getattr(self.hardware, "stop_button_held", None)
        if callable(held) and held():
            self.note("reset_estop", reason=stop.reason, refused="stop_button_held")
            return Ack(ok=False, error=ErrorInfo(
                rule="stop_button_held", message=f"the stop button on {self.config.car_id} is still pressed; "
                "the car stays stopped", value=None, fix="release the stop button on the car, then reset it again"
            )).model_dump(mode="json")
        if self._with_loop(lambda: (self.supervisor.reset_estop(), self.deadman.reset_estop())) is BUSY:
            return BUSY
        clear = getattr(self.hardware, "clear_stop_button", None)
        if callable(clear):
            clear()
        self.latch.clear()
        self.note("reset_estop", reason=stop.reason, error=self.latch.last_error)
        return OK

    def handle_steer(self, data: Any) -> dict:
        """The stick of the running `remote` request (the drive page); anything else is refused, changes nothing."""
        steer, bad = parse(Steer, data, "steer")
        if bad:
            return bad

        def apply() -> dict:
            running = self.executor.running
            if running is None or running.request.request_id != steer.request_id \
                    or not isinstance(running.skill, RemoteSkill):
                return Ack(ok=False, error=ErrorInfo(
                    rule="not_driving", message=f"{self.config.car_id} is not driving request {steer.request_id} by hand",
                    value=steer.request_id, fix="start a `remote` request first; steer only while it runs"
                )).model_dump(mode="json")
            running.skill.set(steer.throttle, steer.steering)
            return OK

        return self._with_loop(apply)

    def handle_install_skill(self, data: Any) -> dict:
        """A learned skill's files from the server: checked, kept on the car, then `do skill [NAME]`."""
        package, bad = parse(SkillPackage, data, "install_skill")
        if bad:
            self.note("install_skill", refused=bad["error"]["rule"])
            return bad
        ack = self.shelf.install(package)
        self.note("install_skill", name=package.name, version=package.version, ok=ack.ok,
                  error=ack.error.message if ack.error else None)
        return ack.model_dump(mode="json")

    def handle_limits(self, data: Any) -> dict:
        limits, bad = parse(SessionLimits, data, "limits")
        if bad:
            return bad  # keep the previous limits
        if self._with_loop(lambda: self.supervisor.set_session(limits)) is BUSY:
            return BUSY
        self.note("limits", limits=limits)
        return OK

    def handle_neighbours(self, data: Any) -> dict:
        """The cars near this one: moving obstacles for the supervisor, and solid bodies for a simulator.
        (Only ever something more to avoid: the car's own arena and limits stay as they are.)"""
        msg, bad = parse(Neighbours, data, "neighbours")
        if bad:
            return bad  # keep the previous list (it keeps growing stale: more careful, never less)
        # Never waits for the loop (10 of these a second must not hold up acks): the new list replaces
        # the old one in one reference swap, which the next tick reads whole.
        self.supervisor.set_neighbours(msg, self.clock.now())
        bodies = getattr(self.hardware, "set_bodies", None)  # only a simulated car has other cars in it
        if bodies is not None:
            bodies(msg.cars)  # (under the simulator's own short lock)
        fuse = getattr(self.hardware, "external_pose", None)  # only a real car's dead reckoning needs a fix
        if msg.own is not None and fuse is not None:
            own = msg.own  # the estimator is the loop's; a stalled loop skips this fix (the next one comes)
            self._with_loop(lambda: fuse(own.x_cm, own.y_cm, own.heading_deg, self.clock.now() - own.age_s,
                                         max(own.uncertainty_cm, 1.0)))
        return OK

    def handle_heartbeat(self, data: Any = None) -> None:
        # Any heartbeat proves the link is alive, even one with a strange payload.
        self.supervisor.heartbeat(self.clock.now())

    def handle_arena(self, data: Any) -> dict:
        setup, bad = parse(ArenaSetup, data, "arena")
        if bad:
            return bad
        try:
            arena = Arena.model_validate(setup.arena)
        except ValidationError as exc:
            return Ack(ok=False, error=validation_error_info(exc, "arena")).model_dump(mode="json")
        return self._with_loop(lambda: self._load_arena_when_idle(arena, setup.pose))

    def _load_arena_when_idle(self, arena: Arena, pose) -> dict:
        if self.executor.running is not None:
            return Ack(ok=False, error=ErrorInfo(
                rule="busy", message=f"{self.config.car_id} is running a request; the arena changes only when idle",
                value=self.executor.running.request.request_id,
                fix="stop the car first, then send the arena")).model_dump(mode="json")
        self.set_arena(arena, pose)
        return OK

    def set_arena(self, arena: Arena, pose=None) -> None:
        """Load a server's arena: a simulator's world becomes it; the fence is it inside the car's own."""
        load = getattr(self.hardware, "load_arena", None)  # only a simulated car can be moved by a message
        if load is not None:
            load(arena, pose)
        fenced = arena if self.own_arena is None else bounded_by(arena, self.own_arena)
        self.arena = fenced
        self.supervisor.set_arena(fenced)
        self.executor.arena = fenced
        self.note("arena", name=arena.name, pose=pose, bounded_by=self.own_arena.name if self.own_arena else None)

    # --- link state ----------------------------------------------------------------------------------

    def link_up(self) -> None:
        self.note("link_up")

    def link_down(self, reason: str) -> None:
        # (a stuck loop: the watchdog stops the car anyway, the dead-man already has; the move ends with the stall)
        self._with_loop(lambda: self.executor.link_lost(self.clock.now()))
        self.note("link_down", reason=reason)

    def shutdown(self, reason: str) -> None:
        """End the running request and stop the motors at once (the process is going away)."""
        self.hardware.stop()
        if self._with_loop(lambda: self.executor.shutdown(reason, self.clock.now())) is BUSY:
            log.error("shutdown: the control loop is stuck; its request gets no result")
        try:
            self.hardware.stop()
        finally:
            self.note("shutdown", reason=reason)
            if self.recorder:
                self.recorder.flush()
