"""The planner: a kid's sentence (with the picked lesson and the kid's level) becomes a plan the kid reads,
changes and runs. A language model never drives the car: it writes blocks, the kid decides.

1. The sentence is checked first (curriculum.kid_safe: too long, personal data, rude) and never sent on if not.
2. With a model: the local model (Ollama, structured output in :func:`curriculum.plan.plan_schema` — only the
   kid's level's blocks, skills and number ranges) proposes a plan; it is read (:func:`~curriculum.plan.from_json`),
   its note for the kid filtered like the coach's words, and it is checked by the gate like a typed program
   (:func:`~curriculum.plan.check`). A reply that fails any of these is asked for once more with the reason
   (the repair); a second failure falls back to the reader, or is explained with the gate's own sentence
   ("I can't make that into blocks: The “drift” skill unlocks at level 4 — keep going!").
3. Without a model, or when it is down, slow or unusable: the deterministic reader (curriculum.plan_parser).
   Its steps that the gate refuses are left out and explained; the parts it did not understand are named.

Every outcome is one of ``planned`` (blocks to show), ``explained`` (why not, in one kid sentence),
``not_understood`` or ``refused`` (kid-safe, teacher's switch, rate limit) and says who answered. Nothing here
runs a program.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal

import httpx
import ollama
from pydantic import BaseModel, Field, ValidationError

from curriculum import kid_safe
from curriculum.catalog import CATALOG, Catalog
from curriculum.coach import DEFAULT_MODEL, CoachConfig
from curriculum.errors import Problem
from curriculum.gate import Refusal, block_locked, lesson_refusal, skill_locked
from curriculum.lesson import Lesson
from curriculum.levels import LEVELS
from curriculum.plan import Call, Loop, Node, Plan, PlanError, check, closed_names, from_json, open_blocks, plan_schema
from curriculum.plan_parser import parse
from robot_runtime.arena import Arena

# One model in the classroom's memory: the coach's (a 3B vision model writes plans well enough, and a second
# model would need another ~3 GB of RAM on the teacher's laptop).
PLANNER_MODEL = DEFAULT_MODEL
PLANNER_TIMEOUT_S = 12.0  # a 3B model writes a ~100-token plan in 3-10 s on a laptop; a kid waits no longer
PLANNER_TEMPERATURE = 0.1  # the same sentence should give the same blocks

Outcome = Literal["planned", "explained", "not_understood", "refused"]
AnsweredBy = Literal["model", "reader", "nobody"]


class PlannerConfig(CoachConfig):
    """The coach's Ollama settings (host, model, timeout_s, enabled, tries: the first answer plus one repair),
    with the planner's defaults."""

    model: str = PLANNER_MODEL
    timeout_s: Annotated[float, Field(gt=0, le=120)] = PLANNER_TIMEOUT_S
    parallel: Annotated[int, Field(ge=1, le=16)] = 2  # Ollama answers one request per model at a time: more only queue
    temperature: Annotated[float, Field(ge=0, le=2)] = PLANNER_TEMPERATURE


@dataclass(frozen=True)
class PlanContext:
    """Who asks and where: the kid's level, the picked lesson (None: free driving) and the car's arena."""

    level: int
    lesson: Lesson | None = None
    arena: Arena | None = None

    @property
    def allowed_blocks(self) -> list[str] | None:
        return list(self.lesson.allowed_blocks) if self.lesson else None


@dataclass
class PlanResult:
    outcome: Outcome
    answered_by: AnsweredBy
    kid_text: str  # what the "Tell the car" box says
    plan: Plan | None = None
    notes: list[str] = field(default_factory=list)  # kid sentences: what was left out and why
    skipped: list[str] = field(default_factory=list)  # parts of the sentence the reader did not understand
    rule: str = ""  # why there is no plan (the gate's or kid_safe's rule)
    teacher_note: str = ""  # what the teacher should know (the model was down, its replies were unusable...)
    model: str | None = None
    rejected: list[str] = field(default_factory=list)  # each rejected model reply and why
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "answered_by": self.answered_by, "kid_text": self.kid_text,
                "steps": self.plan.as_json()["steps"] if self.plan else None,
                "lines": self.plan.lines() if self.plan else [], "notes": self.notes, "skipped": self.skipped,
                "rule": self.rule, "teacher_note": self.teacher_note, "model": self.model, "rejected": self.rejected,
                "seconds": round(self.seconds, 3)}


