"""The admin API (accounts mode, server/core/tenancy.py): teacher accounts, and which class and car is whose.

Every route needs an ``admin`` account's session (:func:`server.web.guards.require_admin`): a teacher
account or the classroom password gets 403 ``admin_only`` naming who asked and how to get an admin.
The same things on the server's own command line: ``dojo teacher ...`` (server/teacher_accounts.py).

    GET    /api/admin/teachers                               -> {teachers: [{username, role, disabled, classes}]}
    POST   /api/admin/teachers            {username, password, role?}   -> 201 {username, role}
    POST   /api/admin/teachers/{username}/disable | enable   (disable also logs them out everywhere)
    POST   /api/admin/teachers/{username}/logout-everywhere  -> {sessions_ended}
    DELETE /api/admin/teachers/{username}                    (their classes stay: nobody's, the admin's)
    POST   /api/admin/classes/{code}/teacher  {username|null}  the class changes hands
    POST   /api/admin/cars/{car_id}/class     {class_code|null} the car joins another class (or none)
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server.core.auth import TEACHER
from server.core.types import ClassroomError
from server.web.guards import TEACHER_SESSIONS, require_admin, require_car, require_class
from server.web.http import http_error, json_error, read_json
from server.web.state import CLASSROOM, STORAGE


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountBody(_Body):
    username: Annotated[str, Field(min_length=1, max_length=40)]
    password: Annotated[str, Field(min_length=1, max_length=200)]
    role: Annotated[str, Field(max_length=20)] = TEACHER


class OwnerBody(_Body):
    username: Annotated[str, Field(min_length=1, max_length=40)] | None


class CarClassBody(_Body):
    class_code: Annotated[str, Field(min_length=3, max_length=8)] | None


def _tenancy(request: web.Request):
    return request.app[CLASSROOM].tenancy


def _account_row(request: web.Request, record) -> dict:
    tenancy = _tenancy(request)
    classes = [c.code for c in request.app[STORAGE].list_classes() if tenancy.class_owner(c.code) == record.username]
    return {"username": record.username, "role": record.role, "disabled": record.disabled, "classes": classes}


def _username(request: web.Request) -> str:
    name = request.match_info["username"]
    try:
        _tenancy(request).account(name)
    except ClassroomError as exc:
        raise http_error(exc) from None
    return name


def _not_yourself(request: web.Request, name: str, what: str) -> None:
    if require_admin(request).account == name:
        raise json_error(409, "admin_self", f"an admin cannot {what} their own account ({name!r})", name,
                         "ask another admin, or use `dojo teacher` on the server")


async def list_teachers(request: web.Request) -> web.Response:
    require_admin(request, csrf=False)
    return web.json_response({"teachers": [_account_row(request, r) for r in request.app[STORAGE].list_accounts()]})


async def add_teacher(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, AccountBody)
    try:
        record = _tenancy(request).add_account(body.username, body.password, body.role)
    except ClassroomError as exc:
        raise http_error(exc) from None
    return web.json_response({"username": record.username, "role": record.role}, status=201)


def _set_disabled(disabled: bool):
    async def handler(request: web.Request) -> web.Response:
        require_admin(request)
        name = _username(request)
        if disabled:
            _not_yourself(request, name, "disable")
        record = _tenancy(request).set_disabled(name, disabled)
        ended = request.app[TEACHER_SESSIONS].end_all(name) if disabled else 0
        return web.json_response({**_account_row(request, record), "sessions_ended": ended})
    return handler


async def logout_teacher_everywhere(request: web.Request) -> web.Response:
    require_admin(request)
    name = _username(request)
    return web.json_response({"username": name, "sessions_ended": request.app[TEACHER_SESSIONS].end_all(name)})


async def remove_teacher(request: web.Request) -> web.Response:
    require_admin(request)
    name = _username(request)
    _not_yourself(request, name, "remove")
    request.app[TEACHER_SESSIONS].end_all(name)
    _tenancy(request).remove_account(name)
    return web.json_response({"username": name, "removed": True})


async def give_class(request: web.Request) -> web.Response:
    require_admin(request)
    code = require_class(request)
    body = await read_json(request, OwnerBody)
    tenancy = _tenancy(request)
    if body.username is not None:
        try:
            tenancy.account(body.username)
        except ClassroomError as exc:
            raise http_error(exc) from None
    tenancy.set_class_owner(code, body.username)
    return web.json_response({"code": code, "teacher": body.username})


async def move_car(request: web.Request) -> web.Response:
    require_admin(request)
    car_id = require_car(request)
    body = await read_json(request, CarClassBody)
    code = require_class(request, body.class_code) if body.class_code is not None else None
    classroom = request.app[CLASSROOM]
    if classroom.storage.kids_of_car(car_id):  # its kids belong to the old class: they leave it first
        classroom.assign(car_id, [])
    classroom.tenancy.set_car_class(car_id, code)
    classroom.events.publish("assignment_changed", car_id, [])
    return web.json_response({"car_id": car_id, "class_code": code})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/admin/teachers", list_teachers)
    r.add_post("/api/admin/teachers", add_teacher)
    r.add_post("/api/admin/teachers/{username}/disable", _set_disabled(True))
    r.add_post("/api/admin/teachers/{username}/enable", _set_disabled(False))
    r.add_post("/api/admin/teachers/{username}/logout-everywhere", logout_teacher_everywhere)
    r.add_delete("/api/admin/teachers/{username}", remove_teacher)
    r.add_post("/api/admin/classes/{code}/teacher", give_class)
    r.add_post("/api/admin/cars/{car_id}/class", move_car)
