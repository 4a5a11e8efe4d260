"""HTTP API for lessons and attempts, over the service (server/lessons/service.py) and its store.

Kid (``Authorization: Bearer <token>``; never a token in a URL):
- POST /api/lessons/select {lesson_id | null}  pick a lesson: its arena goes to the kid's car
- GET  /api/attempts[?lesson=ID]               the kid's own attempts, newest first
- GET  /api/attempts/{id}                      one attempt (own): program, checks, coach text, image URLs
- GET  /api/attempts/{id}/images/{name}?sig=   a key frame or the trajectory overlay (PNG); the URL from
                                               GET /api/attempts/{id} is signed for that attempt and
                                               works for IMAGE_URL_TTL_S (an <img> sends no header)
- GET  /api/attempts/compare?a=ID&b=ID         which of two attempts at one lesson was better, and why
Teacher (session cookie; X-CSRF-Token for changes):
- the same GETs for any attempt; GET /api/teacher/attempts[?kid=&lesson=]
- POST /api/teacher/attempts/{id}/override {stars, comment}  -> the kid gets an updated `feedback` event
- POST /api/teacher/kids/{kid_id}/lessons/{lesson_id}/lock | /unlock   one kid's lesson override
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from curriculum.judge import Verdict, compare
from curriculum.recording import summary
from server.core.types import ClassroomError, Kid
from server.lessons.service import ATTEMPTS, AttemptService, feedback_payload, image_names
from server.web.guards import bearer_kid, require_kid, require_teacher, scope_of, teacher_session
from server.web.http import http_error, json_error, read_json
from server.web.state import CLASSROOM

MAX_LIST = 200  # attempts per list response; a class produces a few dozen a lesson
SCOPED_WINDOW = 10  # a teacher account's list filters this many times MAX_LIST of everyone's newest attempts
IMAGE_URL_TTL_S = 600.0  # an image URL works this long: the feedback card loads it in seconds; a leaked one soon dies
IMAGE_PURPOSE = "attempt-image"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelectBody(_Body):
    lesson_id: Annotated[str, Field(max_length=64)] | None


class OverrideBody(_Body):
    stars: Annotated[int, Field(ge=0, le=3)]
    comment: Annotated[str, Field(max_length=300)] = ""


def _service(request: web.Request) -> AttemptService:
    return request.app[ATTEMPTS]


def _viewer(request: web.Request) -> Kid | None:
    """None for the teacher (any attempt), the Kid for a kid (own attempts only); 401 otherwise."""
    if teacher_session(request) is not None:
        return None
    return bearer_kid(request)


def _teacher_sees(request: web.Request, kid_id: str) -> bool:
    """May the logged-in teacher see this kid's attempts? Only a kid of their classes (server/core/tenancy.py);
    a kid removed since is the single-password teacher's and an admin's."""
    session = teacher_session(request)
    if session is None:
        return False
    scope = scope_of(session)
    if scope.everything:
        return True
    classroom = request.app[CLASSROOM]
    try:
        return classroom.tenancy.owns_class(scope, classroom.kid(kid_id).class_code)
    except PermissionError:
        return False


def _own_row(request: web.Request, attempt_id: str) -> dict[str, Any]:
    viewer = _viewer(request)
    row = _service(request).store.row(attempt_id)
    # Same answer for "not there" and "not yours": a kid cannot probe other kids' attempt ids, nor a teacher
    # another teacher's.
    if row is None or (viewer is not None and row["kid_id"] != viewer.kid_id) or \
            (viewer is None and not _teacher_sees(request, row["kid_id"])):
        raise json_error(404, "attempt_id", f"there is no attempt {attempt_id!r} of yours", attempt_id,
                         "use an id from GET /api/attempts")
    return row


def _image_suffix(request: web.Request, attempt_id: str) -> str:
    """A kid's <img> sends no Authorization header: its URL carries a signature for this attempt's images
    that expires (never the kid's token). The teacher's browser sends the session cookie: no suffix."""
    if teacher_session(request) is not None:
        return ""
    return "?sig=" + request.app[CLASSROOM].url_signer.sign(IMAGE_PURPOSE, attempt_id, IMAGE_URL_TTL_S)


def _short(row: dict[str, Any]) -> dict[str, Any]:
    v = row["verdict"] or {}
    return {"attempt_id": row["attempt_id"], "lesson_id": row["lesson_id"], "kid_id": row["kid_id"],
            "started_at": row["started_at"], "ended_at": row["ended_at"], "end_reason": row["end_reason"],
            "status": row["status"], "stars": row["final_stars"], "judge_stars": row["stars"],
            "passed": bool(row["final_stars"]), "summary": v.get("kid_summary", ""),
            "overridden": row["override"] is not None}


def attempt_detail(request: web.Request, row: dict[str, Any]) -> dict[str, Any]:
    service = _service(request)
    rec = service.recording(row)
    base = f"/api/attempts/{row['attempt_id']}/images/"
    suffix = _image_suffix(request, row["attempt_id"])
    names = image_names(row)
    return {
        **_short(row),
        "feedback": feedback_payload(row, service.lesson_set) if row["status"] == "graded" else None,
        "verdict": row["verdict"], "coach": row["feedback"], "override": row["override"],
        "program": rec.program if rec else None, "source": row["source"],
        "program_text": (row["verdict"] or {}).get("program", {}).get("text", ""),
        "recording": summary(rec).model_dump() if rec else None,
        "safety": rec.safety if rec else [], "collisions": rec.collisions if rec else [],
        "frames": rec.frames if rec else [],
        "images": {"overlay": base + "overlay.png" + suffix if "overlay.png" in names else None,
                   "key_frames": [base + n + suffix for n in names if n.startswith("key-")]},
    }


# --- handlers -----------------------------------------------------------------------------------


async def select_lesson(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    body = await read_json(request, SelectBody)
    service = _service(request)
    if body.lesson_id is not None:
        if body.lesson_id not in service.lesson_set.lessons:
            raise json_error(404, "lesson_id", f"there is no lesson {body.lesson_id!r}", body.lesson_id,
                             "pick an id from GET /api/lessons")
        locked, why = service.is_locked(kid, body.lesson_id)
        if locked:
            raise json_error(403, "lesson_locked", why, body.lesson_id, "pass the lessons before it, or ask your teacher")
    try:
        lesson = await service.select_lesson(kid, body.lesson_id)
    except ClassroomError as exc:  # car_busy: another kid drives the shared car (nothing changed)
        raise http_error(exc) from None
    return web.json_response({"lesson": lesson, "car_id": request.app[CLASSROOM].car_of(kid.kid_id)})


async def list_attempts(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    rows = _service(request).store.rows_of_kid(kid.kid_id, request.query.get("lesson"))
    return web.json_response({"attempts": [_short(r) for r in rows[:MAX_LIST]]})


async def teacher_list_attempts(request: web.Request) -> web.Response:
    scope = scope_of(require_teacher(request, csrf=False))
    store = _service(request).store
    kid_id, lesson_id = request.query.get("kid"), request.query.get("lesson")
    if kid_id:
        require_kid(request, kid_id)
        rows = store.rows_of_kid(kid_id, lesson_id)
    elif scope.everything:
        rows = store.recent(lesson_id, MAX_LIST)
    else:  # the newest of the teacher's own kids' attempts, from a wider window of everyone's
        rows = [r for r in store.recent(lesson_id, MAX_LIST * SCOPED_WINDOW) if _teacher_sees(request, r["kid_id"])]
    return web.json_response({"attempts": [_short(r) for r in rows[:MAX_LIST]]})


async def get_attempt(request: web.Request) -> web.Response:
    row = _own_row(request, request.match_info["attempt_id"])
    return web.json_response(attempt_detail(request, row))


async def get_image(request: web.Request) -> web.StreamResponse:
    attempt_id = request.match_info["attempt_id"]
    if request.app[CLASSROOM].url_signer.check(IMAGE_PURPOSE, attempt_id, request.query.get("sig")):
        row = _service(request).store.row(attempt_id)  # the signed URL was made for this attempt's owner
        if row is None:
            raise json_error(404, "attempt_id", f"there is no attempt {attempt_id!r}", attempt_id,
                             "use a URL from GET /api/attempts/{id}")
    else:
        row = _own_row(request, attempt_id)
    name = request.match_info["name"]
    if name not in image_names(row):  # only files the grader wrote: no path tricks
        raise json_error(404, "image", f"attempt {row['attempt_id']} has no image {name!r}", name,
                         "use a URL from GET /api/attempts/{id}")
    return web.FileResponse(Path(row["dir"]) / name, headers={"Cache-Control": "private, max-age=3600"})


async def compare_attempts(request: web.Request) -> web.Response:
    a_id, b_id = request.query.get("a", ""), request.query.get("b", "")
    a, b = _own_row(request, a_id), _own_row(request, b_id)
    if not (a["verdict"] and b["verdict"]):
        raise json_error(409, "not_graded", "both attempts must be graded first", [a_id, b_id],
                         "wait for the feedback of both attempts")
    va, vb = Verdict.model_validate(a["verdict"]), Verdict.model_validate(b["verdict"])
    va.stars, vb.stars = a["final_stars"], b["final_stars"]  # the teacher's word counts here too
    first, second = "your earlier attempt", "your later attempt"
    labels = (first, second) if a["started_at"] <= b["started_at"] else (second, first)
    try:
        result = compare(va, vb, *labels)
    except ValueError as exc:
        raise json_error(400, "different_lessons", str(exc), [a["lesson_id"], b["lesson_id"]],
                         "compare two attempts at the same lesson") from None
    winner = {"a": a_id, "b": b_id}.get(result["better"] or "")
    return web.json_response({**result, "better_attempt": winner, "a": _short(a), "b": _short(b)})


async def override_attempt(request: web.Request) -> web.Response:
    require_teacher(request, csrf=True)
    body = await read_json(request, OverrideBody)
    attempt_id = request.match_info["attempt_id"]
    _own_row(request, attempt_id)  # another teacher's kid's attempt: 404, like one that is not there
    try:
        payload = await _service(request).override(attempt_id, body.stars, body.comment)
    except KeyError:
        raise json_error(404, "attempt_id", f"there is no attempt {attempt_id!r}", attempt_id,
                         "use an id from GET /api/teacher/attempts") from None
    return web.json_response({"feedback": payload})


async def _kid_lock(request: web.Request, locked: bool) -> web.Response:
    require_teacher(request, csrf=True)
    service = _service(request)
    kid_id, lesson_id = request.match_info["kid_id"], request.match_info["lesson_id"]
    require_kid(request, kid_id)
    if lesson_id not in service.lesson_set.lessons:
        raise json_error(404, "lesson_id", f"there is no lesson {lesson_id!r}", lesson_id, "use an id from GET /api/lessons")
    service.store.set_kid_lock(kid_id, lesson_id, locked)
    return web.json_response({"kid_id": kid_id, "lesson_id": lesson_id, "locked": locked})


async def kid_lock(request: web.Request) -> web.Response:
    return await _kid_lock(request, True)


async def kid_unlock(request: web.Request) -> web.Response:
    return await _kid_lock(request, False)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/lessons/select", select_lesson)
    r.add_get("/api/attempts", list_attempts)
    r.add_get("/api/attempts/compare", compare_attempts)
    r.add_get("/api/attempts/{attempt_id}", get_attempt)
    r.add_get("/api/attempts/{attempt_id}/images/{name}", get_image)
    r.add_get("/api/teacher/attempts", teacher_list_attempts)
    r.add_post("/api/teacher/attempts/{attempt_id}/override", override_attempt)
    r.add_post("/api/teacher/kids/{kid_id}/lessons/{lesson_id}/lock", kid_lock)
    r.add_post("/api/teacher/kids/{kid_id}/lessons/{lesson_id}/unlock", kid_unlock)
