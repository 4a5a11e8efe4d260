"""Small helpers for the JSON HTTP API: errors that name rule/value/fix, validated bodies.

A JSON body must say so: ``Content-Type: application/json`` (415 otherwise). A browser sends that type
cross-site only after a CORS preflight this server does not grant, so a foreign web page cannot make
"simple" form or text/plain POSTs (joins, logins, pairings) in a visitor's name. An empty body needs
no type (there is nothing in it to smuggle). JSON nested too deeply to read is 400 ``json_depth``.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from curriculum.errors import Problem
from server.web.errors import JSON_DEPTH_FIX, error_info_from_validation

M = TypeVar("M", bound=BaseModel)


def json_error(status: int, rule: str, message: str, value: Any = None, fix: str = "") -> web.HTTPException:
    """An HTTP error whose JSON body is {"error": {rule, message, value, fix}}."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)[:80]
    body = json.dumps({"error": {"rule": rule, "message": message, "value": value, "fix": fix}})
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
           409: web.HTTPConflict, 413: web.HTTPRequestEntityTooLarge, 415: web.HTTPUnsupportedMediaType,
           429: web.HTTPTooManyRequests,
           503: web.HTTPServiceUnavailable}.get(status, web.HTTPBadRequest)
    if cls is web.HTTPRequestEntityTooLarge:
        return cls(max_size=0, actual_size=0, text=body, content_type="application/json")
    return cls(text=body, content_type="application/json")


def http_error(problem: Problem, status: int = 400) -> web.HTTPException:
    """A Problem as an HTTP error (its own status if it carries one, like ClassroomError)."""
    return json_error(getattr(problem, "status", status), problem.rule, problem.message, problem.value, problem.fix)


async def read_json(request: web.Request, model: type[M]) -> M:
    """The request body as a validated model, or a 400 naming the rule, the value and the fix."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise json_error(413, "body_size", "the request body is too big", None, "send less than 1 MB") from None
    if raw and request.content_type != "application/json":
        raise json_error(415, "content_type", f"the request body must be JSON sent as Content-Type: application/json "
                                              f"(got {request.content_type!r})", request.content_type[:80],
                         "send the header Content-Type: application/json (fetch: headers: {'Content-Type': "
                         "'application/json'}; requests: json=...)")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise json_error(400, "malformed_json", f"the request body is not valid JSON: {exc}"[:200], None,
                         'send a JSON object like {"name": "Mia"}') from None
    except RecursionError:  # thousands of nested [ or {: refused by name, never a 500 with a traceback
        raise json_error(400, "json_depth", "the request body is nested too deeply to read", None,
                         JSON_DEPTH_FIX) from None
    try:
        return model.model_validate(data)
    except RecursionError:
        raise json_error(400, "json_depth", "the request body is nested too deeply to read", None,
                         JSON_DEPTH_FIX) from None
    except ValidationError as exc:
        info = error_info_from_validation(exc, model.__name__)
        raise json_error(400, info.rule, info.message, info.value, info.fix) from None
