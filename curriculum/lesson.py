"""The lesson schema: one YAML file is one lesson (story, arena, allowed blocks, checks, stars, ...).

Strict on purpose: an unknown field is an error (a typo like ``chekcs`` must not silently drop the
checks). Cross-checks that need more than one field (blocks open at the level, zones that checks
name, unlock targets) live in :mod:`curriculum.loader`, which knows every lesson.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from robot_runtime.arena import Arena

LessonId = Annotated[str, Field(min_length=3, max_length=60, pattern=r"^[a-z0-9][a-z0-9\-]*$")]
KidSentence = Annotated[str, Field(min_length=2, max_length=160)]
Seconds = Annotated[float, Field(gt=0, le=600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- checks (the catalogue's parameters; the measuring lives in curriculum.checks) -------------


class _Check(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    required: bool = True  # required checks decide pass/fail; the others only give extra stars

    @property
    def check_id(self) -> str:
        return self.id or self.kind  # type: ignore[attr-defined]


class ReachZone(_Check):
    kind: Literal["reach_zone"]
    zone: str
    when: Literal["end", "ever"] = "end"  # end: the car stops inside; ever: passes through it once


class StayOutOfZone(_Check):
    kind: Literal["stay_out_of_zone"]
    zone: str


class TouchNoCone(_Check):
    kind: Literal["touch_no_cone"]
    max_touches: Annotated[int, Field(ge=0, le=50)] = 0


class TouchNoWall(_Check):
    kind: Literal["touch_no_wall"]


class FinishWithin(_Check):
    kind: Literal["finish_within"]
    seconds: Seconds


class EndPose(_Check):
    """The car ends at a pose: a zone (whole car inside) and/or a point, with a heading tolerance."""

    kind: Literal["end_pose"]
    zone: str | None = None
    x_cm: float | None = None
    y_cm: float | None = None
    tolerance_cm: Annotated[float, Field(gt=0, le=200)] = 15.0
    heading_deg: float | None = None  # None: the zone's heading_deg, if it has one
    heading_tolerance_deg: Annotated[float, Field(gt=0, le=180)] = 15.0
    either_direction: bool = False  # parking: nose either way along the box counts
    whole_car: bool = True  # every corner of the car inside the zone, not only its centre

    @model_validator(mode="after")
    def _target(self) -> "EndPose":
        if self.zone is None and (self.x_cm is None or self.y_cm is None):
            raise ValueError("end_pose needs a zone or both x_cm and y_cm")
        return self


class PathLengthMax(_Check):
    kind: Literal["path_length_max"]
    cm: Annotated[float, Field(gt=0, le=100_000)]


class Smooth(_Check):
    """Few steering direction changes and no hard jerks: a calm, planned drive."""

    kind: Literal["smooth"]
    max_steering_reversals: Annotated[int, Field(ge=0, le=1000)] = 6
    # the shipped lessons' reference drives measure 450-2100 cm/s^3 (donut and drift at the top): above 3000
    # something started or stopped hard
    max_jerk_cm_s3: Annotated[float, Field(gt=0)] = 3_000.0


class TurnedAtLeast(_Check):
    """Total heading change (donut, figure eight)."""

    kind: Literal["turned_at_least"]
    degrees: Annotated[float, Field(gt=0, le=36_000)]


class SlideAtLeast(_Check):
    """The car slid sideways at least this much at some moment (drift)."""

    kind: Literal["slide_at_least"]
    degrees: Annotated[float, Field(gt=0, le=90)]


class UsesLoop(_Check):
    kind: Literal["uses_loop"]


class UsesDistanceSensor(_Check):
    kind: Literal["uses_distance_sensor"]


class UsesCondition(_Check):
    """An if/while/until with a comparison, or a variable."""

    kind: Literal["uses_condition"]


class UsesSkill(_Check):
    kind: Literal["uses_skill"]
    skill: str


class MaxBlocks(_Check):
    kind: Literal["max_blocks"]
    n: Annotated[int, Field(ge=1, le=500)]


CheckSpec = Annotated[
    Union[ReachZone, StayOutOfZone, TouchNoCone, TouchNoWall, FinishWithin, EndPose, PathLengthMax, Smooth,
          TurnedAtLeast, SlideAtLeast, UsesLoop, UsesDistanceSensor, UsesCondition, UsesSkill, MaxBlocks],
    Field(discriminator="kind"),
]
CHECK_KINDS = ("reach_zone", "stay_out_of_zone", "touch_no_cone", "touch_no_wall", "finish_within", "end_pose",
               "path_length_max", "smooth", "turned_at_least", "slide_at_least", "uses_loop",
               "uses_distance_sensor", "uses_condition", "uses_skill", "max_blocks")
PROGRAM_CHECK_KINDS = frozenset({"uses_loop", "uses_distance_sensor", "uses_condition", "uses_skill", "max_blocks"})


# --- stars, solutions, unlocks ----------------------------------------------------------------


class Stars(_Strict):
    """Passing (every required check) is one star; each extra star needs its listed checks too."""

    two: list[str] = []
    three: list[str] = []


class Solution(_Strict):
    """A program for the lesson: Blockly JSON (inline or a side file) and the same in Python."""

    blockly: dict[str, Any] | None = None
    blockly_file: str | None = None  # relative to the lesson file
    python_file: str | None = None  # relative to the lesson file; uses the dojo SDK

    @model_validator(mode="after")
    def _one_program(self) -> "Solution":
        if (self.blockly is None) == (self.blockly_file is None):
            raise ValueError("a solution needs exactly one of blockly (inline) or blockly_file")
        return self


class WrongSolution(Solution):
    fails: str  # the check id this program must fail


class Unlocks(_Strict):
    """What passing this lesson opens. Default: the next lesson (by order) in the same level."""

    lessons: list[LessonId] = []


class Lesson(_Strict):
    id: LessonId
    level: Annotated[int, Field(ge=1, le=4)]
    order: Annotated[int, Field(ge=1, le=99)]
    title: Annotated[str, Field(min_length=2, max_length=50)]
    story: Annotated[list[KidSentence], Field(min_length=1, max_length=6)]
    goal: KidSentence
    arena: Arena
    allowed_blocks: Annotated[list[str], Field(min_length=1)]
    checks: Annotated[list[CheckSpec], Field(min_length=1)]
    stars: Stars = Stars()
    time_limit_s: Seconds = 60.0
    rubric: Annotated[list[Annotated[str, Field(max_length=200)]], Field(min_length=1, max_length=8)]
    hints: Annotated[list[KidSentence], Field(max_length=6)] = []
    unlocks: Unlocks = Unlocks()
    # May "Tell the car" (a sentence becomes blocks, docs/language.md) help in this lesson? false: the kid
    # builds every block, and a program with blocks from a sentence is refused at the green flag.
    planning: Annotated[bool, Field(strict=True)] = True
    solution: Solution
    wrong_solution: WrongSolution
    # The program a kid builds by doing what the hints say, in order (numbers included): the lesson
    # content test runs it and it must pass, so a kid who follows the hints is never led astray.
    hint_solution: Solution | None = None

    @model_validator(mode="after")
    def _unique_check_ids(self) -> "Lesson":
        seen: set[str] = set()
        for c in self.checks:
            if c.check_id in seen:
                raise ValueError(f"two checks are called '{c.check_id}': give one of them an `id:`")
            seen.add(c.check_id)
        if not any(c.required for c in self.checks):
            raise ValueError("at least one check must be required (required: true), or nothing decides a pass")
        return self

    def check(self, check_id: str) -> Any:
        for c in self.checks:
            if c.check_id == check_id:
                return c
        raise KeyError(check_id)

    @property
    def check_ids(self) -> list[str]:
        return [c.check_id for c in self.checks]

    def summary(self, *, locked: bool = False, passed: bool = False, best_stars: int = 0) -> dict[str, Any]:
        """What the kid's lesson picker shows (no solutions)."""
        return {
            "id": self.id, "level": self.level, "order": self.order, "title": self.title,
            "story": self.story, "goal": self.goal, "hints": self.hints, "time_limit_s": self.time_limit_s,
            "allowed_blocks": self.allowed_blocks, "arena": self.arena.model_dump(mode="json"),
            "checks": [{"id": c.check_id, "kind": c.kind, "required": c.required} for c in self.checks],
            "planning": self.planning, "locked": locked, "passed": passed, "best_stars": best_stars,
        }
