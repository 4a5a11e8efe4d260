"""One car, assembled: hardware + supervisor + executor + control loop + recorder, and the car's side
of every server message (validated here, independent of the transport; link.py wires socket.io to it).

Every handler takes the raw payload (whatever arrived) and returns a JSON-ready Ack dict: a malformed
or out-of-range message gets ``Ack(ok=False, error=ErrorInfo(rule, message, value, fix))`` and the car
keeps running.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from robot_runtime.arena import DEFAULT_ARENA, Arena
from robot_runtime.clock import Clock
from robot_runtime.config import CarConfig
from robot_runtime.executor import SkillExecutor
from robot_runtime.hardware import Hardware
from robot_runtime.loop import ControlLoop
from robot_runtime.protocol import (
    MAX_MESSAGE_BYTES, Ack, ArenaSetup, Cancel, ErrorInfo, SessionLimits, SkillRequest, SkillResult, Stop, Telemetry,
)
from robot_runtime.recorder import FlightRecorder
from robot_runtime.safety import SafetySupervisor

log = logging.getLogger(__name__)

OK = Ack(ok=True).model_dump(mode="json")
RAW_LOG_CHARS = 300  # how much of a rejected payload the flight recorder keeps


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
        recorder: FlightRecorder | None = None,
    ) -> None:
        self.config = config
        self.hardware = hardware
        self.clock = clock
        self.recorder = recorder
        self.spec = hardware.spec
        self.arena = arena or DEFAULT_ARENA
        self.result_sinks: list[Callable[[SkillResult], None]] = []
        self.telemetry_sinks: list[Callable[[Telemetry], None]] = []
        self.supervisor = SafetySupervisor(config.limits, self.spec, self.arena, watchdog=config.watchdog,
                                           tick_s=1.0 / config.rate_hz)
        self.executor = SkillExecutor(self.supervisor, self.spec, car_id=config.car_id, on_result=self._on_result,
                                      on_event=self._on_event, arena=self.arena)
        self.loop = ControlLoop(config.car_id, hardware, self.supervisor, self.executor, clock, rate_hz=config.rate_hz,
                                on_telemetry=self._on_telemetry, telemetry_wanted=lambda: bool(self.telemetry_sinks),
                                recorder=recorder)
        self.results: list[SkillResult] = []  # every result this car produced (tests, the log)
        if recorder:
            recorder.write("start", clock.now(), car_id=config.car_id, hardware=config.hardware,
                           rate_hz=config.rate_hz, limits=config.limits, spec=config.spec, arena=self.arena.name)

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

    # --- server -> car -------------------------------------------------------------------------------

    def handle_skill(self, data: Any) -> dict:
        request, bad = parse(SkillRequest, data, "skill request")
        if bad is None:
            ack = self.executor.submit(request, self.clock.now())
            out = ack.model_dump(mode="json")
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
        return self.executor.cancel(cancel.request_id, cancel.reason, self.clock.now()).model_dump(mode="json")

    def handle_stop(self, data: Any) -> dict:
        stop, bad = parse(Stop, data if data is not None else {}, "stop")
        reason = stop.reason if stop else "stop"
        # A stop always stops, even when its payload is malformed: the error is reported after.
        self.executor.stop(reason, self.clock.now())
        self.note("stop", reason=reason)
        return bad or OK

    def handle_estop(self, data: Any) -> dict:
        stop, bad = parse(Stop, data if data is not None else {}, "estop")
        reason = stop.reason if stop else "emergency stop"
        now = self.clock.now()
        self.loop.add_event(self.supervisor.estop(now, reason))  # latched first: every later tick is neutral
        self.hardware.stop()  # and neutral right now, without waiting for the next tick
        self.executor.estop(reason, now)
        self.loop.telemetry_on_next_tick()  # the teacher sees the stop at once, and its latency is measurable
        self.note("estop", reason=reason)
        return bad or OK

    def handle_reset_estop(self, data: Any) -> dict:
        stop, bad = parse(Stop, data if data is not None else {}, "reset_estop")
        if bad:
            return bad  # a reset must be deliberate: a malformed one resets nothing
        self.supervisor.reset_estop()
        self.note("reset_estop", reason=stop.reason)
        return OK

    def handle_limits(self, data: Any) -> dict:
        limits, bad = parse(SessionLimits, data, "limits")
        if bad:
            return bad  # keep the previous limits
        self.supervisor.set_session(limits)
        self.note("limits", limits=limits)
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
        if self.executor.running is not None:
            return Ack(ok=False, error=ErrorInfo(
                rule="busy", message=f"{self.config.car_id} is running a request; the arena changes only when idle",
                value=self.executor.running.request.request_id, fix="stop the car first, then send the arena")).model_dump(mode="json")
        self.set_arena(arena, setup.pose)
        return OK

    def set_arena(self, arena: Arena, pose=None) -> None:
        self.arena = arena
        self.supervisor.set_arena(arena)
        self.executor.arena = arena
        load = getattr(self.hardware, "load_arena", None)  # only a simulated car can be moved by a message
        if load is not None:
            load(arena, pose)
        self.note("arena", name=arena.name, pose=pose)

    # --- link state ----------------------------------------------------------------------------------

    def link_up(self) -> None:
        self.note("link_up")

    def link_down(self, reason: str) -> None:
        self.executor.link_lost(self.clock.now())
        self.note("link_down", reason=reason)

    def shutdown(self, reason: str) -> None:
        """End the running request and stop the motors at once (the process is going away)."""
        self.executor.shutdown(reason, self.clock.now())
        try:
            self.hardware.stop()
        finally:
            self.note("shutdown", reason=reason)
            if self.recorder:
                self.recorder.flush()
