"""Who is asking: the teacher (session cookie, and the CSRF header for changes) or a kid (bearer token).

Every feature's HTTP handlers and sockets use these, so the rule for each audience lives in one place.
The teacher's sessions live here too: the teacher feature logs in and out, others only check.
With teacher accounts (server/core/tenancy.py) each route also asks what the teacher may reach:
:func:`require_class`, :func:`require_car`, :func:`require_kid` answer 404 for another teacher's class,
car or kid (the same answer as for one that does not exist: nothing tells a teacher what others have),
and :func:`require_admin` 403 for an admin-only route.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from aiohttp import web

from server.core.auth import CSRF_HEADER, SESSION_COOKIE, AuthError, SessionStore, TeacherSession, csrf_ok
from server.core.tenancy import Scope
from server.core.types import Kid
from server.web.http import json_error
from server.web.state import CLASSROOM, CONFIG, STORAGE

TEACHER_SESSIONS: web.AppKey[SessionStore] = web.AppKey("teacher_sessions", SessionStore)


def teacher_session(request: web.Request) -> TeacherSession | None:
    return request.app[TEACHER_SESSIONS].get(request.cookies.get(SESSION_COOKIE))


def require_teacher(request: web.Request, *, csrf: bool = True) -> TeacherSession:
    """The teacher's session, or 401/403. ``csrf=True`` for anything that changes state."""
    session = teacher_session(request)
    if session is None:
        raise json_error(401, "teacher_login", "this needs the teacher to be logged in", None,
                         "log in at /teacher/ (POST /api/teacher/login)")
    if csrf and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise json_error(403, "csrf", f"missing or wrong {CSRF_HEADER} header", None,
                         f"send the csrf_token from login in the {CSRF_HEADER} header")
    return session


def scope_of(session: TeacherSession) -> Scope:
    return Scope.of(session.account, session.role)


def teacher_scope(request: web.Request) -> Scope:
    """What the logged-in teacher may reach (401 without a session)."""
    return scope_of(require_teacher(request, csrf=False))


def require_admin(request: web.Request, *, csrf: bool = True) -> TeacherSession:
    """An admin account's session, or 403 ``admin_only`` saying who asked and who can."""
    session = require_teacher(request, csrf=csrf)
    if session.role != "admin" or not session.account:
        who = f"teacher account {session.account!r}" if session.account else "the classroom password"
        raise json_error(403, "admin_only", f"only an admin account may do this ({who} is not one)",
                         session.account or None,
                         "log in with an admin account, or on the server: `dojo teacher add NAME --admin`")
    return session


def require_class(request: web.Request, code: str | None = None) -> str:
    """The class in the URL ({code}) if it exists and the teacher may reach it, else 404."""
    code = (code if code is not None else request.match_info["code"]).upper()
    scope = teacher_scope(request)
    tenancy = request.app[CLASSROOM].tenancy
    if request.app[STORAGE].get_class(code) is None or not tenancy.owns_class(scope, code):
        mine = "" if scope.everything else " of yours"
        raise json_error(404, "class_code", f"there is no class {code}{mine}", code,
                         "GET /api/teacher/classes lists your classes")
    return code


def require_car(request: web.Request, car_id: str | None = None) -> str:
    """The car in the URL ({car_id}) if it is known and the teacher may reach it, else 404."""
    car_id = car_id if car_id is not None else request.match_info["car_id"]
    scope = teacher_scope(request)
    classroom = request.app[CLASSROOM]
    if car_id not in {c.car_id for c in classroom.all_cars()} or not classroom.tenancy.owns_car(scope, car_id):
        mine = "" if scope.everything else " in your classes"
        raise json_error(404, "car_id", f"there is no car {car_id}{mine}", car_id,
                         "GET /api/teacher/cars lists your cars; a new car joins a class by pairing "
                         "(POST /api/teacher/pairing-codes {class_code})")
    return car_id


def require_kid(request: web.Request, kid_id: str) -> Kid:
    """The kid if they are in a class the teacher may reach, else 404."""
    classroom = request.app[CLASSROOM]
    try:
        kid = classroom.kid(kid_id)
    except PermissionError:
        kid = None
    if kid is None or not classroom.tenancy.owns_class(teacher_scope(request), kid.class_code):
        raise json_error(404, "kid_id", f"there is no kid {kid_id} in your classes", kid_id, "check the roster")
    return kid


def socket_teacher(app: web.Application, environ: dict[str, Any]) -> TeacherSession | None:
    """The teacher behind a socket.io handshake (its session cookie), or None."""
    try:
        morsel = SimpleCookie(environ.get("HTTP_COOKIE", "")).get(SESSION_COOKIE)
    except CookieError:
        return None
    return app[TEACHER_SESSIONS].get(morsel.value if morsel else None)


def bearer_kid(request: web.Request) -> Kid:
    """The kid behind ``Authorization: Bearer <token>``, or 401. Never from the URL: URLs end up in logs,
    history and Referer headers (an <img> gets a short-lived signed URL instead: server/lessons/routes.py)."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    if not token:
        raise json_error(401, "kid_token_missing", "this needs a kid token", None,
                         "send the header Authorization: Bearer <token> from POST /api/join")
    try:
        return request.app[CLASSROOM].auth_kid(token)
    except AuthError as exc:
        raise json_error(401, exc.rule, exc.message, None, "join the class again with its code and your name") from None


def setup(app: web.Application) -> None:
    config = app[CONFIG]
    app[TEACHER_SESSIONS] = SessionStore(app[STORAGE], config.timeouts.teacher_session_s, config.resolved_secret_key())
