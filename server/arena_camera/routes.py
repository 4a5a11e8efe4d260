"""The arena camera's and the set-up wizard's HTTP API (the teacher's session: at home, the parent).

    GET  /setup/                          the wizard page (static/)
    GET  /api/setup                       teacher          -> {state, steps, camera, cars_connected, cars_paired}
    POST /api/setup/camera                teacher + CSRF   {source: "sim" | "browser" | "usb:0" | URL}
    GET  /api/setup/markers.pdf           teacher          ?paper=a4|letter&cars=N -> the marker sheets (PDF)
    POST /api/setup/measure               teacher + CSRF   {width_cm} -> {width_cm, height_cm, error_cm, light, tips}
    GET  /api/setup/lens                  teacher          -> the lens board: {collecting, views, needed, ready, ...}
    POST /api/setup/lens/start            teacher + CSRF   look for the lens board in every picture (from no views)
    POST /api/setup/lens/finish           teacher + CSRF   fit the lens -> {..., result: {rms_px, light, words}}
    POST /api/setup/lens/stop             teacher + CSRF   stop looking (nothing measured)
    POST /api/setup/cars                  teacher + CSRF   {car_id, marker_id?, height_cm?} -> the car's roof marker
    POST /api/setup/test-drive            teacher + CSRF   {car_id} -> drift, trim, speed model
    POST /api/setup/save                  teacher + CSRF   {name?} -> {path, yaml, lessons: [fit per lesson]}
    GET  /api/setup/lessons               teacher          -> which lessons fit the measured arena
    POST /api/setup/reset                 teacher + CSRF   start over (the camera's calibration stays)
    GET  /api/camera                      teacher          -> the camera's summary (source, state, result)
    GET  /api/camera/preview.jpg          teacher          -> the latest picture with the tracking drawn on it

Every refusal is {"error": {rule, message, value, fix}} in plain words; nothing here stops the camera.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from robot_runtime.arena import Arena
from server.arena_camera.camera import ArenaCamera
from server.arena_camera.wizard import Wizard, WizardError
from server.web.guards import require_teacher
from server.web.http import json_error, read_json

STATIC = Path(__file__).resolve().parent / "static"
CAMERA: web.AppKey[ArenaCamera] = web.AppKey("arena_camera", ArenaCamera)
WIZARD: web.AppKey[Wizard] = web.AppKey("setup_wizard", Wizard)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CameraBody(_Body):
    source: str = Field(min_length=1, max_length=500)


class MeasureBody(_Body):
    width_cm: Any = None


class CarBody(_Body):
    car_id: str = Field(min_length=1, max_length=32)
    marker_id: int | None = None
    height_cm: Any = 12.0


class DriveBody(_Body):
    car_id: str = Field(min_length=1, max_length=32)


class SaveBody(_Body):
    name: str | None = Field(default=None, max_length=60)


def _refused(exc: WizardError, status: int = 400) -> web.HTTPException:
    p = exc.problem
    return json_error(status, p.code, p.message, None, p.fix)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/setup/")


async def get_state(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    await request.app[CAMERA].ensure_started()
    return web.json_response(request.app[WIZARD].view())


async def choose_camera(request: web.Request) -> web.Response:
    require_teacher(request)
    body = await read_json(request, CameraBody)
    try:
        await request.app[WIZARD].choose_camera(body.source)
    except WizardError as exc:
        raise _refused(exc) from None
    return web.json_response(request.app[WIZARD].view())


async def markers_pdf(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    paper = request.query.get("paper", "a4").lower()
    try:
        cars = int(request.query.get("cars", "4"))
    except ValueError:
        raise json_error(400, "bad_cars", "cars must be a whole number", request.query.get("cars"), "like 4") from None
    try:
        pdf = request.app[WIZARD].sheets(paper, cars)
    except WizardError as exc:
        raise _refused(exc) from None
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="mikrodojo-markers-{paper}.pdf"'})


async def measure(request: web.Request) -> web.Response:
    require_teacher(request)
    body = await read_json(request, MeasureBody)
    try:
        result = await request.app[WIZARD].measure(body.width_cm)
    except WizardError as exc:
        raise _refused(exc) from None
    return web.json_response(result)


async def lens_status(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    return web.json_response(request.app[WIZARD].lens_status())


async def lens_start(request: web.Request) -> web.Response:
    require_teacher(request)
    try:
        return web.json_response(request.app[WIZARD].lens_start())
    except WizardError as exc:
        raise _refused(exc) from None


async def lens_finish(request: web.Request) -> web.Response:
    require_teacher(request)
    try:
        return web.json_response(await request.app[WIZARD].lens_finish())
    except WizardError as exc:
        raise _refused(exc) from None


async def lens_stop(request: web.Request) -> web.Response:
    require_teacher(request)
    return web.json_response(await request.app[WIZARD].lens_stop())


async def add_car(request: web.Request) -> web.Response:
    require_teacher(request)
    body = await read_json(request, CarBody)
    try:
        return web.json_response(request.app[WIZARD].add_car(body.car_id, body.marker_id, body.height_cm))
    except WizardError as exc:
        raise _refused(exc) from None


async def test_drive(request: web.Request) -> web.Response:
    require_teacher(request)
    body = await read_json(request, DriveBody)
    try:
        return web.json_response(await request.app[WIZARD].test_drive(body.car_id))
    except WizardError as exc:
        raise _refused(exc) from None


async def save(request: web.Request) -> web.Response:
    require_teacher(request)
    body = await read_json(request, SaveBody)
    try:
        return web.json_response(request.app[WIZARD].save(body.name))
    except WizardError as exc:
        raise _refused(exc) from None


async def lessons(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    wizard = request.app[WIZARD]
    if "arena" not in wizard.state:
        raise json_error(409, "not_calibrated", "The floor is not measured yet.", None, "Do step 4 first.")
    return web.json_response({"lessons": wizard.lesson_fits(Arena.model_validate(wizard.state["arena"]))})


async def reset(request: web.Request) -> web.Response:
    require_teacher(request)
    request.app[WIZARD].reset()
    return web.json_response(request.app[WIZARD].view())


async def camera_summary(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    await request.app[CAMERA].ensure_started()
    return web.json_response(request.app[CAMERA].summary())


async def preview(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    await request.app[CAMERA].ensure_started()
    data = await asyncio.to_thread(request.app[CAMERA].preview_jpeg)  # drawing + JPEG: ~10 ms at 1280x720
    if data is None:
        raise json_error(404, "no_picture", "The camera has not sent a picture yet.", None,
                         "Choose a camera in the set-up wizard (/setup/).")
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/setup", get_state)
    r.add_post("/api/setup/camera", choose_camera)
    r.add_get("/api/setup/markers.pdf", markers_pdf)
    r.add_post("/api/setup/measure", measure)
    r.add_get("/api/setup/lens", lens_status)
    r.add_post("/api/setup/lens/start", lens_start)
    r.add_post("/api/setup/lens/finish", lens_finish)
    r.add_post("/api/setup/lens/stop", lens_stop)
    r.add_post("/api/setup/cars", add_car)
    r.add_post("/api/setup/test-drive", test_drive)
    r.add_post("/api/setup/save", save)
    r.add_get("/api/setup/lessons", lessons)
    r.add_post("/api/setup/reset", reset)
    r.add_get("/api/camera", camera_summary)
    r.add_get("/api/camera/preview.jpg", preview)


def setup_pages(app: web.Application) -> None:
    app.router.add_get("/setup", redirect)
    app.router.add_get("/setup/", page)
    app.router.add_static("/setup", STATIC)