PLANNED_TEXT = "Here are your blocks! Read them, change what you like, then run them."
NOT_UNDERSTOOD_TEXT = "I didn't understand that — try something like “forward 30 then turn left”."


def _explained(problem: Problem) -> str:
    return f"I can't make that into blocks: {problem.kid_text}"


def _unique(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))


# --- what the model is told -------------------------------------------------------------------------


def _vocabulary(ctx: PlanContext, catalog: Catalog) -> str:
    rows = []
    for b in open_blocks(ctx.level, ctx.allowed_blocks, catalog):
        params = ", ".join(f"{p.name} {p.minimum:g}-{p.maximum:g} {p.unit}".strip() if p.kind == "number" else
                           f"{p.name} one of {', '.join(p.options)}" if p.kind == "menu" else f"{p.name} (a skill)"
                           for p in b.params)
        rows.append(f"- {b.id}: {b.text} ({params or 'no arguments'}). {b.doc}")
    skills = sorted(s.name for s in catalog.skills() if LEVELS[ctx.level].allows_skill(s.name))
    if skills and any(b.id == "do_skill" for b in open_blocks(ctx.level, ctx.allowed_blocks, catalog)):
        rows.append(f"Skills the car knows: {', '.join(skills)}.")
    rows.append(f"Top speed at this level: {LEVELS[ctx.level].max_speed_pct:g}%.")
    return "\n".join(rows)


def _arena_text(ctx: PlanContext) -> str:
    arena = ctx.arena or (ctx.lesson.arena if ctx.lesson else None)
    if arena is None:
        return ""
    s = arena.start
    parts = [f"The arena is {arena.width_cm:g} x {arena.height_cm:g} cm (x to the right, y up, heading 0 = +x, "
             f"counter-clockwise positive). The car starts at x {s.x_cm:g}, y {s.y_cm:g}, heading {s.heading_deg:g}."]
    if arena.cones:
        parts.append("Cones at: " + "; ".join(f"({c.x_cm:g}, {c.y_cm:g})" for c in arena.cones) + ".")
    for z in arena.zones:
        parts.append(f"Zone {z.name} ({z.kind}) from ({z.x0:g}, {z.y0:g}) to ({z.x1:g}, {z.y1:g}).")
    return "\n".join(parts)


def build_messages(sentence: str, ctx: PlanContext, retry_reason: str | None = None,
                   catalog: Catalog = CATALOG) -> list[dict[str, Any]]:
    system = (
        "You turn a child's sentence into a short program of blocks for a small robot car. The child is 8 to 14 "
        "years old, reads the blocks, may change them, and decides to run them. Use only the blocks listed and "
        "allowed by the JSON schema. Distances are centimetres, turns are degrees (left is counter-clockwise), "
        "speed is percent of the car's top speed, time is seconds. Use a repeat block for steps that repeat. "
        "Add nothing the child did not ask for. If the child asks for something these blocks cannot do, leave "
        "it out and name it in `cannot`. `note` is one short, friendly sentence for the child: no names, no "
        "links, nothing unkind. Answer only with JSON matching the schema.")
    lesson = ""
    if ctx.lesson:
        lesson = f"Lesson: {ctx.lesson.title}. Goal: {ctx.lesson.goal}\n"
    user = (f"The child is on level {ctx.level}. Blocks:\n{_vocabulary(ctx, catalog)}\n\n{lesson}{_arena_text(ctx)}\n\n"
            f"The child's sentence: {json.dumps(sentence, ensure_ascii=False)}")
    if retry_reason:
        user += f"\n\nYour last answer could not be used ({retry_reason}). Follow the schema and the rules exactly."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- the planner --------------------------------------------------------------------------------------


class _Unusable(Exception):
    """One model reply that cannot be shown; ``problem`` is set when the gate (not the shape) said no."""

    def __init__(self, reason: str, problem: Problem | None = None) -> None:
        super().__init__(reason)
        self.problem = problem


