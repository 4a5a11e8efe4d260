"""A small, honest interpreter for Blockly JSON programs (for headless simulation of attempts).

It runs what the Blockly app's JavaScript generator runs, block by block, against a :class:`BlockPort`
(commands wait until the car is done, like in the editor): our ``dojo_*`` blocks, ``controls_repeat_ext``
/ ``controls_repeat``, ``controls_whileUntil``, ``controls_if`` (with else-if / else), ``logic_compare``,
``logic_operation``, ``logic_negate``, ``logic_boolean``, ``math_number``, ``math_arithmetic``,
``variables_set`` / ``variables_get`` / ``math_change``. Top-level stacks run in the order they are
saved; ``when obstacle`` hats are event handlers the simulator does not fire (not supported here).
Anything else raises :class:`UnsupportedBlock`, so a test never passes by skipping a block silently.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Protocol

from curriculum.catalog import BLOCKLY_TYPES, BLOCKS_BY_ID, Block
from curriculum.program import blockly_chain, blockly_disabled, blockly_field, blockly_input, blockly_top_blocks

MAX_STEPS = 5_000  # blocks executed per run; a kid's `repeat while true` must end somewhere
MAX_REPEAT = 1_000


class UnsupportedBlock(ValueError):
    pass


class ProgramStopped(Exception):
    """The port ended the run (time limit, stop, a refused or failed block)."""


class BlockPort(Protocol):
    def run_block(self, block_id: str, args: dict[str, Any]) -> None:
        """Run one command block until the car has finished it (raise ProgramStopped to end the run)."""

    def read(self, block_id: str, args: dict[str, Any]) -> float:
        """A reporter's value (distance, position)."""


_COMPARE = {"EQ": operator.eq, "NEQ": operator.ne, "LT": operator.lt, "LTE": operator.le, "GT": operator.gt,
            "GTE": operator.ge}
_ARITH = {"ADD": operator.add, "MINUS": operator.sub, "MULTIPLY": operator.mul,
          "DIVIDE": lambda a, b: a / b if b else math.inf, "POWER": operator.pow}


class BlocklyInterpreter:
    def __init__(self, program: dict[str, Any], port: BlockPort, max_steps: int = MAX_STEPS) -> None:
        self.program = program
        self.port = port
        self.max_steps = max_steps
        self.steps = 0
        self.variables: dict[str, Any] = {}

    def run(self) -> None:
        for top in blockly_top_blocks(self.program):
            if getattr(_row(top), "kind", None) == "hat":
                continue
            if "output" in top or top.get("type") in ("math_number", "logic_compare"):
                continue  # a loose value block does nothing when run
            self.run_stack(top)

    def run_stack(self, first: dict[str, Any] | None) -> None:
        for block in blockly_chain(first):
            if blockly_disabled(block):
                continue  # switched off: Blockly writes no code for it; the blocks under it still run
            self.steps += 1
            if self.steps > self.max_steps:
                raise ProgramStopped(f"the program ran more than {self.max_steps} blocks")
            self.statement(block)

    # --- statements ---------------------------------------------------------------------------

    def statement(self, b: dict[str, Any]) -> None:
        kind = b.get("type", "")
        if kind in BLOCKLY_TYPES:
            block_id = BLOCKLY_TYPES[kind]
            self.port.run_block(block_id, self.args(b))
        elif kind in ("controls_repeat_ext", "controls_repeat"):
            times = self.value(blockly_input(b, "TIMES")) if kind == "controls_repeat_ext" else blockly_field(b, "TIMES")
            for _ in range(min(MAX_REPEAT, max(0, int(round(float(times or 0)))))):
                self.run_stack(blockly_input(b, "DO"))
        elif kind == "controls_whileUntil":
            until = str(blockly_field(b, "MODE")) == "UNTIL"
            for _ in range(MAX_REPEAT):
                cond = bool(self.value(blockly_input(b, "BOOL")))
                if cond == until:
                    break
                self.run_stack(blockly_input(b, "DO"))
        elif kind in ("controls_if", "controls_ifelse"):
            n = int((b.get("extraState") or {}).get("elseIfCount", 0))
            for i in range(n + 1):
                if self.value(blockly_input(b, f"IF{i}")):
                    self.run_stack(blockly_input(b, f"DO{i}"))
                    return
            if blockly_input(b, "ELSE"):
                self.run_stack(blockly_input(b, "ELSE"))
        elif kind == "variables_set":
            self.variables[self._var(b)] = self.value(blockly_input(b, "VALUE"))
        elif kind == "math_change":
            name = self._var(b)
            self.variables[name] = float(self.variables.get(name) or 0) + float(self.value(blockly_input(b, "DELTA")) or 0)
        else:
            raise UnsupportedBlock(f"the simulator cannot run block type {kind!r} yet")

    def args(self, b: dict[str, Any]) -> dict[str, Any]:
        """The block call's arguments: numbers from value inputs, menus from fields (names in capitals)."""
        out: dict[str, Any] = {}
        for p in _row(b).params:
            if p.kind == "number" and blockly_input(b, p.name) is not None:
                out[p.name] = self.value(blockly_input(b, p.name))
            elif p.kind != "number" and blockly_field(b, p.name) is not None:
                out[p.name] = blockly_field(b, p.name)
        return out

    # --- values -------------------------------------------------------------------------------

    def value(self, b: dict[str, Any] | None) -> Any:
        if b is None:
            return 0.0
        kind = b.get("type", "")
        if kind == "math_number":
            return float(blockly_field(b, "NUM") or 0)
        if kind == "logic_boolean":
            return str(blockly_field(b, "BOOL")).upper() == "TRUE"
        if kind == "logic_compare":
            return _COMPARE[str(blockly_field(b, "OP"))](self.value(blockly_input(b, "A")), self.value(blockly_input(b, "B")))
        if kind == "logic_operation":
            a = bool(self.value(blockly_input(b, "A")))
            both = bool(self.value(blockly_input(b, "B")))
            return (a and both) if str(blockly_field(b, "OP")) == "AND" else (a or both)
        if kind == "logic_negate":
            return not self.value(blockly_input(b, "BOOL"))
        if kind == "math_arithmetic":
            return _ARITH[str(blockly_field(b, "OP"))](float(self.value(blockly_input(b, "A"))),
                                                       float(self.value(blockly_input(b, "B"))))
        if kind == "variables_get":
            return self.variables.get(self._var(b), 0.0)
        if getattr(_row(b), "kind", None) == "reporter":
            return self.port.read(BLOCKLY_TYPES[kind], self.args(b))
        raise UnsupportedBlock(f"the simulator cannot compute value block {kind!r} yet")

    def _var(self, b: dict[str, Any]) -> str:
        v = blockly_field(b, "VAR")
        return str(v.get("id") or v.get("name")) if isinstance(v, dict) else str(v)


def _row(b: dict[str, Any]) -> Block | None:
    """The catalog row of one of our blocks (None for Blockly's own)."""
    block_id = BLOCKLY_TYPES.get(str(b.get("type", "")))
    return BLOCKS_BY_ID[block_id] if block_id else None
