"""Errors on the wire, one helper per idea: what every socket and endpoint answers when something is wrong.

A :class:`~curriculum.errors.Problem` (or a pydantic validation error) becomes the wire's ErrorInfo
(rule, message, value, fix): in a socket's error reply (with a kid sentence and the teacher's detail),
in a socket.io connection refusal, or in an HTTP error body (server.web.http.json_error).
"""

from __future__ import annotations

import json
from typing import Any

import socketio
from pydantic import ValidationError

from curriculum.errors import Problem
from robot_runtime.protocol import ErrorInfo

SOCKET_KID_TEXT = "Something went wrong sending that."  # what a kid reads when a message could not be used


def info_of(problem: Problem) -> ErrorInfo:
    return ErrorInfo(**problem.as_dict())


def error_reply(info: ErrorInfo) -> dict[str, Any]:
    """A socket's answer to a message it could not use: status error, the rule/value/fix, a kid sentence."""
    return {"status": "error", "error": info.model_dump(mode="json"), "kid_text": SOCKET_KID_TEXT,
            "detail": f"{info.rule}: {info.message}; fix: {info.fix}"}


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


JSON_DEPTH_FIX = "send flatter JSON: objects and lists nested a few levels deep, not hundreds"


def too_deep(what: str) -> ErrorInfo:
    """JSON nested deeper than Python's parser goes (about 1,000 levels): refused by name, never a traceback."""
    return ErrorInfo(rule=f"{what}.json_depth" if what else "json_depth",
                     message=f"{what or 'the message'} is nested too deeply to read", fix=JSON_DEPTH_FIX)


def json_size(data: Any) -> int:
    """Bytes as compact JSON; 1 << 30 (over every limit) when it cannot be encoded at all.
    Raises RecursionError for data nested too deeply to encode (answer with :func:`too_deep`)."""
    try:
        return len(json.dumps(data, separators=(",", ":"), default=str))
    except (TypeError, ValueError):
        return 1 << 30


def refusal(info: ErrorInfo) -> Exception:
    """A socket.io connection refusal: the client's ``connect_error`` gets
    ``{"message": "<message> — <fix>", "data": {rule, message, value, fix}}``."""
    text = f"{info.message} — {info.fix}" if info.fix else info.message
    return socketio.exceptions.ConnectionRefusedError(text, info.model_dump(mode="json"))
