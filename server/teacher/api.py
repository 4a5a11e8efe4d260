"""Teacher HTTP API (core): login, classes, roster, levels, cars, assignments, stops.

Auth: POST /api/teacher/login {password} (single-password mode) or {username, password} (accounts mode,
server/core/tenancy.py) sets an HttpOnly, SameSite=Strict session cookie and returns a CSRF token; every
state-changing request repeats it in ``X-CSRF-Token``. A kid token never opens any of these. Every
teacher endpoint checks :func:`server.web.guards.require_teacher`, and what it names (a class, a car, a
kid) with ``require_class`` / ``require_car`` / ``require_kid``: a teacher reaches only their own classes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from curriculum.gate import TokenBucket
from curriculum.levels import LEVELS, MAX_LEVEL, MIN_LEVEL
from server.core.auth import ADMIN, SESSION_COOKIE, SINGLE_TEACHER, verify_password
from server.core.classroom import Classroom
from server.core.types import ClassroomError
from server.web.guards import (TEACHER_SESSIONS, require_car, require_class, require_kid, require_teacher, scope_of,
                               teacher_scope)
from server.web.http import http_error, json_error, read_json
from server.web.state import CLASSROOM, CONFIG, STORAGE

LOGIN_LIMITS: web.AppKey[dict] = web.AppKey("teacher_login_limits", dict)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    username: Annotated[str, Field(max_length=40)] | None = None  # accounts mode only
    password: Annotated[str, Field(min_length=1, max_length=200)]


class ClassBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    code: Annotated[str, Field(min_length=3, max_length=8)] | None = None


class LevelBody(_Body):
    level: Annotated[int, Field(ge=MIN_LEVEL, le=MAX_LEVEL, strict=True)]


class AssignBody(_Body):
    kid_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=40)]


class StopBody(_Body):
    reason: Annotated[str, Field(max_length=200)] = "teacher"


class EstopBody(StopBody):
    all_cars: bool = False  # an admin's stop of every car on the server, whoever's class


def _classroom(request: web.Request) -> Classroom:
    return request.app[CLASSROOM]


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
    app = request.app
    ip = request.remote or "?"
    buckets = app[LOGIN_LIMITS]
    per_min = app[CONFIG].rate_limits.teacher_logins_per_min
    bucket = buckets.setdefault(ip, TokenBucket(per_min / 60.0, per_min, time.monotonic))
    if not bucket.take():
        raise json_error(429, "login_rate", f"more than {per_min} logins a minute from {ip}", None, "wait a minute")
    tenancy = _classroom(request).tenancy
    if tenancy.accounts_on():
        if not body.username:
            raise json_error(400, "teacher_username_missing", "this server has teacher accounts: log in with your "
                             "username and password", None, "type your username (an admin makes accounts with "
                             "`dojo teacher add NAME`)")
        account = await asyncio.to_thread(tenancy.verify, body.username, body.password)  # scrypt: off the loop
        if account is None:
            raise json_error(401, "teacher_password", "wrong username or password (or the account is disabled)",
                             None, "check both and try again; an admin can set a new password: "
                             "`dojo teacher password NAME`")
        session = app[TEACHER_SESSIONS].create(account.username, account.role)
    else:
        if body.username:
            raise json_error(400, "teacher_accounts_off", "this server has no teacher accounts: log in with the "
                             "classroom password alone", body.username, "leave the username empty")
        stored = app[STORAGE].teacher_password_hash()
        if stored is None:
            raise json_error(503, "no_teacher_password", "no teacher password is set on this server", None,
                             "start the server with --teacher-password")
        if not await asyncio.to_thread(verify_password, body.password, stored):  # scrypt: keep it off the loop
            raise json_error(401, "teacher_password", "wrong teacher password", None, "check the password and try again")
        session = app[TEACHER_SESSIONS].create()
    response = web.json_response({"ok": True, "csrf_token": session.csrf_token, **_who(session)})
    response.set_cookie(SESSION_COOKIE, session.session_id, httponly=True, samesite="Strict", path="/",
                        max_age=int(app[CONFIG].timeouts.teacher_session_s))
    return response


def _who(session: Any) -> dict[str, Any]:
    return {"username": session.account or None, "role": session.role if session.account else None,
            "sees_everything": scope_of(session).everything}


async def logout(request: web.Request) -> web.Response:
    session = require_teacher(request)
    request.app[TEACHER_SESSIONS].end(session.session_id)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def logout_everywhere(request: web.Request) -> web.Response:
    """Every session of this teacher ends (other browsers, other server processes): a lost laptop."""
    session = require_teacher(request)
    ended = request.app[TEACHER_SESSIONS].end_all(session.account)
    response = web.json_response({"ok": True, "sessions_ended": ended})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def login_mode(request: web.Request) -> web.Response:
    """Which login form to show: a username field only in accounts mode."""
    return web.json_response({"accounts": _classroom(request).tenancy.accounts_on()})


async def me(request: web.Request) -> web.Response:
    session = require_teacher(request, csrf=False)
    return web.json_response({"logged_in": True, "csrf_token": session.csrf_token, **_who(session)})


async def create_class(request: web.Request) -> web.Response:
    session = require_teacher(request)
    body = await read_json(request, ClassBody)
    try:  # a teacher account's class is theirs; the single-password teacher's and an admin's are nobody's
        owner = session.account if session.account and session.role != ADMIN else None
        code = _classroom(request).create_class(body.name, body.code, owner=owner)
    except ClassroomError as exc:
        raise http_error(exc) from None
    return web.json_response({"code": code, "name": body.name}, status=201)


async def list_classes(request: web.Request) -> web.Response:
    scope = teacher_scope(request)
    storage, tenancy = request.app[STORAGE], _classroom(request).tenancy
    return web.json_response({"classes": [
        {"code": c.code, "name": c.name, "kids": len(storage.kids_in_class(c.code)),
         "level": storage.kv_get("class_level", c.code, 1), "teacher": tenancy.class_owner(c.code)}
        for c in storage.list_classes() if tenancy.owns_class(scope, c.code)]})


def class_code_of(request: web.Request) -> str:
    """The class in the URL ({code}), or 404 (also for another teacher's class)."""
    return require_class(request)


def roster(app: web.Application, code: str) -> list[dict[str, Any]]:
    classroom = app[CLASSROOM]
    rows = []
    for kid in classroom.kids_in_class(code):
        car_id = classroom.car_of(kid.kid_id)
        status, position = classroom.dispatcher.kid_status(kid.kid_id, car_id)
        rows.append({"kid_id": kid.kid_id, "name": kid.name, "level": kid.level, "car_id": car_id,
                     "status": status, "queue_position": position, "online": classroom.presence.online(kid.kid_id),
                     "speed_pct": classroom.speed_of(kid)})
    return rows


async def get_roster(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    code = class_code_of(request)
    return web.json_response({"code": code, "kids": roster(request.app, code)})


async def set_kid_level(request: web.Request) -> web.Response:
    require_teacher(request)
    code = class_code_of(request)
    body = await read_json(request, LevelBody)
    classroom = _classroom(request)
    kid_id = request.match_info["kid_id"]
    if require_kid(request, kid_id).class_code != code:
        raise json_error(404, "kid_id", f"kid {kid_id} is not in class {code}", kid_id, "check the roster")
    kid = classroom.set_level(kid_id, body.level)
    return web.json_response({"kid_id": kid.kid_id, "level": kid.level})


async def remove_kid(request: web.Request) -> web.Response:
    """DELETE /api/teacher/classes/{code}/kids/{kid_id}: the kid leaves the class (a phantom from a join
    flood, or a kid who left the school): their car stops if they drive, their sockets close, their token
    opens nothing any more. Their graded attempts stay in the records."""
    require_teacher(request)
    code = class_code_of(request)
    classroom = _classroom(request)
    kid_id = request.match_info["kid_id"]
    require_kid(request, kid_id)
    try:
        if classroom.kid(kid_id).class_code != code:
            raise json_error(404, "kid_id", f"kid {kid_id} is not in class {code}", kid_id, "check the roster")
        kid = await classroom.remove_kid(kid_id)
    except PermissionError:
        raise json_error(404, "kid_id", f"there is no kid {kid_id}", kid_id, "check the roster") from None
    return web.json_response({"kid_id": kid.kid_id, "name": kid.name, "removed": True})


async def set_class_level(request: web.Request) -> web.Response:
    require_teacher(request)
    code = class_code_of(request)
    body = await read_json(request, LevelBody)
    kids = _classroom(request).set_class_level(code, body.level)
    return web.json_response({"code": code, "level": body.level, "kids": len(kids)})


async def list_cars(request: web.Request) -> web.Response:
    scope = teacher_scope(request)
    classroom = _classroom(request)
    cars = []
    for info in classroom.all_cars():
        if not classroom.tenancy.owns_car(scope, info.car_id):
            continue
        queue = classroom.dispatcher.cars.get(info.car_id)
        tel = classroom.latest_telemetry(info.car_id)
        cars.append({**info.as_dict(), "driver": queue.running.kid_id if queue and queue.running else None,
                     "queued": len(queue.queued()) if queue else 0,
                     "pose": tel.pose.model_dump() if tel else None, "safety_state": tel.safety_state if tel else None,
                     "class_code": classroom.tenancy.car_class(info.car_id)})
    return web.json_response({"cars": cars})


def _car_id(request: web.Request) -> str:
    """The car in the URL, or 404 (also for another teacher's car)."""
    return require_car(request)


async def assign_car(request: web.Request) -> web.Response:
    require_teacher(request)
    car_id = _car_id(request)
    body = await read_json(request, AssignBody)
    for kid_id in body.kid_ids:
        require_kid(request, kid_id)  # another teacher's kid is "not in your classes", like a made-up id
    try:
        _classroom(request).assign(car_id, body.kid_ids)
    except ClassroomError as exc:
        raise http_error(exc) from None
    except PermissionError as exc:
        raise json_error(404, "kid_id", str(exc), body.kid_ids, "check the roster") from None
    return web.json_response({"car_id": car_id, "kid_ids": body.kid_ids})


async def estop(request: web.Request) -> web.Response:
    """STOP ALL: every car the teacher may reach. The single-password teacher reaches every car (today's
    one-classroom stop); a teacher account only the cars of their classes; an admin, with ``all_cars``,
    every car on the server (without it, the cars of the classes it sees: all of them too)."""
    session = require_teacher(request)
    body = await read_json(request, EstopBody)
    classroom = _classroom(request)
    reason = f"teacher emergency stop: {body.reason}"
    if body.all_cars and session.account and session.role != ADMIN:
        raise json_error(403, "admin_only", f"only an admin account may stop every car on the server "
                         f"(teacher account {session.account!r} is not one)", session.account,
                         "leave out all_cars: your STOP ALL stops the cars of your classes")
    if session.account == SINGLE_TEACHER or body.all_cars or session.role == ADMIN:
        cars = await classroom.estop_all(reason)
    else:
        scope = scope_of(session)
        cars = await classroom.estop_cars([c.car_id for c in classroom.all_cars()
                                           if classroom.tenancy.owns_car(scope, c.car_id)], reason)
    return web.json_response({"ok": True, "cars": cars})


async def estop_class(request: web.Request) -> web.Response:
    """One class's e-stop: its cars stop and latch; every other class's cars drive on."""
    require_teacher(request)
    code = class_code_of(request)
    body = await read_json(request, StopBody)
    classroom = _classroom(request)
    cars = await classroom.estop_cars(classroom.cars_of_class(code), f"teacher emergency stop ({code}): {body.reason}")
    return web.json_response({"ok": True, "code": code, "cars": cars})


async def stop_car(request: web.Request) -> web.Response:
    require_teacher(request)
    car_id = _car_id(request)
    await _classroom(request).stop_car(car_id, "teacher stop")
    return web.json_response({"ok": True, "car_id": car_id})


async def reset_car(request: web.Request) -> web.Response:
    require_teacher(request)
    car_id = _car_id(request)
    await _classroom(request).reset_car(car_id)
    return web.json_response({"ok": True, "car_id": car_id})


async def list_levels(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    return web.json_response({"levels": [{"level": n, "title": lv.title, "max_speed_pct": lv.max_speed_pct}
                                         for n, lv in LEVELS.items()]})


MAX_LOG_ROWS = 500  # one screen of a class's recent blocks; older rows stay in the database


async def request_log(request: web.Request) -> web.Response:
    """Recent block calls with their final answer and the teacher detail (refusal rule, value, limit)."""
    require_teacher(request, csrf=False)
    try:
        limit = min(MAX_LOG_ROWS, max(1, int(request.query.get("limit", "100"))))
    except ValueError:
        raise json_error(400, "limit", "limit must be a whole number", request.query.get("limit"),
                         f"use limit=1..{MAX_LOG_ROWS}") from None
    await _classroom(request).flush_request_log()
    scope, storage, kid_id = teacher_scope(request), request.app[STORAGE], request.query.get("kid_id") or None
    if kid_id:
        require_kid(request, kid_id)
    if scope.everything or kid_id:
        rows = storage.recent_requests(limit, kid_id)
    else:  # the kids of the teacher's own classes only
        kids = [k.kid_id for code in _classroom(request).tenancy.class_codes(scope) for k in storage.kids_in_class(code)]
        rows = storage.recent_requests_of(kids, limit)
    return web.json_response({"requests": [
        {"t": e.t, "kid_id": e.kid_id, "car_id": e.car_id, "block": e.block, "args": e.args, "status": e.status,
         "detail": e.detail, "duration_s": round(e.duration_s, 3)} for e in rows]})


def setup(app: web.Application) -> None:
    app[LOGIN_LIMITS] = {}
    r = app.router
    r.add_post("/api/teacher/login", login)
    r.add_post("/api/teacher/logout", logout)
    r.add_post("/api/teacher/logout-everywhere", logout_everywhere)
    r.add_get("/api/teacher/login-mode", login_mode)
    r.add_get("/api/teacher/me", me)
    r.add_get("/api/teacher/levels", list_levels)
    r.add_post("/api/teacher/classes", create_class)
    r.add_get("/api/teacher/classes", list_classes)
    r.add_get("/api/teacher/classes/{code}/roster", get_roster)
    r.add_post("/api/teacher/classes/{code}/kids/{kid_id}/level", set_kid_level)
    r.add_delete("/api/teacher/classes/{code}/kids/{kid_id}", remove_kid)
    r.add_post("/api/teacher/classes/{code}/level", set_class_level)
    r.add_post("/api/teacher/classes/{code}/estop", estop_class)
    r.add_get("/api/teacher/cars", list_cars)
    r.add_get("/api/teacher/requests", request_log)
    r.add_post("/api/teacher/cars/{car_id}/assign", assign_car)
    r.add_post("/api/teacher/estop", estop)
    r.add_post("/api/teacher/cars/{car_id}/stop", stop_car)
    r.add_post("/api/teacher/cars/{car_id}/reset", reset_car)