class Planner:
    """One planner per server (or test): holds the Ollama client for its config."""

    def __init__(self, config: PlannerConfig = PlannerConfig(), *, catalog: Catalog = CATALOG,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config, self.catalog, self._clock = config, catalog, clock
        self._client = ollama.AsyncClient(host=config.host, timeout=config.timeout_s)
        self._slots = asyncio.Semaphore(config.parallel)  # waiting for a slot counts against the kid's timeout

    async def plan(self, sentence: str, ctx: PlanContext) -> PlanResult:
        started = self._clock()
        result = await self._plan(sentence.strip(), ctx)
        result.seconds = self._clock() - started
        return result

    async def _plan(self, sentence: str, ctx: PlanContext) -> PlanResult:
        unsafe = kid_safe.check_sentence(sentence)
        if unsafe is not None:
            return PlanResult("refused", "nobody", unsafe.kid_text, rule=unsafe.rule, teacher_note=unsafe.detail)
        reader, wishes = self._read(sentence, ctx)
        if not self.config.enabled:
            reader.teacher_note = "no language model is switched on: the simple reader answered"
            return reader
        return await self._ask_model(sentence, ctx, reader, wishes)

    # --- the reader ---------------------------------------------------------------------------------

    def _read(self, sentence: str, ctx: PlanContext) -> tuple[PlanResult, list[Problem]]:
        """The reader's answer, and the gate's refusals of what the sentence asked for (a locked skill...)."""
        parsed = parse(sentence, level=ctx.level, arena=self._arena(ctx), catalog=self.catalog)
        skipped = [f"I didn't understand “{part}”, so I left it out." for part in parsed.skipped]
        kept, refusals = self._keep_allowed(parsed.plan, ctx)
        notes = _unique([r.kid_text for r in refusals]) + skipped
        if not parsed.plan.steps:
            return PlanResult("not_understood", "reader", NOT_UNDERSTOOD_TEXT, notes=skipped, skipped=parsed.skipped,
                              rule="not_understood"), refusals
        if not kept.steps:
            return PlanResult("explained", "reader", _explained(refusals[0]), notes=notes[1:], skipped=parsed.skipped,
                              rule=refusals[0].rule), refusals
        checked, problem = check(kept, ctx.level, lesson=ctx.lesson, arena=self._arena(ctx), catalog=self.catalog)
        if problem is not None:
            return PlanResult("explained", "reader", _explained(problem), notes=notes, skipped=parsed.skipped,
                              rule=problem.rule), refusals
        return PlanResult("planned", "reader", PLANNED_TEXT, checked, notes=notes, skipped=parsed.skipped), refusals

    def _keep_allowed(self, plan: Plan, ctx: PlanContext) -> tuple[Plan, list[Problem]]:
        """The reader's plan without the blocks the gate refuses one by one (a locked skill, a speed over the
        level's top...), and those refusals: "drift then stop" at level 2 keeps the stop and says why."""
        refusals: list[Problem] = []

        def keep(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
            out: list[Node] = []
            for node in nodes:
                if isinstance(node, Loop):
                    body = keep(node.body)
                    if body:
                        out.append(Loop(node.times, body))
                    continue
                _, problem = check(Plan((node,)), ctx.level, lesson=ctx.lesson, arena=self._arena(ctx),
                                   catalog=self.catalog)
                if problem is None:
                    out.append(node)
                elif not isinstance(problem, PlanError):
                    refusals.append(problem)
            return tuple(out)

        return Plan(keep(plan.steps)), refusals

    def _arena(self, ctx: PlanContext) -> Arena | None:
        return ctx.arena or (ctx.lesson.arena if ctx.lesson else None)

    # --- the model ----------------------------------------------------------------------------------

    async def _ask_model(self, sentence: str, ctx: PlanContext, reader: PlanResult,
                         wishes: list[Problem]) -> PlanResult:
        cfg = self.config
        schema = plan_schema(ctx.level, allowed_blocks=ctx.allowed_blocks, arena=self._arena(ctx), catalog=self.catalog)
        rejected: list[str] = []
        gate_problem: Problem | None = None
        why = ""
        for _ in range(cfg.tries):
            messages = build_messages(sentence, ctx, rejected[-1] if rejected else None, self.catalog)
            try:
                reply = await asyncio.wait_for(self._chat(messages, schema), timeout=cfg.timeout_s)
            except (asyncio.TimeoutError, httpx.TimeoutException) as e:  # before OSError: TimeoutError is one
                why = f"the planner model took longer than {cfg.timeout_s:g} s ({e.__class__.__name__})"
                break
            except (ConnectionError, httpx.ConnectError, OSError) as e:
                why = f"the planner model at {cfg.host} is not reachable ({e.__class__.__name__}) — start Ollama"
                break
            except (ollama.ResponseError, httpx.HTTPError, ValidationError, json.JSONDecodeError) as e:
                rejected.append(f"error reply: {str(e)[:200]}")
                continue
            try:
                result = self._use_reply(reply.message.content or "", ctx, wishes)
            except _Unusable as e:
                rejected.append(str(e))
                gate_problem = e.problem or gate_problem
                continue
            result.rejected = rejected
            return result
        else:
            why = f"the planner model's replies were not usable ({'; '.join(rejected)})"
        if reader.outcome == "planned" or gate_problem is None:
            reader.teacher_note, reader.rejected = f"{why}; the simple reader answered", rejected
            return reader
        return PlanResult("explained", "model", _explained(gate_problem), notes=_unique([w.kid_text for w in wishes]),
                          rule=gate_problem.rule, teacher_note=why, model=cfg.model, rejected=rejected)

    async def _chat(self, messages: list[dict[str, Any]], schema: dict[str, Any]) -> Any:
        async with self._slots:
            return await self._client.chat(model=self.config.model, messages=messages, format=schema,
                                           options={"temperature": self.config.temperature}, stream=False)

    def _use_reply(self, content: str, ctx: PlanContext, wishes: list[Problem]) -> PlanResult:
        """One model reply -> a planned or explained result, or _Unusable with the reason (for the repair)."""
        try:
            data = json.loads(content)
            plan = from_json(data, self.catalog)
        except PlanError as e:
            raise _Unusable(f"malformed: {e.message[:160]}") from None
        except ValueError as e:
            raise _Unusable(f"malformed: not JSON ({str(e)[:120]})") from None
        note = data.get("note") if isinstance(data.get("note"), str) else ""
        unsafe = kid_safe.check_text(note)
        if unsafe is not None:
            raise _Unusable(f"{unsafe.rule} in its note: '{unsafe.found[:40]}'")
        cannot = [r for r in (self._why_not(n, ctx) for n in data.get("cannot") or [] if isinstance(n, str)) if r]
        notes = _unique([r.kid_text for r in cannot + wishes])  # what it left out: the model's word, and the reader's
        if not plan.steps and notes:
            first = (cannot + wishes)[0]
            return PlanResult("explained", "model", _explained(first), notes=notes[1:], rule=first.rule,
                              model=self.config.model)
        checked, problem = check(plan, ctx.level, lesson=ctx.lesson, arena=self._arena(ctx), catalog=self.catalog)
        if problem is not None:
            shape_only = isinstance(problem, PlanError) and problem.rule == "plan_empty"
            raise _Unusable(f"refused by the gate: {problem.detail}", None if shape_only else problem)
        text = f"{PLANNED_TEXT} {note.strip()}" if note.strip() else PLANNED_TEXT
        return PlanResult("planned", "model", text, checked, notes=notes, model=self.config.model)

    def _why_not(self, name: str, ctx: PlanContext) -> Refusal | None:
        """The gate's sentence for a block or skill the model says it could not use (None if it is open)."""
        level = LEVELS[ctx.level]
        if name not in closed_names(ctx.level, ctx.allowed_blocks, self.catalog):
            return None
        if name in self.catalog.by_id:
            if not level.allows_block(name):
                return block_locked(level, name)
            program = {"blocks": {"blocks": [{"type": self.catalog.by_id[name].blockly_type}]}}
            return lesson_refusal(ctx.lesson, program) if ctx.lesson else None
        if not level.allows_skill(name):
            return skill_locked(level, name)
        return lesson_refusal(ctx.lesson, {"blocks": {"blocks": [{"type": "dojo_do_skill"}]}}) if ctx.lesson else None
