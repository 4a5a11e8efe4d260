"""The teacher console: the `/teacher/` page and the teacher endpoints the core API leaves to it.

- ``/teacher/``: the single-page console (server/teacher/static/), served from disk, no CDN.
- ``GET  /api/teacher/classes/{code}/board``: the class as the console shows it: every kid with level,
  current lesson, stars and state (running / waiting for a shared car with queue position / idle),
  every car with its driver, turn queue, e-stop state and the arena it is on (a lesson's, or the class's),
  and the class's arena.
- ``GET  /api/teacher/classes/{code}/progress.csv``: class progress for a spreadsheet.
- ``GET  /api/teacher/classes/{code}/lessons``; ``POST .../lessons/{lesson_id}/lock`` (locked for the whole
  class), ``/unlock`` (open for the whole class, whatever the level) and ``/auto`` (follow each kid's progress).
- ``GET  /api/teacher/estop/latency``: when each emergency stop reached the server and when each car's
  applied throttle was zero (server.teacher.estop_latency), so "STOP ALL within 50 ms" is measured.
- socket.io ``/teacher`` events ``turns`` (whenever a car's driver or turn queue changes, so the roster
  shows a shared car changing hands as it happens) and ``attempts_changed`` (the core's "attempt_graded").

Every endpoint goes through :func:`server.web.guards.require_teacher` (session cookie,
and the CSRF header for anything that changes state).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from server.teacher.api import class_code_of, roster
from server.teacher.estop_latency import EstopLatency
from server.teacher.hub import TEACHER_HUB
from server.teacher.progress import LessonMode, TeacherProgress, UnknownLesson
from server.teacher.progress_csv import progress_csv
from server.web.guards import require_teacher, teacher_scope
from server.web.http import json_error
from server.web.state import CLASSROOM, STORAGE
from server.web.tasks import periodic

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "static"
TURN_WATCH_S = 0.1  # a shared car changing hands shows on the console within a tenth of a second
ESTOP_LATENCY: web.AppKey[EstopLatency] = web.AppKey("estop_latency", EstopLatency)
PROGRESS: web.AppKey[TeacherProgress] = web.AppKey("teacher_progress", TeacherProgress)


# --- the page ---------------------------------------------------------------------------------


async def _index(request: web.Request) -> web.FileResponse:
    # no-cache: the page is tiny, and after an update a teacher must never run yesterday's console
    return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/teacher/")


# --- the class board --------------------------------------------------------------------------


def turn_snapshot(app: web.Application) -> dict[str, dict[str, Any]]:
    """Who drives each car now and who waits, in turn order (in-memory dispatcher state only)."""
    cars = {}
    for car_id, queue in sorted(app[CLASSROOM].dispatcher.cars.items()):
        cars[car_id] = {
            "driver_id": queue.running.kid_id if queue.running else None,
            "queue": [kid for kid, requests in queue.waiting.items() if requests],
            "estop": queue.estopped,
            "connected": queue.connected,
        }
    return cars


def board(app: web.Application, code: str, scope: Any = None) -> dict[str, Any]:
    """``scope``: the teacher's (server/core/tenancy.py): only the cars they may reach are listed."""
    classroom = app[CLASSROOM]
    progress = app[PROGRESS]
    names: dict[str, str] = {}
    kids = []
    for row in roster(app, code):
        kid = classroom.kid(row["kid_id"])
        names[kid.kid_id] = kid.name
        p = progress.for_kid(kid)
        kids.append({
            "kid_id": kid.kid_id, "name": kid.name, "level": kid.level, "car_id": row["car_id"],
            "state": row["status"], "queue_position": row["queue_position"] or None, "connected": row["online"],
            "lesson": p.current_lesson, "stars": p.total_stars, "best_stars": p.best_stars,
            "lessons_passed": p.lessons_passed, "last_attempt_at": p.last_attempt_at,
        })
    turns = turn_snapshot(app)
    cars = []
    for info in classroom.all_cars():
        if scope is not None and not classroom.tenancy.owns_car(scope, info.car_id):
            continue
        turn = turns.get(info.car_id, {})
        tel = classroom.latest_telemetry(info.car_id)
        driver = turn.get("driver_id")
        arena = classroom.arena_for_car(info.car_id)
        cars.append({
            **info.as_dict(), "estop": info.estopped, "driver_id": driver,
            "driver_name": names.get(driver) or (classroom.kid(driver).name if driver else None),
            "queue": turn.get("queue", []), "safety_state": tel.safety_state if tel else None,
            # which map the car is on: the class's, or a lesson's (the console draws each car on its own)
            "arena_name": arena.name, "in_lesson_arena": arena is not classroom.default_arena,
            # second connections refused for this car ({count, t, address}), or None (server/cars/hub.py)
            "refused": classroom.car_refusals.get(info.car_id),
        })
    cls = app[STORAGE].get_class(code)
    return {"code": code, "name": cls.name if cls else code, "kids": kids, "cars": cars,
            "arena": classroom.default_arena.model_dump(mode="json")}


