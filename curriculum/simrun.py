"""Run a lesson's program HEADLESS in the simulator, through the real car runtime, into a Recording.

The same parts as a live attempt, minus the network: each block is translated by the catalog
(server/catalog.translate), checked by the gate's level rules (curriculum/gate.rule_refusal) and the
lesson's allowed blocks, sent to a real :class:`CarRuntime` (skills + safety supervisor + control loop)
driving a :class:`SimCar` on a :class:`ManualClock`, and its telemetry goes into the same
:class:`RecordingWriter` the server uses. Much faster than real time; used by the lesson table tests,
the judge-agreement tests and the grading benchmark. The link watchdog is off (no server to send
heartbeats: the car config says that is what headless runs without a server do).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from curriculum.catalog import translate
from curriculum.errors import BlockError
from curriculum.gate import capped_speed, rule_refusal, session_limits
from curriculum.interpreter import BlocklyInterpreter, ProgramStopped
from curriculum.judge import Verdict, judge
from curriculum.lesson import Lesson
from curriculum.levels import level as level_of
from curriculum.recording import EndReason, Recording, RecordingWriter
from robot_runtime.clock import ManualClock
from robot_runtime.config import CarConfig
from robot_runtime.protocol import SkillRequest, SkillResult
from robot_runtime.runtime import CarRuntime
from robot_runtime.sim.car import SimCar

SETTLE_S = 0.5  # after the last block, record the car coming to rest (what the judge calls the end pose)
REQUEST_TIMEOUT_S = 30.0  # as the classroom's skill requests
NO_SENSOR_READING_CM = 9999.0  # what the distance block reads when nothing is in range (as the Blockly runner)
DEFAULT_SPEED_PCT = 50.0  # the kid's speed before any `set speed` (capped by the level, as the classroom does)


@dataclass
class SimAttempt:
    recording: Recording
    results: list[SkillResult] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    sim_seconds: float = 0.0
    truth_contacts: list[str] = field(default_factory=list)  # the physics engine's own contact log ("cone:0", "wall")
    truth_end: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the simulator's true final pose (x, y, heading)


class _SimPort:
    """The BlockPort the interpreter drives: one block at a time, each until the car answers."""

    def __init__(self, lesson: Lesson, runtime: CarRuntime, clock: ManualClock, started: float) -> None:
        self.lesson, self.runtime, self.clock, self.started = lesson, runtime, clock, started
        self.level = level_of(lesson.level)
        self.speed = capped_speed(lesson.level, DEFAULT_SPEED_PCT)
        self.results: list[SkillResult] = []
        self.refusals: list[str] = []
        self.timed_out = False
        self._ids = itertools.count(1)
        runtime.result_sinks.append(self.results.append)

    def _refuse(self, text: str) -> None:
        self.refusals.append(text)
        raise ProgramStopped(text)

    def run_block(self, block_id: str, args: dict[str, Any]) -> None:
        if block_id not in self.lesson.allowed_blocks and block_id != "stop":
            self._refuse(f"block {block_id} is not allowed in lesson {self.lesson.id}")
        try:
            t = translate(block_id, args, self.speed)
        except BlockError as e:
            self._refuse(e.message)
        refusal = rule_refusal(self.level, block_id, t.args, t.action, self.lesson.arena)
        if refusal:
            self._refuse(refusal.kid_text)
        if block_id == "set_speed":
            self.speed = float(t.args["speed"])
            return
        action = t.action
        if action is None:
            self._refuse(f"{block_id} is a {t.block.kind} block, not something the car does")
        if block_id == "stop":
            self.runtime.handle_stop({"reason": "stop block"})
            return
        request = SkillRequest(request_id=f"sim-{next(self._ids)}", action=action, timeout_s=REQUEST_TIMEOUT_S)
        ack = self.runtime.handle_skill(request.model_dump(mode="json"))
        if not ack.get("ok"):
            self._refuse(str((ack.get("error") or {}).get("message", "the car refused the block")))
        done = len(self.results)
        left = self.lesson.time_limit_s - (self.clock.now() - self.started)
        self.runtime.loop.run_headless(max(0.0, left), until=lambda: len(self.results) > done)
        if len(self.results) == done:  # the lesson's time ran out while the block was still going
            self.timed_out = True
            self.runtime.handle_stop({"reason": "time limit"})
            raise ProgramStopped("time limit")
        result = self.results[-1]
        if result.status != "done":
            raise ProgramStopped(result.kid_text or result.status)

    def read(self, block_id: str, args: dict[str, Any]) -> float:
        state = self.runtime.hardware.read()
        if block_id == "distance":
            return NO_SENSOR_READING_CM if state.distance_cm is None else float(state.distance_cm)
        axis = str(args.get("axis", "x"))
        return {"x": state.x_cm, "y": state.y_cm, "heading": state.heading_deg}.get(axis, state.x_cm)


def run_program(lesson: Lesson, program: dict[str, Any], *, attempt_id: str = "sim", seed: int | None = None) -> SimAttempt:
    """Run a Blockly program on the lesson's arena and record it like a live attempt."""
    clock = ManualClock()
    car = SimCar(arena=lesson.arena)
    runtime = CarRuntime(CarConfig(car_id="sim-1", watchdog=False, mode="headless"), car, clock, arena=lesson.arena)
    runtime.set_arena(lesson.arena)
    runtime.handle_limits(session_limits(lesson.level).model_dump(mode="json"))
    writer = RecordingWriter(Recording(attempt_id=attempt_id, lesson_id=lesson.id, kid_id="sim", car_id="sim-1",
                                       source="blockly", program=program), clock=clock.now)
    runtime.telemetry_sinks.append(writer.add_telemetry)
    started = clock.now()
    port = _SimPort(lesson, runtime, clock, started)
    reason: EndReason = "program_finished"
    try:
        BlocklyInterpreter(program, port).run()
    except ProgramStopped:
        reason = "time_limit" if port.timed_out else "program_finished"
    runtime.loop.run_headless(SETTLE_S)
    rec = writer.end(reason, ended_at=clock.now())
    truth = car.read()
    return SimAttempt(rec, port.results, port.refusals, clock.now() - started,
                      [c.with_ for c in car.collision_log], (truth.x_cm, truth.y_cm, truth.heading_deg))


def judge_program(lesson: Lesson, program: dict[str, Any]) -> tuple[Verdict, SimAttempt]:
    sim = run_program(lesson, program)
    return judge(lesson, sim.recording, program), sim
