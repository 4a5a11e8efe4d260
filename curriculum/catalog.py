"""The block vocabulary: one table for Scratch, Blockly and the Python SDK.

Every front end sends a *block call* (block id + arguments); :func:`translate` turns it into the
skill request the car runs. Adding a block means one entry here plus its front-end shapes. This
module is data and pure functions only (no server imports), so tests and tools can load it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from robot_runtime.protocol import (
    Action,
    DriveAction,
    GotoAction,
    NamedSkillAction,
    StopAction,
    TurnAction,
)

BlockKind = Literal["command", "reporter", "hat", "setting"]


@dataclass(frozen=True)
class Param:
    name: str
    kind: Literal["number", "menu"]
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""  # cm, degrees, %, s
    options: tuple[str, ...] = ()  # for menus; skills' menu is filled per level

    def check(self, value: Any) -> Any:
        """Return the value converted, or raise BlockError naming the rule, the value and the fix."""
        if self.kind == "menu":
            text = str(value)
            if self.options and text not in self.options:
                raise BlockError(
                    rule=f"{self.name}_choice",
                    value=value,
                    message=f"{self.name} must be one of {', '.join(self.options)} (got {value!r})",
                    fix=f"pick one of: {', '.join(self.options)}",
                )
            return text
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BlockError(
                rule=f"{self.name}_number",
                value=value,
                message=f"{self.name} must be a number (got {value!r})",
                fix=f"type a number like {self.default}",
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise BlockError(rule=f"{self.name}_number", value=value,
                             message=f"{self.name} must be a number (got {value!r})", fix=f"type a number like {self.default}")
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            raise BlockError(
                rule=f"{self.name}_range",
                value=number,
                message=f"{self.name} must be between {self.minimum:g} and {self.maximum:g} {self.unit} (got {number:g})".replace("  ", " "),
                fix=f"use a {self.name} from {self.minimum:g} to {self.maximum:g}",
            )
        return number


class BlockError(ValueError):
    """A block call that cannot be translated: names the rule, the value and the fix."""

    def __init__(self, rule: str, value: Any, message: str, fix: str) -> None:
        super().__init__(message)
        self.rule, self.value, self.message, self.fix = rule, value, message, fix

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "value": self.value, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class Block:
    id: str  # canonical id used on the wire and by the gate: "move_forward"
    kind: BlockKind
    text: str  # kid text with [param] placeholders: "move forward [distance] cm"
    scratch_opcode: str
    blockly_type: str
    python: str  # how the SDK spells it
    params: tuple[Param, ...] = ()
    # args (already checked) + current speed -> the car's action; None for reporters/hats/settings
    to_action: Callable[[dict[str, Any], float], Action] | None = field(default=None, compare=False)
    doc: str = ""


SKILL_NAMES = ("slalom", "figure_eight", "parallel_park", "donut", "drift")

_DISTANCE = Param("distance", "number", 20, 0, 500, "cm")
_DEGREES = Param("degrees", "number", 90, 0, 1080, "degrees")
_SPEED = Param("speed", "number", 50, 1, 100, "%")

BLOCKS: tuple[Block, ...] = (
    Block("move_forward", "command", "move forward [distance] cm", "moveForward", "dojo_move_forward",
          "car.forward(20)", (_DISTANCE,),
          lambda a, speed: DriveAction(distance_cm=a["distance"], speed_pct=speed),
          "Drive straight ahead."),
    Block("move_backward", "command", "move backward [distance] cm", "moveBackward", "dojo_move_backward",
          "car.backward(20)", (_DISTANCE,),
          lambda a, speed: DriveAction(distance_cm=-a["distance"], speed_pct=speed),
          "Drive straight back."),
    Block("turn", "command", "turn [direction] [degrees] degrees", "turn", "dojo_turn",
          "car.turn_left(90)", (Param("direction", "menu", "left", options=("left", "right")), _DEGREES),
          lambda a, speed: TurnAction(degrees=a["degrees"] if a["direction"] == "left" else -a["degrees"], speed_pct=speed),
          "Turn on the spot's nearest arc; left is counter-clockwise."),
    Block("drive_for", "command", "drive at [speed]% for [seconds] seconds", "driveFor", "dojo_drive_for",
          "car.drive(50, 2)", (_SPEED, Param("seconds", "number", 2, 0.1, 30, "s")),
          lambda a, speed: DriveAction(seconds=a["seconds"], speed_pct=a["speed"]),
          "Drive straight at a speed for a time."),
    Block("set_speed", "setting", "set speed to [speed]%", "setSpeed", "dojo_set_speed",
          "car.speed = 40", (Param("speed", "number", 40, 1, 100, "%"),), None,
          "Sets the speed that later moves use."),
    Block("go_to", "command", "go to x [x] y [y]", "goTo", "dojo_go_to", "car.go_to(100, 50)",
          (Param("x", "number", 100, 0, 5000, "cm"), Param("y", "number", 50, 0, 5000, "cm")),
          lambda a, speed: GotoAction(x_cm=a["x"], y_cm=a["y"], speed_pct=speed),
          "Drive to a point in the arena."),
    Block("do_skill", "command", "do skill [skill]", "doSkill", "dojo_do_skill", 'car.do("slalom")',
          (Param("skill", "menu", "slalom", options=SKILL_NAMES),),
          lambda a, speed: NamedSkillAction(name=a["skill"], speed_pct=speed),
          "Run a trick the car knows."),
    Block("stop", "command", "stop", "stop", "dojo_stop", "car.stop()", (),
          lambda a, speed: StopAction(), "Stop at once. Never waits, never refused."),
    Block("distance", "reporter", "distance ahead (cm)", "distance", "dojo_distance", "car.distance()", (),
          None, "What the distance sensor sees ahead."),
    Block("position", "reporter", "[axis]", "positionX", "dojo_position", "car.x",
          (Param("axis", "menu", "x", options=("x", "y", "heading")),), None,
          "Where the car is: x, y (cm) or heading (degrees). Scratch has one reporter per axis."),
    Block("when_obstacle", "hat", "when obstacle closer than [distance] cm", "whenObstacle", "dojo_when_obstacle",
          "@car.on_obstacle(20)", (Param("distance", "number", 20, 1, 200, "cm"),), None,
          "Runs when something comes closer than the distance."),
)

BLOCKS_BY_ID: dict[str, Block] = {b.id: b for b in BLOCKS}
SCRATCH_OPCODES: dict[str, str] = {b.scratch_opcode: b.id for b in BLOCKS} | {"positionY": "position", "heading": "position"}
BLOCKLY_TYPES: dict[str, str] = {b.blockly_type: b.id for b in BLOCKS}


def block(block_id: str) -> Block:
    try:
        return BLOCKS_BY_ID[block_id]
    except KeyError:
        raise BlockError(rule="unknown_block", value=block_id,
                         message=f"there is no block called {block_id!r}",
                         fix=f"use one of: {', '.join(BLOCKS_BY_ID)}") from None


def check_args(b: Block, args: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults and check every argument against its range."""
    if not isinstance(args, dict):
        raise BlockError(rule="args_object", value=args, message="block arguments must be an object",
                         fix='send arguments like {"distance": 20}')
    unknown = set(args) - {p.name for p in b.params}
    if unknown:
        raise BlockError(rule="unknown_argument", value=sorted(unknown),
                         message=f"{b.id} has no argument {', '.join(sorted(unknown))}",
                         fix=f"{b.id} takes: {', '.join(p.name for p in b.params) or 'nothing'}")
    return {p.name: p.check(args.get(p.name, p.default)) for p in b.params}


def translate(block_id: str, args: dict[str, Any], speed_pct: float) -> Action:
    """Block call -> the car's action. Raises BlockError for unknown blocks and bad arguments."""
    b = block(block_id)
    if b.to_action is None:
        raise BlockError(rule="not_a_command", value=block_id,
                         message=f"{block_id} is a {b.kind} block, not something the car does",
                         fix="send only command blocks to the car")
    return b.to_action(check_args(b, args), speed_pct)