async def get_board(request: web.Request) -> web.Response:
    scope = teacher_scope(request)
    return web.json_response(board(request.app, class_code_of(request), scope))


# --- progress: CSV, lessons -------------------------------------------------------------------


async def get_progress_csv(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    code = class_code_of(request)
    progress = request.app[PROGRESS]
    kids = request.app[CLASSROOM].kids_in_class(code)
    text = progress_csv(progress.lesson_columns(), [progress.csv_row(kid) for kid in kids])
    return web.Response(
        body=text.encode("utf-8"), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{code}-progress.csv"',
                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


async def get_lessons(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    code = class_code_of(request)
    return web.json_response({"code": code, "lessons": request.app[PROGRESS].lessons_for_class(code)})


def _lesson_mode_handler(mode: LessonMode):
    async def handler(request: web.Request) -> web.Response:
        require_teacher(request)
        code = class_code_of(request)
        lesson_id = request.match_info["lesson_id"]
        try:
            request.app[PROGRESS].set_lesson_mode(code, lesson_id, mode)
        except UnknownLesson:
            raise json_error(404, "lesson_id", f"there is no lesson {lesson_id!r}", lesson_id,
                             f"GET /api/teacher/classes/{code}/lessons lists them") from None
        return web.json_response({"code": code, "lesson_id": lesson_id, "mode": mode})
    return handler


# --- e-stop latency ---------------------------------------------------------------------------


async def get_estop_latency(request: web.Request) -> web.Response:
    scope = teacher_scope(request)
    tenancy = request.app[CLASSROOM].tenancy
    stops = []
    for stop in request.app[ESTOP_LATENCY].latest():  # only the stops, and cars, this teacher may see
        cars = [c for c in stop["cars"] if tenancy.owns_car(scope, c["car_id"])]
        if cars or scope.everything:
            stops.append({**stop, "cars": cars})
    return web.json_response({"stops": stops})


# --- live turn changes ------------------------------------------------------------------------


def _turn_watch():
    last: dict[str, Any] | None = None

    async def step(app: web.Application) -> None:
        nonlocal last
        snapshot = turn_snapshot(app)
        if snapshot != last:
            last = snapshot
            await app[TEACHER_HUB].push_cars("turns", {"cars": snapshot}, list(snapshot),
                                             lambda mine: {"cars": {c: snapshot[c] for c in mine}})
    return step


def _attempts_changed(app: web.Application):
    async def tell_consoles(kid_id: str, feedback: dict[str, Any]) -> None:
        """An attempt was graded (or overridden): the consoles' feeds refresh without a reload."""
        hub = app[TEACHER_HUB]
        await hub.push("attempts_changed", {"reason": "graded"}, visible=lambda sid: hub.sees_kid(sid, kid_id))
    return tell_consoles


def setup(app: web.Application) -> None:
    latency = EstopLatency()
    app[ESTOP_LATENCY] = latency
    app.middlewares.insert(0, latency.middleware)  # outermost: the receive time is taken first
    events = app[CLASSROOM].events
    events.subscribe("estop", latency.on_estop, scope="origin")  # timed where the teacher pressed it
    events.subscribe("telemetry", latency.on_telemetry)
    app[PROGRESS] = TeacherProgress(app)
    events.subscribe("attempt_graded", _attempts_changed(app))
    app.cleanup_ctx.append(periodic("turn watcher", TURN_WATCH_S, _turn_watch()))

    r = app.router
    r.add_get("/teacher", _to_index)
    r.add_get("/teacher/", _index)
    r.add_static("/teacher/", WEB_DIR, follow_symlinks=False)
    r.add_get("/api/teacher/classes/{code}/board", get_board)
    r.add_get("/api/teacher/classes/{code}/progress.csv", get_progress_csv)
    r.add_get("/api/teacher/classes/{code}/lessons", get_lessons)
    r.add_post("/api/teacher/classes/{code}/lessons/{lesson_id}/lock", _lesson_mode_handler("locked"))
    r.add_post("/api/teacher/classes/{code}/lessons/{lesson_id}/unlock", _lesson_mode_handler("open"))
    r.add_post("/api/teacher/classes/{code}/lessons/{lesson_id}/auto", _lesson_mode_handler("auto"))
    r.add_get("/api/teacher/estop/latency", get_estop_latency)
