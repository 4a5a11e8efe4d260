"""From a protocol action to a running skill, and the registry of named skills.

    skill = build_skill(DriveAction(distance_cm=30), ctx)      # -> DriveSkill
    skill = build_skill(NamedSkillAction(name="slalom"), ctx)  # -> whatever is registered as "slalom"
    register_skill("wall_follow", lambda ctx: OnnxPolicySkill(ctx, ...))   # the policy runner adds its own

The speed comes from ``ctx.speed_pct`` (the request's speed already capped by the gate and the car's
session limits), not from the action: the caller builds the context after applying limits.
"""

from __future__ import annotations

from collections.abc import Callable

from robot_runtime.protocol import DriveAction, GotoAction, NamedSkillAction, RemoteAction, StopAction, TurnAction
from robot_runtime.skills.base import Skill, SkillContext
from robot_runtime.skills.drive import DriveSkill, StopSkill
from robot_runtime.skills.figure_eight import FigureEightSkill
from robot_runtime.skills.goto import GotoSkill
from robot_runtime.skills.parallel_park import ParallelParkSkill
from robot_runtime.skills.remote import RemoteSkill
from robot_runtime.skills.slalom import SlalomSkill
from robot_runtime.skills.stunts import DonutSkill, DriftSkill
from robot_runtime.skills.turn import TurnSkill

SkillFactory = Callable[[SkillContext], Skill]

# the scripted named skills (the catalog's first five); policies and others are added with register_skill
BUILTIN_NAMED: dict[str, SkillFactory] = {
    "slalom": SlalomSkill,
    "figure_eight": FigureEightSkill,
    "parallel_park": ParallelParkSkill,
    "donut": DonutSkill,
    "drift": DriftSkill,
}
_NAMED: dict[str, SkillFactory] = dict(BUILTIN_NAMED)
# Names no added skill may take: the built-in skills (a level's permission for `slalom` must mean THE
# slalom) and the basic moves' kinds.
RESERVED_NAMES = frozenset(BUILTIN_NAMED) | {"drive", "turn", "goto", "stop", "remote"}


class UnknownSkillError(KeyError, ValueError):
    """A skill name the car does not have (a KeyError for lookups, a ValueError for bad input)."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        self.message = f"unknown skill {name!r}: this car knows {', '.join(known) or 'no named skills'}"
        super().__init__(self.message)  # args[0] is the whole sentence (callers show exc.args[0])

    def __str__(self) -> str:  # KeyError would quote it
        return self.message


def register_skill(name: str, factory: SkillFactory, *, replace: bool = False) -> None:
    """Add a named skill (scripted or a policy). Names are lower_snake_case like the protocol's."""
    if not name or not name.replace("_", "a").isalnum() or not name[0].isalpha() or name != name.lower():
        raise ValueError(f"skill name must be lower_snake_case starting with a letter (got {name!r})")
    if name in RESERVED_NAMES:
        raise ValueError(f"skill name {name!r} belongs to a built-in skill or move; an added skill cannot take it "
                         f"(or the permission that comes with it) — give it its own name, e.g. my_{name}")
    if name in _NAMED and not replace:
        raise ValueError(f"skill {name!r} is already registered; pass replace=True to swap it")
    _NAMED[name] = factory


def unregister_skill(name: str) -> None:
    _NAMED.pop(name, None)


def skill_names() -> list[str]:
    """Named skills this car can run (for CarHello.skills and the catalog)."""
    return sorted(_NAMED)


def build_named(name: str, ctx: SkillContext) -> Skill:
    try:
        factory = _NAMED[name]
    except KeyError:
        raise UnknownSkillError(name, sorted(_NAMED)) from None
    return factory(ctx)


def build_skill(action: object, ctx: SkillContext) -> Skill:
    """The skill that carries out one protocol action."""
    if isinstance(action, DriveAction):
        return DriveSkill(ctx, distance_cm=action.distance_cm, seconds=action.seconds)
    if isinstance(action, TurnAction):
        return TurnSkill(ctx, action.degrees)
    if isinstance(action, GotoAction):
        return GotoSkill(ctx, action.x_cm, action.y_cm)
    if isinstance(action, StopAction):
        return StopSkill(ctx)
    if isinstance(action, NamedSkillAction):
        return build_named(action.name, ctx)
    if isinstance(action, RemoteAction):
        return RemoteSkill(ctx)
    raise TypeError(
        f"build_skill needs a DriveAction, TurnAction, GotoAction, NamedSkillAction, StopAction or RemoteAction "
        f"(got {type(action).__name__})"
    )
