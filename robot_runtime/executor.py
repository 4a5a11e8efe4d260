"""The request lifecycle on the car: one skill at a time, exactly one SkillResult per accepted request.

    submit(request) -> Ack        accepted (the skill starts on the next tick) or an error that names
                                  the rule, the value and the fix (busy, unknown skill, e-stop ...)
    cancel(id) / stop()           end the running request `cancelled`; stop then brakes (controlled stop)
    step(state, now) -> Command   called by the control loop every tick: the skill's wish
    after_supervisor(...)         the loop reports what the supervisor did (blocked by safety, link lost)
    shutdown(reason)              ends whatever runs: the car never leaves a request without an answer

Final answers: the skill says done/failed; the request's timeout_s -> `timed_out`; the skill's own
time limit -> `failed` (reason timeout, per skills/base.py); cancel/stop/e-stop/shutdown -> `cancelled`;
lost link -> `failed` (link_lost); held still by the supervisor -> `failed` (blocked_by_safety).

A server that stalls (no heartbeats) pauses the running move: the watchdog stops the car (the
supervisor's promise is unchanged), the skill is not stepped and its clocks stand still; heartbeats
back within LINK_PAUSE_MAX_S resume it where it was, so a 1 s stall does not fail the kid's block.
Longer, or a dropped link, ends it `failed` (link_lost).
Each goes to `on_result` exactly once; the link keeps it until the server has it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from robot_runtime.arena import DEFAULT_ARENA, Arena
from robot_runtime.hardware import NEUTRAL, CarSpec, CarState, Command
from robot_runtime.protocol import (
    Ack, ErrorInfo, NamedSkillAction, Pose, SafetyEvent, SkillProgress, SkillRequest, SkillResult, StopAction,
)
from robot_runtime.safety import SafetySupervisor
from robot_runtime.skills.base import Skill, SkillContext

log = logging.getLogger(__name__)

LINK_PAUSE_MAX_S = 3.0  # as long as the link waits for a silent server (link.LINK_SILENT_S), then link_lost
BLOCKED_FAIL_S = 2.0  # held at a wall this long: give up with a reason instead of waiting for the timeout
STOPPED_CM_S = 2.0  # slower than this counts as standing still
REMEMBER_IDS = 256  # recent request ids kept to refuse duplicates (a retried emit must not run twice)


@dataclass
class Running:
    request: SkillRequest
    skill: Skill
    name: str
    accepted_at: float
    started_at: float | None = None
    progress: float = 0.0
    blocked_since: float | None = None
    paused_at: float | None = None  # the watchdog stopped the car (server silent): the move waits


def action_name(request: SkillRequest) -> str:
    action = request.action
    return action.name if isinstance(action, NamedSkillAction) else action.kind


def _pose(state: CarState | None) -> Pose | None:
    if state is None:
        return None
    return Pose(x_cm=round(state.x_cm, 2), y_cm=round(state.y_cm, 2), heading_deg=round(state.heading_deg, 2))


class SkillExecutor:
    def __init__(
        self,
        supervisor: SafetySupervisor,
        spec: CarSpec,
        *,
        car_id: str,
        on_result: Callable[[SkillResult], None],
        on_event: Callable[[SafetyEvent], None] = lambda ev: None,
        arena: Arena = DEFAULT_ARENA,
        needs_limits: bool = False,
        realtime: bool = True,
    ) -> None:
        self.supervisor = supervisor
        self.realtime = realtime
        # A car driven by a server runs nothing before the server's session limits arrived (fail closed).
        self.needs_limits = needs_limits
        self.spec = spec
        self.car_id = car_id
        self.on_result = on_result
        self.on_event = on_event
        self.arena = arena
        self.running: Running | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._last_state: CarState | None = None
        self.results_sent = 0

    # --- requests in ----------------------------------------------------------------------------

    def submit(self, request: SkillRequest, now: float) -> Ack:
        from robot_runtime.skills.registry import build_skill  # skills import the sim's helpers lazily

        name = action_name(request)
        if request.request_id in self._seen:
            return _refuse("duplicate_request", f"request {request.request_id} was already received", request.request_id,
                           "send each request once with a new request_id")
        if self.supervisor.estopped and not isinstance(request.action, StopAction):
            return _refuse("estop", f"{self.car_id} is emergency-stopped", name,
                           "the teacher resets the emergency stop first (reset_estop)")
        if self.needs_limits and not self.supervisor.session_received and not isinstance(request.action, StopAction):
            return _refuse("no_limits", f"{self.car_id} has not received its session limits from the server yet", name,
                           "the server sends `limits` when the car connects; send them before any skill")
        lim = self.supervisor.limits
        if isinstance(request.action, NamedSkillAction) and lim.allowed_skills is not None \
                and name not in lim.allowed_skills:
            ev = self.supervisor.report(now, "skill_not_allowed", f"I can't do {name} yet — it unlocks at a higher level",
                                        f"skill {name!r} not in this session's allowed skills")
            if ev:
                self.on_event(ev)
            return _refuse("skill_not_allowed", f"skill {name!r} is not allowed in this session", name,
                           f"use one of: {', '.join(sorted(lim.allowed_skills)) or 'none'}")
        speed_pct = float(getattr(request.action, "speed_pct", 50.0))
        max_pct = lim.max_throttle * 100.0
        asked_pct = speed_pct
        speed_pct = min(speed_pct, max_pct)
        ctx = SkillContext(spec=self.spec, arena=self.arena, speed_pct=speed_pct, max_throttle=lim.max_throttle,
                           realtime=self.realtime)
        try:
            skill = build_skill(request.action, ctx)
        except (KeyError, ValueError) as exc:
            from robot_runtime.skills.registry import skill_names

            msg = str(exc) if type(exc).__str__ is not KeyError.__str__ else str(exc.args[0] if exc.args else exc)
            return _refuse("unknown_skill", msg, name, f"use one of: {', '.join(sorted(skill_names()))}")
        if isinstance(request.action, StopAction):
            self.stop("stop", now)  # stop is never queued: it ends what runs, then brakes
        elif self.running is not None:
            return _refuse("busy", f"{self.car_id} is already running request {self.running.request.request_id} "
                           f"({self.running.name})", request.request_id,
                           "wait for its result, or send cancel/stop first (the server queues requests)")
        if asked_pct > max_pct:
            who = f"Level {lim.level} cars go" if lim.speed_set_by_session and lim.level else "this car goes"
            ev = self.supervisor.report(now, "speed_limit", f"I slowed down: {who} up to {max_pct:.0f}%",
                                        f"request speed {asked_pct:.0f}% capped at {max_pct:.0f}%", asked_pct, max_pct)
            if ev:
                self.on_event(ev)
        self._remember(request.request_id)
        self.running = Running(request, skill, name, accepted_at=now)
        return Ack(ok=True)

    def cancel(self, request_id: str, reason: str, now: float) -> Ack:
        run = self.running
        if run is None or run.request.request_id != request_id:
            return _refuse("not_running", f"request {request_id} is not running on {self.car_id}", request_id,
                           "nothing to cancel: its result was sent already or it never started")
        self._finish("cancelled", reason or "cancelled", "Stopped.", f"cancelled: {reason}", now)
        return Ack(ok=True)

    def stop(self, reason: str, now: float) -> None:
        """Cancel what runs; with no skill the loop sends neutral and the supervisor ramps to zero."""
        if self.running is not None:
            self._finish("cancelled", "stop", "Stopped.", f"stop: {reason}", now)

    def estop(self, reason: str, now: float) -> None:
        if self.running is not None:
            self._finish("cancelled", "estop", "I stopped: emergency stop.", f"emergency stop: {reason}", now)

    def link_lost(self, now: float) -> None:
        if self.running is not None:
            self._finish("failed", "link_lost", "I lost the connection to the classroom, so I stopped.",
                         "the link to the server dropped while the skill ran", now)

    def bumped(self, other: str, speed_cm_s: float, now: float) -> None:
        """The car touched another car (the simulator says so): the move ends, the kid hears it."""
        if self.running is not None:
            self._finish("failed", "collision", "I bumped into another car, so I stopped.",
                         f"collision with {other} at {speed_cm_s:.0f} cm/s", now)

    def car_fault(self, detail: str, now: float) -> None:
        """The car itself failed (the control loop stalled): not the kid's program, not the link."""
        if self.running is not None:
            self._finish("failed", "car_fault", "I had a hiccup, so I stopped to be safe. Try again!", detail, now)

    def pose_lost(self, bad_samples: int, now: float) -> None:
        if self.running is not None:
            self._finish("failed", "pose_lost", "I lost track of where I am, so I stopped.",
                         f"{bad_samples} pose samples in a row were not numbers (NaN/inf): the car stopped", now)

    def shutdown(self, reason: str, now: float) -> None:
        if self.running is not None:
            self._finish("cancelled", "shutdown", "The car is switching off.", f"car shutdown: {reason}", now)

    # --- ticks -------------------------------------------------------------------------------------

    def step(self, state: CarState, now: float, dt: float) -> Command:
        self._last_state = state
        run = self.running
        if run is None:
            return NEUTRAL
        if run.started_at is None:
            run.started_at = now
            try:
                run.skill.start(state)
            except Exception as exc:  # a skill bug must end its request, never the loop
                log.exception("skill %s failed to start", run.name)
                self._finish("failed", "skill_error", "Something went wrong in that move.", f"{run.name}.start: {exc!r}", now)
                return NEUTRAL
        if run.paused_at is not None:
            return NEUTRAL  # waiting for the server: no skill step, its time stands still
        elapsed = now - run.started_at
        if elapsed >= run.request.timeout_s:
            self._finish("timed_out", "timeout", "That took too long, so I stopped.",
                         f"{run.name} did not finish within the request's {run.request.timeout_s:g} s", now)
            return NEUTRAL
        if elapsed >= run.skill.time_limit_s:
            self._finish("failed", "timeout", "That took too long, so I stopped.",
                         f"{run.name} did not finish within its time limit of {run.skill.time_limit_s:g} s", now)
            return NEUTRAL
        try:
            out = run.skill.step(state, dt)
        except Exception as exc:
            log.exception("skill %s failed", run.name)
            self._finish("failed", "skill_error", "Something went wrong in that move.", f"{run.name}.step: {exc!r}", now)
            return NEUTRAL
        run.progress = max(0.0, min(1.0, out.progress))
        if out.status == "done":
            # A done skill may carry a note (reason + kid text): what it did differently, and why.
            self._finish("done", out.reason, out.kid_text or "Done!", out.reason, now)
            return NEUTRAL
        if out.status == "failed":
            text = out.kid_text or "I couldn't finish that."
            sup = self.supervisor
            if out.reason == "blocked_by_safety" and "fence" in sup.binding and sup.fence_what == "car":
                text = sup.last_event_text.get("fence", text)  # another car is in the way: say so
            self._finish("failed", out.reason or "failed", text, out.reason, now)
            return NEUTRAL
        return out.command

    def after_supervisor(self, wanted: Command, sent: Command, state: CarState, now: float) -> None:
        """End the request when the supervisor keeps the car from doing it (wall ahead, link gone)."""
        run = self.running
        if run is None:
            return
        binding = self.supervisor.binding
        if "watchdog" in binding and self.supervisor.watchdog.expired(now):
            if run.paused_at is None:
                run.paused_at = now
            elif now - run.paused_at >= LINK_PAUSE_MAX_S:
                self.link_lost(now)
            return
        if run.paused_at is not None:  # heartbeats are back: the move goes on, its clock shifted by the pause
            run.started_at = (run.started_at or now) + (now - run.paused_at)
            run.paused_at = None
        held = abs(wanted.throttle) > 0.05 and abs(sent.throttle) < 1e-3 and binding & {"fence", "obstacle"}
        if not held or abs(state.speed_cm_s) > STOPPED_CM_S:
            run.blocked_since = None
            return
        if run.blocked_since is None:
            run.blocked_since = now
        elif now - run.blocked_since >= BLOCKED_FAIL_S:
            reason = "fence" if "fence" in binding else "obstacle"
            text = self.supervisor.last_event_text.get(reason, "I stopped: something is in my way.")
            self._finish("failed", "blocked_by_safety", text,
                         f"held still by the safety supervisor ({reason}) for {BLOCKED_FAIL_S:g} s", now)

    def progress(self) -> SkillProgress | None:
        run = self.running
        if run is None:
            return None
        return SkillProgress(request_id=run.request.request_id, name=run.name, progress=run.progress)

    # --- results -----------------------------------------------------------------------------------

    def _finish(self, status: str, reason: str, kid_text: str, detail: str, now: float) -> None:
        run, self.running = self.running, None
        if run is None:
            return
        began = run.started_at if run.started_at is not None else run.accepted_at
        result = SkillResult(
            request_id=run.request.request_id, status=status, reason=reason, kid_text=kid_text, detail=detail,
            final_pose=_pose(self._last_state), duration_s=round(max(0.0, now - began), 3),
        )
        self.results_sent += 1
        try:
            self.on_result(result)
        except Exception:  # the sink (link outbox, recorder) must not break the loop
            log.exception("result sink failed for %s", result.request_id)

    def _remember(self, request_id: str) -> None:
        self._seen[request_id] = None
        while len(self._seen) > REMEMBER_IDS:
            self._seen.popitem(last=False)


def _refuse(rule: str, message: str, value: object, fix: str) -> Ack:
    return Ack(ok=False, error=ErrorInfo(rule=rule, message=message, value=value, fix=fix))
