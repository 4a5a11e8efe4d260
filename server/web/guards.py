"""Who is asking: the teacher (session cookie, and the CSRF header for changes) or a kid (bearer token).

Every feature's HTTP handlers and sockets use these, so the rule for each audience lives in one place.
The teacher's sessions live here too: the teacher feature logs in and out, others only check.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from aiohttp import web

from server.core.auth import CSRF_HEADER, SESSION_COOKIE, AuthError, SessionStore, TeacherSession, csrf_ok
from server.core.types import Kid
from server.web.http import json_error
from server.web.state import CLASSROOM, CONFIG

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
    app[TEACHER_SESSIONS] = SessionStore(app[CONFIG].timeouts.teacher_session_s)
