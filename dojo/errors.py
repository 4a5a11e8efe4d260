"""What can go wrong in a kid's program, as exceptions that carry two texts.

``str(error)`` is the kid text: short, friendly, concrete ("Level 1 cars go up to 30% — try 30!").
``error.detail`` is for the teacher: the rule, the value, the limit. Like gpiozero's exceptions, ours
subclass the matching builtin where one exists, so ``except ConnectionError`` catches a lost classroom.
"""

from __future__ import annotations

import builtins
from typing import Any


class DojoError(Exception):
    """Base of every MIKRO-DOJO error: ``str()`` is the kid text, ``.detail`` the teacher detail."""

    def __init__(self, kid_text: str, detail: str = "", *, status: str = "", reply: dict[str, Any] | None = None) -> None:
        super().__init__(kid_text)
        self.kid_text = kid_text
        self.detail = detail
        self.status = status  # the server's final status: refused, failed, cancelled, timed_out, or ""
        self.reply = reply or {}  # the whole BlockReply, for tools that want request_id, block, ref

    def __str__(self) -> str:
        return self.kid_text


class Refused(DojoError):
    """The classroom said no: the block is locked at this level, the value is over the level's limit,
    the class code is wrong... ``str()`` says what to try instead."""


class CarError(DojoError):
    """The car could not finish: it bumped into something, safety stopped it, or it ran out of time."""


class Stopped(DojoError):
    """The move was stopped before it finished: ``car.stop()``, the teacher's stop, or Ctrl-C."""


class ConnectionError(DojoError, builtins.ConnectionError):
    """The classroom server cannot be reached, or the connection was lost."""


class ArgumentError(DojoError, ValueError):
    """A bad argument, caught before anything is sent: names the rule, the value and the fix."""

    def __init__(self, rule: str, value: Any, message: str, fix: str) -> None:
        super().__init__(f"{message} — {fix}" if fix else message, detail=f"rule {rule}: value {value!r}")
        self.rule, self.value, self.fix = rule, value, fix
