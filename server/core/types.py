"""The classroom's value types: kids, cars, runs, block replies, errors, and the car channel protocol.

Kept apart from server.core.classroom so the service module stays a thin coordinator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

from pydantic import BaseModel, ConfigDict

from curriculum.gate import Refusal
from robot_runtime.protocol import ArenaSetup, ErrorInfo, FinalStatus, SessionLimits


class ClassroomError(ValueError):
    """A request the classroom cannot do: names the rule, the value and the fix."""

    def __init__(self, rule: str, message: str, value: Any = None, fix: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.rule, self.message, self.value, self.fix, self.status = rule, message, value, fix, status

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "message": self.message, "value": self.value, "fix": self.fix}


@dataclass(frozen=True)
class Kid:
    kid_id: str
    name: str
    class_code: str
    level: int


@dataclass(frozen=True)
class CarInfo:
    car_id: str
    kind: str
    connected: bool
    kid_ids: tuple[str, ...]
    estopped: bool = False
    shared: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"car_id": self.car_id, "kind": self.kind, "connected": self.connected,
                "kid_ids": list(self.kid_ids), "estopped": self.estopped, "shared": self.shared}


@dataclass
class Run:
    run_id: str
    kid_id: str
    source: str
    lesson_id: str | None
    car_id: str | None
    started_at: float
    program: Any = None
    ended_at: float | None = None
    end_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kid_id": self.kid_id, "source": self.source, "lesson_id": self.lesson_id,
                "car_id": self.car_id, "started_at": self.started_at, "ended_at": self.ended_at,
                "end_reason": self.end_reason}


class CarChannel(Protocol):
    """What the /car hub offers besides the dispatcher's CarLink: limits, arena, estop reset."""

    async def send_limits(self, car_id: str, limits: SessionLimits) -> None: ...
    async def send_arena(self, car_id: str, setup: ArenaSetup) -> None: ...
    async def send_reset_estop(self, car_id: str, reason: str) -> None: ...


ProgramCheck = Callable[[Kid, Any], "Refusal | None | Awaitable[Refusal | None]"]


ReplyStatus = FinalStatus


class BlockReply(BaseModel):
    """The one final answer to a block call."""

    model_config = ConfigDict(extra="forbid")

    status: ReplyStatus
    kid_text: str = ""
    detail: str = ""
    request_id: str = ""
    block: str = ""
    ref: str | int | None = None
    value: float | None = None  # reporters (distance, x, y, heading)
    rule: str = ""  # the rule that refused or failed it, for the teacher and tests
    error: ErrorInfo | None = None  # a malformed message: rule, value, fix

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
