"""Small helpers for the JSON HTTP API: errors that name rule/value/fix, validated bodies, kid auth."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.core.auth import AuthError
from server.core.classroom import Classroom, ClassroomError, Kid
from server.kids.messages import error_info_from_validation

M = TypeVar("M", bound=BaseModel)


def json_error(status: int, rule: str, message: str, value: Any = None, fix: str = "") -> web.HTTPException:
    """An HTTP error whose JSON body is {"error": {rule, message, value, fix}}."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)[:80]
    body = json.dumps({"error": {"rule": rule, "message": message, "value": value, "fix": fix}})
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
           409: web.HTTPConflict, 413: web.HTTPRequestEntityTooLarge, 429: web.HTTPTooManyRequests,
           503: web.HTTPServiceUnavailable}.get(status, web.HTTPBadRequest)
    if cls is web.HTTPRequestEntityTooLarge:
        return cls(max_size=0, actual_size=0, text=body, content_type="application/json")
    return cls(text=body, content_type="application/json")


def from_classroom_error(exc: ClassroomError) -> web.HTTPException:
    return json_error(exc.status, exc.rule, exc.message, exc.value, exc.fix)


async def read_json(request: web.Request, model: type[M]) -> M:
    """The request body as a validated model, or a 400 naming the rule, the value and the fix."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise json_error(413, "body_size", "the request body is too big", None, "send less than 1 MB") from None
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise json_error(400, "malformed_json", f"the request body is not valid JSON: {exc}"[:200], None,
                         'send a JSON object like {"name": "Mia"}') from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        info = error_info_from_validation(exc, model.__name__)
        raise json_error(400, info.rule, info.message, info.value, info.fix) from None


def bearer_kid(request: web.Request, classroom: Classroom) -> Kid:
    """The kid behind ``Authorization: Bearer <token>``, or 401."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.query.get("token")
    if not token:
        raise json_error(401, "kid_token_missing", "this needs a kid token", None,
                         "send the header Authorization: Bearer <token> from POST /api/join")
    try:
        return classroom.auth_kid(token)
    except AuthError as exc:
        raise json_error(401, exc.rule, exc.message, None, "join the class again with its code and your name") from None
