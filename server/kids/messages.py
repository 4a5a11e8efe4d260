"""What browsers and the SDK send on ``/kid`` and what the server answers, as pydantic models.

Every incoming message is validated here before anything changes: unknown fields, wrong types,
oversized values and NaN are refused with an :class:`ErrorInfo` that names the rule, the value and
the fix. The limits are named so the API docs and tests can quote them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from robot_runtime.protocol import ErrorInfo

MAX_BLOCK_MESSAGE_BYTES = 4 * 1024  # a block call is ~100 bytes; anything bigger is not a block
MAX_PROGRAM_BYTES = 512 * 1024  # a large Scratch project's blocks JSON fits; assets never travel here
MAX_ARGS = 8  # no block has more than a few parameters
MAX_TEXT = 200

Ref = Annotated[str, Field(max_length=64)] | Annotated[int, Field(ge=-(2**53), le=2**53)]
ArgValue = (Annotated[float, Field(allow_inf_nan=True)] | Annotated[str, Field(max_length=64)] | bool | None)
RunId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Source = Literal["scratch", "blockly", "python", "teacher", "other"]


class Incoming(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlockCall(Incoming):
    """``block`` event: one block of a kid's program, e.g. {"block": "move_forward", "args": {"distance": 20}}."""

    block: Annotated[str, Field(min_length=1, max_length=40)]
    args: Annotated[dict[Annotated[str, Field(max_length=32)], ArgValue], Field(max_length=MAX_ARGS)] = {}
    ref: Ref | None = None  # the front end's own id for this call (Scratch block id), echoed back
    run_id: RunId | None = None
    source: Source = "other"


class RunStart(Incoming):
    source: Source = "other"
    program: Any = None
    lesson_id: Annotated[str, Field(max_length=64)] | None = None


class RunEnd(Incoming):
    run_id: RunId
    reason: Annotated[str, Field(max_length=MAX_TEXT)] = "finished"


class StopCall(Incoming):
    reason: Annotated[str, Field(max_length=MAX_TEXT)] = "stop"


def error_info_from_validation(exc: ValidationError, what: str) -> ErrorInfo:
    """First validation error as rule/value/fix, in words a person can act on."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err.get("loc", ()))
    value = err.get("input")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)[:80]
    if isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) > 80):
        value = str(value)[:80]
    rule = f"{what}.{field}:{err['type']}" if field else f"{what}:{err['type']}"
    where = f"{what}: {field}" if field else what
    return ErrorInfo(rule=rule, message=f"{where}: {err['msg']}", value=value, fix=_fix_for(err["type"], field or what))


def _fix_for(kind: str, field: str) -> str:
    if kind == "extra_forbidden":
        return f"remove the field {field!r}"
    if kind == "missing":
        return f"add the field {field!r}"
    if "too_long" in kind or "too_big" in kind or "less_than" in kind or "greater_than" in kind:
        return f"keep {field} within its limits"
    return f"send {field} with the right type"


def too_big(what: str, size: int, limit: int) -> ErrorInfo:
    return ErrorInfo(rule=f"{what}.size", message=f"{what} is {size} bytes; the limit is {limit}",
                     value=size, fix=f"send less than {limit} bytes")


def json_size(data: Any) -> int:
    try:
        return len(json.dumps(data, separators=(",", ":"), default=str))
    except (TypeError, ValueError):
        return 1 << 30


def refusal(info: ErrorInfo) -> Exception:
    """A socket.io connection refusal: the client's ``connect_error`` gets
    ``{"message": "<message> — <fix>", "data": {rule, message, value, fix}}``."""
    import socketio  # local: messages.py stays importable without the socket.io package

    text = f"{info.message} — {info.fix}" if info.fix else info.message
    return socketio.exceptions.ConnectionRefusedError(text, info.model_dump(mode="json"))
