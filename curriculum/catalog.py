"""The block table: every block a kid can use, one row each, with every front end's shape as data.

A row (:class:`Block`) is the single source for a block: its kind, its kid text, its parameters (ranges,
defaults, menus), the level where it opens, the skill request it becomes on the car, and how each front
end spells it — Scratch (opcodes; argument types follow the parameters), Blockly (type, colour, menu
labels) and the Python SDK (method forms). Nothing else spells the vocabulary by hand:

- the server fills the Scratch blocks into /scratch/extension.js (:mod:`curriculum.front_ends`),
- ``python -m curriculum.front_ends`` writes blockly_app/src/catalog.gen.js (a test keeps it fresh),
- /api/catalog?level=N gives every front end, and the SDK, the level's view of the rows,
- the gate, the program reader and the simulator read the rows here.

Adding a block is one row plus the skill it runs (docs/architecture.md, "Adding a block"). Skills are
a second, shorter table; learned skills join it through :meth:`Catalog.add_skill_source` and can never
take a built-in's name. Data and pure functions only, so tests and tools load it without a server.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Literal

from curriculum.errors import BlockError
from robot_runtime.protocol import Action, DriveAction, GotoAction, NamedSkillAction, StopAction, TurnAction
from robot_runtime.skills.registry import RESERVED_NAMES

log = logging.getLogger(__name__)

BlockKind = Literal["command", "reporter", "hat", "setting"]
ParamKind = Literal["number", "menu", "skill"]  # skill: a menu filled from the skill table, per level
SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # what robot_runtime.protocol.NamedSkillAction accepts


@dataclass(frozen=True)
class Param:
    name: str  # the block call's argument; Scratch and Blockly write it in capitals (DISTANCE)
    kind: ParamKind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""  # cm, degrees, %, s
    options: tuple[str, ...] = ()  # a menu's choices (a skill menu's come from the skill table)

    def check(self, value: Any, options: Iterable[str] = ()) -> Any:
        """The value converted, or BlockError naming the rule, the value and the fix."""
        if self.kind != "number":
            text, choices = str(value), tuple(options) or self.options
            if choices and text not in choices:
                raise BlockError(f"{self.name}_choice", f"{self.name} must be one of {', '.join(choices)} (got {value!r})",
                                 value=value, fix=f"pick one of: {', '.join(choices)}")
            return text
        try:  # numbers, and Scratch's numbers as text ("20"); never true/false (float(True) would be 1 cm)
            number = float("nan") if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            raise BlockError(f"{self.name}_number", f"{self.name} must be a number (got {value!r})", value=value,
                             fix=f"type a number like {self.default}")
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            unit = f" {self.unit}" if self.unit else ""
            raise BlockError(f"{self.name}_range", value=number,
                             message=f"{self.name} must be between {self.minimum:g} and {self.maximum:g}{unit} (got {number:g})",
                             fix=f"use a {self.name} from {self.minimum:g} to {self.maximum:g}")
        return number


# --- each front end's shape ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScratchShape:
    """A Scratch block of the row (opcode in extension ``mikrodojo``); arguments are the parameters in
    capitals. A row may need several: Scratch has one reporter per axis where Blockly has a menu."""

    opcode: str
    text: str = ""  # "" -> the kid text, with [distance] written [DISTANCE]
    fixed: dict[str, str] = field(default_factory=dict)  # parameters this Scratch block fixes


BLOCKLY_COLOURS = {
    "motion": "#4C97FF",  # Scratch's motion blue: kids who know Scratch find the car blocks at once
    "sensing": "#2CB5C9",
    "events": "#FFAB19",
    "skills": "#9966FF",
    "stop": "#E6453C",
}


@dataclass(frozen=True)
class BlocklyShape:
    """The Blockly block of the row: numbers are value inputs holding a math_number shadow (a hat's
    number is a field), menus are dropdowns, the skill menu is the app's own field. Input and field
    names are the parameters in capitals."""

    type: str
    colour: str = ""  # a BLOCKLY_COLOURS name; "" -> the colour of the row's kind
    labels: dict[str, str] = field(default_factory=dict)  # menu choice -> what the dropdown shows


SdkStyle = Literal["call", "set", "get", "decorator"]


@dataclass(frozen=True)
class SdkForm:
    """One way the Python SDK spells the row: ``car.forward(20)`` (call), ``car.speed = 40`` (set),
    ``car.x`` (get), ``@car.on_obstacle(20)`` (decorator). The Blockly Python export, the SDK and
    the program reader all use these."""

    name: str
    style: SdkStyle = "call"
    args: tuple[str, ...] = ()  # parameters, in the order the SDK takes them
    fixed: dict[str, str] = field(default_factory=dict)  # parameters this spelling fixes (turn_left)

    def spell(self, values: dict[str, str]) -> str:
        """The form written with argument texts: spell({"distance": "20"}) -> 'car.forward(20)'."""
        args = ", ".join(values[a] for a in self.args)
        return {"call": f"car.{self.name}({args})", "set": f"car.{self.name} = {args}", "get": f"car.{self.name}",
                "decorator": f"@car.{self.name}({args})"}[self.style]


# --- the rows -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Block:
    id: str  # canonical id used on the wire and by the gate: "move_forward"
    kind: BlockKind
    level: int  # the first level that may use it
    text: str  # kid text with [param] placeholders: "move forward [distance] cm"
    params: tuple[Param, ...] = ()
    # checked args + the kid's speed -> the car's action; None for reporters, hats and settings
    to_action: Callable[[dict[str, Any], float], Action] | None = field(default=None, compare=False)
    doc: str  # one kid sentence: the Blockly tooltip and /api/catalog's doc
    scratch: tuple[ScratchShape, ...]
    blockly: BlocklyShape
    sdk: tuple[SdkForm, ...]

    @property
    def scratch_opcode(self) -> str:
        return self.scratch[0].opcode

    @property
    def blockly_type(self) -> str:
        return self.blockly.type

    @property
    def python(self) -> str:
        """How the SDK spells it, with the defaults: 'car.forward(20)'."""
        form = self.sdk[0]
        return form.spell({p.name: _py_literal(p.default) for p in self.params})

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    @property
    def skill_param(self) -> Param | None:
        """The parameter naming a skill (its menu is the skill table), if the block has one."""
        return next((p for p in self.params if p.kind == "skill"), None)


def _py_literal(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Skill:
    """A trick the car knows: the menu of ``do skill``. Learned skills come from a skill source."""

    name: str
    level: int  # the first level that may use it
    learned: bool = False  # a trick a kid taught the car, promoted to a skill (never a built-in)

    @property
    def text(self) -> str:
        return self.name.replace("_", " ")


_DISTANCE = Param("distance", "number", 20, 0, 500, "cm")
_DEGREES = Param("degrees", "number", 90, 0, 1080, "degrees")
_SPEED = Param("speed", "number", 50, 1, 100, "%")

BLOCKS: tuple[Block, ...] = (
    Block(id="move_forward", kind="command", level=1, text="move forward [distance] cm", params=(_DISTANCE,),
          to_action=lambda a, speed: DriveAction(distance_cm=a["distance"], speed_pct=speed),
          doc="Drive straight ahead.",
          scratch=(ScratchShape("moveForward"),), blockly=BlocklyShape("dojo_move_forward"),
          sdk=(SdkForm("forward", args=("distance",)),)),
    Block(id="move_backward", kind="command", level=1, text="move backward [distance] cm", params=(_DISTANCE,),
          to_action=lambda a, speed: DriveAction(distance_cm=-a["distance"], speed_pct=speed),
          doc="Drive straight back.",
          scratch=(ScratchShape("moveBackward"),), blockly=BlocklyShape("dojo_move_backward"),
          sdk=(SdkForm("backward", args=("distance",)),)),
    Block(id="turn", kind="command", level=1, text="turn [direction] [degrees] degrees",
          params=(Param("direction", "menu", "left", options=("left", "right")), _DEGREES),
          to_action=lambda a, speed: TurnAction(degrees=a["degrees"] if a["direction"] == "left" else -a["degrees"],
                                                speed_pct=speed),
          doc="Turn on the spot. Left turns counter-clockwise.",
          scratch=(ScratchShape("turn"),), blockly=BlocklyShape("dojo_turn", labels={"left": "left ↺", "right": "right ↻"}),
          sdk=(SdkForm("turn_left", args=("degrees",), fixed={"direction": "left"}),
               SdkForm("turn_right", args=("degrees",), fixed={"direction": "right"}))),
    Block(id="drive_for", kind="command", level=2, text="drive at [speed]% for [seconds] seconds",
          params=(_SPEED, Param("seconds", "number", 2, 0.1, 30, "s")),
          to_action=lambda a, speed: DriveAction(seconds=a["seconds"], speed_pct=a["speed"]),
          doc="Drive straight at a speed for a time.",
          scratch=(ScratchShape("driveFor"),), blockly=BlocklyShape("dojo_drive_for"),
          sdk=(SdkForm("drive", args=("speed", "seconds")),)),
    Block(id="set_speed", kind="setting", level=2, text="set speed to [speed]%",
          params=(Param("speed", "number", 40, 1, 100, "%"),),
          doc="Sets the speed that later moves use.",
          scratch=(ScratchShape("setSpeed"),), blockly=BlocklyShape("dojo_set_speed"),
          sdk=(SdkForm("speed", "set", args=("speed",)),)),
    Block(id="go_to", kind="command", level=3, text="go to x [x] y [y]",
          params=(Param("x", "number", 100, 0, 5000, "cm"), Param("y", "number", 50, 0, 5000, "cm")),
          to_action=lambda a, speed: GotoAction(x_cm=a["x"], y_cm=a["y"], speed_pct=speed),
          doc="Drive to a point in the arena (centimetres from the lower-left corner).",
          scratch=(ScratchShape("goTo"),), blockly=BlocklyShape("dojo_go_to"),
          sdk=(SdkForm("go_to", args=("x", "y")),)),
    Block(id="do_skill", kind="command", level=3, text="do skill [skill]", params=(Param("skill", "skill", "slalom"),),
          to_action=lambda a, speed: NamedSkillAction(name=a["skill"], speed_pct=speed),
          doc="Run a trick the car knows.",
          scratch=(ScratchShape("doSkill"),), blockly=BlocklyShape("dojo_do_skill", colour="skills"),
          sdk=(SdkForm("do", args=("skill",)),)),
    Block(id="stop", kind="command", level=1, text="stop", to_action=lambda a, speed: StopAction(),
          doc="Stop at once. Never waits, never refused.",
          scratch=(ScratchShape("stop"),), blockly=BlocklyShape("dojo_stop", colour="stop"),
          sdk=(SdkForm("stop"),)),
    Block(id="distance", kind="reporter", level=2, text="distance ahead (cm)",
          doc="What the distance sensor sees ahead, in cm (a huge number when nothing is in range).",
          scratch=(ScratchShape("distance"),), blockly=BlocklyShape("dojo_distance"),
          sdk=(SdkForm("distance"),)),
    Block(id="position", kind="reporter", level=2, text="[axis]",
          params=(Param("axis", "menu", "x", options=("x", "y", "heading")),),
          doc="Where the car is: x and y in cm, heading in degrees (0 points right, left turns add).",
          scratch=(ScratchShape("positionX", "car x", {"axis": "x"}), ScratchShape("positionY", "car y", {"axis": "y"}),
                   ScratchShape("heading", "car heading", {"axis": "heading"})),
          blockly=BlocklyShape("dojo_position", labels={"x": "x position", "y": "y position", "heading": "heading"}),
          sdk=tuple(SdkForm(axis, "get", fixed={"axis": axis}) for axis in ("x", "y", "heading"))),
    Block(id="when_obstacle", kind="hat", level=2, text="when obstacle closer than [distance] cm",
          params=(Param("distance", "number", 20, 1, 200, "cm"),),
          doc="Runs the blocks inside when something comes closer than the distance.",
          scratch=(ScratchShape("whenObstacle"),), blockly=BlocklyShape("dojo_when_obstacle"),
          sdk=(SdkForm("on_obstacle", "decorator", args=("distance",)),)),
)

SKILLS: tuple[Skill, ...] = (
    Skill("slalom", 3), Skill("figure_eight", 3), Skill("parallel_park", 4), Skill("donut", 4), Skill("drift", 4),
)

# Blockly's own blocks every level has (the app's toolbox: loops, logic, math, variables, functions).
# The gate refuses any other Blockly type in a program; catalog.gen.js hands the list to the toolbox.
BLOCKLY_STANDARD_TYPES = frozenset({
    "controls_repeat_ext", "controls_whileUntil", "controls_for", "controls_flow_statements", "controls_if",
    "logic_compare", "logic_operation", "logic_negate", "logic_boolean",
    "math_number", "math_arithmetic", "math_random_int", "math_modulo", "math_round", "math_change",
    "variables_get", "variables_set",
    "procedures_defnoreturn", "procedures_defreturn", "procedures_callnoreturn", "procedures_callreturn",
    "procedures_ifreturn",
})

SkillSource = Callable[[], Iterable[Skill]]


@dataclass(frozen=True)
class Translation:
    """A block call turned into what the car does: the row, the checked arguments (defaults filled in)
    and the action (None for settings, reporters and hats, which the classroom answers itself)."""

    block: Block
    args: dict[str, Any]
    action: Action | None


class Catalog:
    """The rows with their lookups, and the skill table with its sources of learned skills."""

    def __init__(self, blocks: Iterable[Block], skills: Iterable[Skill]) -> None:
        self.blocks = tuple(blocks)
        self.by_id = {b.id: b for b in self.blocks}
        self.by_blockly_type = {b.blockly_type: b.id for b in self.blocks}
        self.by_scratch_opcode = {s.opcode: b.id for b in self.blocks for s in b.scratch}
        self.builtin_skills = tuple(skills)
        self._skill_sources: list[SkillSource] = []
        if len(self.by_id) != len(self.blocks) or len(self.by_blockly_type) != len(self.blocks):
            raise ValueError("two catalog rows share an id or a Blockly type: give the new row its own")

    def block(self, block_id: str) -> Block:
        try:
            return self.by_id[block_id]
        except KeyError:
            raise BlockError("unknown_block", f"there is no block called {block_id!r}", value=block_id,
                             fix=f"use one of: {', '.join(self.by_id)}") from None

    # --- skills -----------------------------------------------------------------------------------

    def add_skill_source(self, source: SkillSource) -> None:
        """Learned skills join the menu through a source, asked each time the skills are listed."""
        self._skill_sources.append(source)

    def remove_skill_source(self, source: SkillSource) -> None:
        """A server that stops takes its learned skills with it (several apps may share one process)."""
        if source in self._skill_sources:
            self._skill_sources.remove(source)

    def skills(self) -> tuple[Skill, ...]:
        """The built-in skills, then every source's learned ones. A learned skill is always marked
        learned and never takes a built-in's (or a block's) name, so it cannot borrow its permissions."""
        taken = {s.name for s in self.builtin_skills} | set(self.by_id) | RESERVED_NAMES  # the car refuses those too
        learned: list[Skill] = []
        for source in self._skill_sources:
            try:
                offered = list(source())
            except Exception:  # a broken source must not take the built-in vocabulary down
                log.exception("skill source failed; its skills are left out")
                continue
            for skill in offered:
                if skill.name in taken or not SKILL_NAME.match(skill.name):
                    log.warning("learned skill %r left out: its name is taken or not a skill name", skill.name)
                    continue
                taken.add(skill.name)
                learned.append(replace(skill, learned=True))
        return self.builtin_skills + tuple(learned)

    def skill(self, name: str) -> Skill | None:
        return next((s for s in self.skills() if s.name == name), None)

    # --- block calls ------------------------------------------------------------------------------

    def check_args(self, block: Block, args: Any) -> dict[str, Any]:
        """Fill defaults and check every argument against its range or menu."""
        if not isinstance(args, dict):
            raise BlockError("args_object", "block arguments must be an object", value=args,
                             fix='send arguments like {"distance": 20}')
        unknown = set(args) - {p.name for p in block.params}
        if unknown:
            raise BlockError("unknown_argument", f"{block.id} has no argument {', '.join(sorted(unknown))}",
                             value=sorted(unknown), fix=f"{block.id} takes: {', '.join(p.name for p in block.params) or 'nothing'}")
        skills = [s.name for s in self.skills()] if any(p.kind == "skill" for p in block.params) else []
        return {p.name: p.check(args.get(p.name, p.default), skills if p.kind == "skill" else ()) for p in block.params}

    def translate(self, block_id: str, args: Any, speed_pct: float) -> Translation:
        """The one translation step: block call -> checked arguments and the car's action.
        Raises BlockError for unknown blocks and bad arguments."""
        block = self.block(block_id)
        checked = self.check_args(block, args)
        action = block.to_action(checked, speed_pct) if block.to_action else None
        return Translation(block, checked, action)


CATALOG = Catalog(BLOCKS, SKILLS)
BLOCKS_BY_ID = CATALOG.by_id
BLOCKLY_TYPES = CATALOG.by_blockly_type  # Blockly type -> block id
SCRATCH_OPCODES = CATALOG.by_scratch_opcode  # Scratch opcode -> block id
SKILL_NAMES = tuple(s.name for s in SKILLS)  # the built-in skills
translate = CATALOG.translate
