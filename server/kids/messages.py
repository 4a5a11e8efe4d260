"""What browsers and the SDK send on ``/kid``, as pydantic models (the answer is the core's BlockReply).

Every incoming message is validated here before anything changes: unknown fields, wrong types,
oversized values and NaN are refused with an ErrorInfo that names the rule, the value and the fix
(server.web.errors). The limits are named so the API docs and tests can quote them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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

