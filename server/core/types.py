"""The classroom's value types: kids, cars, runs, block replies, errors.

Kept apart from server.core.classroom so the service module stays a thin coordinator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ConfigDict

from curriculum.errors import Problem
from curriculum.gate import Refusal
from robot_runtime.protocol import ErrorInfo, FinalStatus

# What any front end may send, whatever the transport (the /kid socket, Scratch Link):
MAX_BLOCK_MESSAGE_BYTES = 4 * 1024  # a block call is ~100 bytes; anything bigger is not a block
MAX_PROGRAM_BYTES = 512 * 1024  # a large Scratch project's blocks JSON fits; assets never travel here


class ClassroomError(Problem, ValueError):
    """A request the classroom cannot do: names the rule, the value and the fix; its HTTP status."""

    def __init__(self, rule: str, message: str, value: Any = None, fix: str = "", status: int = 400) -> None:
        super().__init__(rule, message, value=value, fix=fix)
        self.status = status


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


# (kid, program, the lesson the run names or None) -> a Refusal when the run may not start
ProgramCheck = Callable[[Kid, Any, "str | None"], "Refusal | None | Awaitable[Refusal | None]"]


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


@dataclass(frozen=True)
class TrackedPose:
    """A car's pose as the overhead camera saw it (Classroom.on_tracked_pose), on the server's clock."""

    car_id: str
    x_cm: float
    y_cm: float
    heading_deg: float
    vx_cm_s: float = 0.0  # world frame
    vy_cm_s: float = 0.0
    uncertainty_cm: float = 0.0
    t: float = 0.0  # time.monotonic() on the server when the picture was taken
