"""One family for every "no": what a kid reads, what a teacher (or a tool) needs to fix it.

Each error carries the rule it broke, the value, a message and a fix (the teacher's detail, and the
wire's ``ErrorInfo``), plus one short sentence for the kid. Subclasses say where it came from; the
server adds its own (a classroom request, a login) on the same base.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A refusal or an error, told twice: rule, message, value, fix, and a kid sentence.

    (The SDK's own errors are dojo.errors: a kid's script imports those without the server installed.)"""

    kid_text_default = "Something went wrong — try again."

    def __init__(self, rule: str, message: str, *, value: Any = None, fix: str = "", kid_text: str = "") -> None:
        super().__init__(message)
        self.rule, self.message, self.value, self.fix = rule, message, value, fix
        self.kid_text = kid_text or self.kid_text_default

    @property
    def detail(self) -> str:
        """For the teacher: the rule, what was wrong and how to fix it."""
        return f"{self.rule}: {self.message}" + (f"; fix: {self.fix}" if self.fix else "")

    def as_dict(self) -> dict[str, Any]:
        """The wire's ErrorInfo fields: rule, message, value, fix."""
        return {"rule": self.rule, "message": self.message, "value": self.value, "fix": self.fix}


class BlockError(Problem, ValueError):
    """A block call the catalog cannot translate (unknown block, bad argument)."""

    def __init__(self, rule: str, message: str, *, value: Any = None, fix: str = "") -> None:
        super().__init__(rule, message, value=value, fix=fix, kid_text=_block_kid_text(rule, fix))


def _block_kid_text(rule: str, fix: str) -> str:
    if rule == "unknown_block":
        return "I don't know that block."
    if rule.endswith(("_range", "_choice")):
        return fix[:1].upper() + fix[1:] + "!"
    if rule.endswith("_number"):
        return "That needs a number — " + fix + "."
    return "Something in that block looks wrong."
