"""Pairing over HTTP: the console's "Add a car" asks for a code, the car trades it for its token.

    POST /api/teacher/pairing-codes        teacher + CSRF   {car_id?} -> {code, expires_at, qr_svg, command}
    GET  /api/teacher/pairing-codes/{code} teacher          -> {code, state, expires_at, car_id, connected}
    POST /api/cars/pair                    the car          {code, car_id, kind, hardware, protocol}
                                                            -> {car_id, token, server_url} (robot_runtime/pairing.py)

``command`` is exactly what to type on the car, with the address a car on the classroom network can reach
(the one the teacher's browser used, or this machine's LAN address when that was 127.0.0.1 and the server
listens on every interface); ``qr_svg`` is the same command as a QR code (segno, an SVG the page can
inline), for a phone to copy it. ``expires_at`` is wall time in seconds since the epoch. The rules are
in pairing.py.
"""

from __future__ import annotations

import io
import re
import socket
from typing import Annotated

import segno
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

from robot_runtime.protocol import CarId
from server.cars.pairing import PairingBook, PairingCode
from server.core.types import ClassroomError
from server.web.guards import require_car, require_class, require_teacher, scope_of
from server.web.http import http_error, json_error, read_json
from server.web.state import CLASSROOM, CONFIG, STORAGE

PAIRING: web.AppKey[PairingBook] = web.AppKey("pairing", PairingBook)
QR_QUIET_ZONE = 4  # modules of white around the code: what the QR standard asks for, so phones find it
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")  # a Host header we repeat
_ALL_INTERFACES = ("0.0.0.0", "::", "")


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    car_id: CarId | None = None  # re-pair this car (its old token stops working); None: a new car
    class_code: Annotated[str, Field(min_length=3, max_length=8)] | None = None  # the class the car joins


class PairBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=40)]
    car_id: CarId | None = None
    kind: Annotated[str, Field(pattern=r"^(sim|real)$")] = "real"
    hardware: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[a-z0-9_]+$")]
    protocol: Annotated[int, Field(ge=0, le=1000)]


def lan_address() -> str | None:
    """This machine's address on the network it would route to (a UDP "connect" sends no packet)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return None


def car_facing_url(request: web.Request) -> str:
    """The server's address as a car on the classroom network should type it."""
    config = request.app[CONFIG]
    url = URL(f"{request.scheme}://{request.host}") if _HOST_RE.match(request.host or "") else \
        URL(f"http://127.0.0.1:{config.port}")
    loopback = url.host in ("localhost", "::1") or (url.host or "").startswith("127.")
    if loopback and config.host in _ALL_INTERFACES and (lan := lan_address()):
        url = url.with_host(lan)
    return str(url.origin())


def qr_svg(text: str) -> str:
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", xmldecl=False, svgns=True, omitsize=True, border=QR_QUIET_ZONE,
                                      dark="#000", light="#fff", title="Pairing code", svgclass="pair-qr", lineclass=None,
                                      nl=False)
    return buf.getvalue().decode()


def pair_command(url: str, code: str) -> str:
    return f"dojo car pair {url} {code}"


async def new_code(request: web.Request) -> web.Response:
    session = require_teacher(request)
    body = await read_json(request, CodeBody)
    class_code = _class_for_new_car(request, scope_of(session).everything, body.class_code)
    if body.car_id is not None and body.car_id in {c.car_id for c in request.app[CLASSROOM].all_cars()}:
        require_car(request, body.car_id)  # re-pairing another teacher's car: 404, like a made-up one
    made: PairingCode = request.app[PAIRING].new_code(body.car_id, class_code)
    command = pair_command(car_facing_url(request), made.code)
    return web.json_response({"code": made.code, "expires_at": made.expires_at, "qr_svg": qr_svg(command),
                              "command": command}, status=201)


def _class_for_new_car(request: web.Request, sees_everything: bool, class_code: str | None) -> str | None:
    """The class a paired car will belong to. A teacher account's car always joins one of their classes (the
    one named, or their only one); the single-password teacher's and an admin's may join none (today's
    one classroom)."""
    if class_code is not None:
        return require_class(request, class_code)
    if sees_everything:
        return None
    tenancy = request.app[CLASSROOM].tenancy
    mine = tenancy.class_codes(scope_of(require_teacher(request, csrf=False)))
    if len(mine) == 1:
        return mine[0]
    raise json_error(400, "pair_class", f"say which of your {len(mine)} classes the car joins" if mine else
                     "you have no class yet for the car to join", None,
                     "send {\"class_code\": \"...\"}" if mine else "create a class first (POST /api/teacher/classes)")


async def code_status(request: web.Request) -> web.Response:
    require_teacher(request, csrf=False)
    code = request.match_info["code"]
    status = request.app[PAIRING].status(code)
    tenancy, scope = request.app[CLASSROOM].tenancy, scope_of(require_teacher(request, csrf=False))
    if status is not None and not scope.everything and \
            (status.class_code is None or not tenancy.owns_class(scope, status.class_code)):
        status = None  # another teacher's code: as unknown as a made-up one
        raise json_error(404, "pair_code_unknown", f"there is no pairing code {code}", code,
                         "POST /api/teacher/pairing-codes makes one")
    connected = bool(status.car_id) and request.app[CLASSROOM].dispatcher.is_connected(status.car_id)
    return web.json_response({"code": code.upper(), "state": status.state, "expires_at": status.expires_at,
                              "car_id": status.car_id, "connected": connected})


async def pair(request: web.Request) -> web.Response:
    body = await read_json(request, PairBody)
    try:
        car_id, token = request.app[PAIRING].pair(body.code, body.car_id, body.kind, body.hardware, body.protocol,
                                                  request.remote or "?")
    except ClassroomError as exc:
        raise http_error(exc) from None
    return web.json_response({"car_id": car_id, "token": token, "server_url": f"{request.scheme}://{request.host}"})


def setup(app: web.Application) -> None:
    config, classroom = app[CONFIG], app[CLASSROOM]
    app[PAIRING] = PairingBook(app[STORAGE], lambda: set(config.car_tokens) | {c.car_id for c in classroom.all_cars()})
    app.router.add_post("/api/teacher/pairing-codes", new_code)
    app.router.add_get("/api/teacher/pairing-codes/{code}", code_status)
    app.router.add_post("/api/cars/pair", pair)
