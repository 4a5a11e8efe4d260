"""Tell the car, in the classroom: who may plan now, with which lesson and arena, and the teacher's log.

A kid's sentence goes: the gate's planning rules (the teacher's switch for the class, the picked lesson's
``planning``, the kid's plan rate) -> curriculum.planner (model or reader; kid-safe in and out; the gate checks
every proposal) -> the plan in every front end's shape with a fresh plan id -> one row in the teacher's log.
Nothing here runs a program: the kid reads the blocks and presses Run (a run that uses them is noted on the
plan's row when it starts).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from curriculum import kid_safe
from curriculum.lesson import Lesson
from curriculum.loader import LessonSet
from curriculum.plan import to_blockly, to_python, to_scratch_xml
from curriculum.planner import PlanContext, Planner, PlannerConfig, PlanResult
from curriculum.program import ProgramError, analyse
from server.core.classroom import Classroom
from server.core.lesson_book import LessonBook
from server.core.storage import Storage
from server.core.types import Kid, Run

log = logging.getLogger(__name__)

SWITCH_NS = "language_switch"  # class code -> False when the teacher switched Tell the car off (on by default)
MAX_LOG = 200  # rows per teacher request: a class types a few dozen sentences a lesson
MIGRATION = ("language:1", """
CREATE TABLE IF NOT EXISTS plans (
  plan_id TEXT PRIMARY KEY, t REAL NOT NULL, kid_id TEXT NOT NULL, class_code TEXT NOT NULL, level INTEGER NOT NULL,
  lesson_id TEXT, front_end TEXT NOT NULL, sentence TEXT NOT NULL, outcome TEXT NOT NULL, answered_by TEXT NOT NULL,
  result TEXT NOT NULL, runs TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS plans_by_class ON plans (class_code, t)
""")


def new_plan_id() -> str:
    return "p" + secrets.token_hex(4)  # the shape curriculum.program.PLAN_ID reads back


@dataclass
class PlanService:
    classroom: Classroom
    storage: Storage
    lesson_book: LessonBook
    lessons: LessonSet
    planner: Planner
    clock: Callable[[], float] = time.time

    # --- the teacher's switch -------------------------------------------------------------------

    def enabled(self, class_code: str) -> bool:
        return bool(self.storage.kv_get(SWITCH_NS, class_code, True))

    def set_enabled(self, class_code: str, on: bool) -> None:
        self.storage.kv_put(SWITCH_NS, class_code, on)

    # --- one sentence -----------------------------------------------------------------------------

    def picked_lesson(self, kid: Kid) -> Lesson | None:
        """The lesson the kid picked (read through the core's lesson book), as the curriculum has it."""
        picked = self.lesson_book.selected_lesson(kid.kid_id)
        return self.lessons.get(picked) if picked in self.lessons.lessons else None

    def context(self, kid: Kid) -> PlanContext:
        car_id = self.classroom.car_of(kid.kid_id)
        lesson = self.picked_lesson(kid)
        arena = self.classroom.arena_for_car(car_id) if car_id else lesson.arena if lesson else None
        return PlanContext(kid.level, lesson, arena)

    def status(self, kid: Kid) -> dict[str, Any]:
        """Whether the kid's box is open now, and the gate's sentence if not (asking this spends no plan)."""
        lesson, on = self.picked_lesson(kid), self.enabled(kid.class_code)
        if on and (lesson is None or lesson.planning):
            return {"enabled": True, "rule": "", "kid_text": ""}
        refusal = self.classroom.gate.plan_check(kid.kid_id, class_allows=on, lesson=lesson)
        assert refusal is not None  # the switch and the lesson say no before the kid's bucket: nothing is spent
        return {"enabled": False, "rule": refusal.rule, "kid_text": refusal.kid_text}

    async def plan(self, kid: Kid, sentence: str, front_end: str) -> dict[str, Any]:
        """The answer the kid's editor shows: outcome, kid text, who answered, and the blocks in every shape."""
        kid = self.classroom.kid(kid.kid_id)  # the level may have changed since the token was made
        ctx = self.context(kid)
        refusal = self.classroom.gate.plan_check(kid.kid_id, class_allows=self.enabled(kid.class_code),
                                                 lesson=ctx.lesson)
        if refusal is not None:
            result = PlanResult("refused", "nobody", refusal.kid_text, rule=refusal.rule, teacher_note=refusal.detail)
        else:
            result = await self.planner.plan(sentence, ctx)
        plan_id = new_plan_id()
        stored = kid_safe.stored_sentence(sentence)
        answer = {"plan_id": plan_id, "level": kid.level, "lesson_id": ctx.lesson.id if ctx.lesson else None,
                  **result.as_dict()}
        if result.plan is not None:
            answer.update(blockly=to_blockly(result.plan, plan_id, stored),
                          scratch_xml=to_scratch_xml(result.plan, plan_id, stored),
                          python=to_python(result.plan, plan_id, stored))
        self.storage.execute(
            "INSERT INTO plans (plan_id, t, kid_id, class_code, level, lesson_id, front_end, sentence, outcome, "
            "answered_by, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (plan_id, self.clock(), kid.kid_id, kid.class_code, kid.level, answer["lesson_id"], front_end, stored,
             result.outcome, result.answered_by, json.dumps(result.as_dict())))
        log.info("plan %s for %s (%s): %s by %s in %.2f s", plan_id, kid.kid_id, front_end, result.outcome,
                 result.answered_by, result.seconds)
        return answer

    # --- the teacher's log ------------------------------------------------------------------------

    def log_of_class(self, class_code: str, limit: int = MAX_LOG) -> list[dict[str, Any]]:
        names = {k.kid_id: k.name for k in self.classroom.kids_in_class(class_code)}
        rows = self.storage.execute(
            "SELECT plan_id, t, kid_id, level, lesson_id, front_end, sentence, outcome, answered_by, result, runs "
            "FROM plans WHERE class_code = ? ORDER BY t DESC LIMIT ?", (class_code, min(limit, MAX_LOG)))
        out = []
        for plan_id, t, kid_id, level, lesson_id, front_end, sentence, outcome, answered_by, result, runs in rows:
            r = json.loads(result)
            out.append({"plan_id": plan_id, "t": t, "kid_id": kid_id, "name": names.get(kid_id, kid_id),
                        "level": level, "lesson_id": lesson_id, "front_end": front_end, "sentence": sentence,
                        "outcome": outcome, "answered_by": answered_by, "lines": r.get("lines", []),
                        "kid_text": r.get("kid_text", ""), "notes": r.get("notes", []), "rule": r.get("rule", ""),
                        "teacher_note": r.get("teacher_note", ""), "model": r.get("model"),
                        "seconds": r.get("seconds"), "runs": json.loads(runs)})
        return out

    def on_run_started(self, run: Run) -> None:
        """A run whose program has blocks from a plan: the plan's row says it ran (and in which run)."""
        try:
            plan_ids = analyse(run.program).plans
        except ProgramError:
            return
        for plan_id in plan_ids:
            rows = self.storage.execute("SELECT runs FROM plans WHERE plan_id = ? AND kid_id = ?", (plan_id, run.kid_id))
            if rows:
                runs = json.loads(rows[0][0]) + [{"run_id": run.run_id, "t": run.started_at, "lesson_id": run.lesson_id}]
                self.storage.execute("UPDATE plans SET runs = ? WHERE plan_id = ?", (json.dumps(runs[-20:]), plan_id))


def planner_config(data_dir: Path) -> PlannerConfig:
    """Planner settings: <data_dir>/planner.json if present, else DOJO_OLLAMA_HOST / DOJO_PLANNER_MODEL /
    DOJO_PLANNER_TIMEOUT_S / DOJO_PLANNER (``off``: the reader only), else a local Ollama with the coach's model."""
    path = data_dir / "planner.json"
    if path.is_file():
        return PlannerConfig.model_validate_json(path.read_text(encoding="utf-8"))
    env = {k: v for k, v in {"host": os.environ.get("DOJO_OLLAMA_HOST"), "model": os.environ.get("DOJO_PLANNER_MODEL"),
                             "timeout_s": os.environ.get("DOJO_PLANNER_TIMEOUT_S")}.items() if v}
    if os.environ.get("DOJO_PLANNER", "").lower() in ("off", "0", "false", "no"):
        env["enabled"] = "false"
    return PlannerConfig.model_validate(env)
