"""The Tell the car HTTP API (the service is server/language/service.py).

Kid (``Authorization: Bearer <token>``):
- GET  /api/plan                       {enabled, rule, kid_text}: is the box open now (teacher, lesson)?
- POST /api/plan {sentence, front_end} the answer: {plan_id, outcome, answered_by, kid_text, notes, skipped,
                                       lines, steps, blockly, scratch_xml, python, rule, model, seconds}
Teacher (session cookie; X-CSRF-Token for changes):
- GET  /api/teacher/classes/{code}/plans[?limit=]   {enabled, plans: [newest first: kid, sentence, what it became]}
- POST /api/teacher/classes/{code}/plans/switch {enabled}   switch Tell the car on or off for the class
Static: /language/ (the console's Tell the car panel, tell_log.js).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from server.language.service import MAX_LOG, PlanService
from server.web.guards import bearer_kid, require_class, require_teacher
from server.web.http import json_error, read_json

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_SENTENCE_BYTES = 400  # the kid text rule (curriculum.kid_safe.MAX_SENTENCE, 200) answers in words below this
PLANS: web.AppKey[PlanService] = web.AppKey("plans", PlanService)


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sentence: Annotated[str, Field(min_length=1, max_length=MAX_SENTENCE_BYTES)]
    front_end: Literal["blockly", "scratch", "python"] = "blockly"


class SwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool


def _class_code(request: web.Request) -> str:
    """The class in the URL, or 404 (also another teacher's class: server/web/guards.py)."""
    return require_class(request)


async def status(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    return web.json_response(request.app[PLANS].status(kid))


async def plan(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    body = await read_json(request, PlanBody)
    return web.json_response(await request.app[PLANS].plan(kid, body.sentence, body.front_end))


async def class_log(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    code = _class_code(request)
    try:
        limit = int(request.query.get("limit", MAX_LOG))
    except ValueError:
        raise json_error(400, "limit", "limit must be a whole number", request.query.get("limit"),
                         f"ask for ?limit=1 to {MAX_LOG}") from None
    service = request.app[PLANS]
    return web.json_response({"class_code": code, "enabled": service.enabled(code),
                              "plans": service.log_of_class(code, max(1, limit))})


async def switch(request: web.Request) -> web.Response:
    require_teacher(request, csrf=True)
    code = _class_code(request)
    body = await read_json(request, SwitchBody)
    request.app[PLANS].set_enabled(code, body.enabled)
    return web.json_response({"class_code": code, "enabled": body.enabled})


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/plan", status)
    r.add_post("/api/plan", plan)
    r.add_get("/api/teacher/classes/{code}/plans", class_log)
    r.add_post("/api/teacher/classes/{code}/plans/switch", switch)
    r.add_static("/language/", STATIC_DIR, follow_symlinks=False)
