"""The kids' JSON API: the catalog per level, lessons, joining a class, a kid's cars, arenas.

- GET  /api/catalog?level=N        blocks and skills with params, ranges, kid text, front-end spellings;
                                   locked ones as teasers ("unlocks at level N"); the level's speed cap.
                                   Without ?level, the level of the kid in ``Authorization`` (or 1).
- GET  /api/lessons                the core's lesson book, for the kid in ``Authorization`` if any
- POST /api/join {class_code, name, rejoin?} -> {token, kid_id, name, level, car_id, class_code}
                                   A name the class already has (any letter case, or one that looks the
                                   same: server/core/kid_names.py) answers 409 `same_name`
                                   ("is that you?"); with rejoin: true it is the same kid: a fresh token for
                                   the same kid, level and car. The SDK always rejoins (it is the kid's program).
                                   Limited per computer and per class, unknown codes per computer (429,
                                   server/kids/join_limits.py); a bad name is 400 whether the code exists or not.
- GET  /api/cars                   the kid's cars with a connected flag (Authorization: Bearer <token>)
- GET  /api/arena?car=ID           the arena JSON that car drives in (default arena or a lesson's)
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from curriculum.front_ends import level_catalog
from curriculum.levels import MAX_LEVEL, MIN_LEVEL
from server.core.types import ClassroomError
from server.web import cors
from server.web.guards import bearer_kid
from server.web.http import http_error, json_error, read_json
from server.kids.join_limits import JoinLimited, JoinLimits
from server.web.state import CLASSROOM, CONFIG, LESSONS


class JoinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    class_code: Annotated[str, Field(min_length=1, max_length=16)]
    name: Annotated[str, Field(min_length=1, max_length=96)]  # 20 letters with their marks (kid_names.py)
    rejoin: bool = False  # "yes, that is me": join as the kid of this class who already has this name


async def catalog(request: web.Request) -> web.Response:
    raw = request.query.get("level")
    if raw is None:
        level = MIN_LEVEL
        if "Authorization" in request.headers:
            level = bearer_kid(request).level
    else:
        try:
            level = int(raw)
        except ValueError:
            level = -1
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise json_error(400, "level_range", f"level must be {MIN_LEVEL} to {MAX_LEVEL} (got {raw!r})", raw,
                             f"ask for /api/catalog?level={MIN_LEVEL}")
    return web.json_response(level_catalog(level))


async def lessons(request: web.Request) -> web.Response:
    kid = None
    if "Authorization" in request.headers:
        kid = bearer_kid(request)
    return web.json_response({"lessons": request.app[LESSONS].lessons(kid)})


async def join(request: web.Request) -> web.Response:
    limits = request.app[JOIN_LIMITS]
    address = request.remote or "?"
    try:
        limits.check_address(address)
        limits.check_code_tries(address)
    except JoinLimited as exc:
        raise _too_many(exc) from None
    body = await read_json(request, JoinBody)
    classroom = request.app[CLASSROOM]
    try:
        classroom.check_name(body.name)
    except ClassroomError as exc:
        raise http_error(exc) from None
    if not classroom.class_exists(body.class_code):
        limits.unknown_code(address)
        raise json_error(404, "class_code", f"there is no class with code {body.class_code!r}", body.class_code,
                         "check the code on the board")
    try:
        limits.check_class(body.class_code.strip().upper())
    except JoinLimited as exc:
        raise _too_many(exc) from None
    same = None if body.rejoin else classroom.kid_named(body.class_code, body.name)
    if same is not None:  # two kids called Mia must not silently become one: ask first
        looks = "" if same.name == body.name.strip() else f"{body.name.strip()!r} looks just like {same.name}: "
        raise json_error(409, "same_name", f"{looks}there is already a {same.name} in class {same.class_code}", same.name,
                         f"if you are that {same.name}, join again with rejoin: true; if not, add the first "
                         f"letter of your last name, like {same.name}K")
    try:
        kid, token, car_id = classroom.join(body.class_code, body.name)
    except ClassroomError as exc:
        raise http_error(exc) from None
    return web.json_response({"token": token, "kid_id": kid.kid_id, "name": kid.name, "level": kid.level,
                              "car_id": car_id, "class_code": kid.class_code})


def _too_many(exc: JoinLimited) -> web.HTTPException:
    error = json_error(429, exc.rule, exc.message, None,
                       f"wait {exc.retry_after_s:g} s and join again; a teacher expecting more joins raises "
                       "rate_limits in the server config")
    error.headers["Retry-After"] = str(int(exc.retry_after_s))
    return error


async def kid_cars(request: web.Request) -> web.Response:
    classroom = request.app[CLASSROOM]
    kid = bearer_kid(request)
    return web.json_response({"cars": [c.as_dict() for c in classroom.cars_for_kid(kid.kid_id)]})


async def arena(request: web.Request) -> web.Response:
    classroom = request.app[CLASSROOM]
    car_id = request.query.get("car")
    if car_id is None:
        return web.json_response({"arena": classroom.default_arena.model_dump(mode="json"), "car_id": None})
    if len(car_id) > 32:
        raise json_error(400, "car_id", "car id is too long", car_id[:40], "use an id like car-1")
    return web.json_response({"arena": classroom.arena_for_car(car_id).model_dump(mode="json"), "car_id": car_id,
                              "start": classroom.start_pose(car_id).model_dump(mode="json")})


JOIN_LIMITS: web.AppKey[JoinLimits] = web.AppKey("join_limits", JoinLimits)


def setup(app: web.Application) -> None:
    app[JOIN_LIMITS] = JoinLimits(app[CONFIG].rate_limits)
    cors.setup(app)
    r = app.router
    r.add_get("/api/catalog", catalog)
    r.add_get("/api/lessons", lessons)
    r.add_post("/api/join", join)
    r.add_get("/api/cars", kid_cars)
    r.add_get("/api/arena", arena)
