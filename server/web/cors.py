"""CORS for the kid-facing JSON API (join, catalog, cars, arena, lessons, health).

Only origins in ``allowed_origins`` (e.g. https://turbowarp.org for the Scratch extension) get CORS
headers, and never with credentials: kids authenticate with a bearer token, not a cookie. Teacher
endpoints never answer cross-origin requests (their cookie is SameSite=Strict besides).
"""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from server.web.origin import OriginRule
from server.web.state import CONFIG

PREFLIGHT_MAX_AGE_S = 600  # browsers may cache the preflight for 10 minutes
PUBLIC_PREFIX = "/api/"
PRIVATE_PREFIX = "/api/teacher/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _allowed(request: web.Request) -> str | None:
    path = request.path
    if not path.startswith(PUBLIC_PREFIX) or path.startswith(PRIVATE_PREFIX):
        return None
    return OriginRule(request.app[CONFIG].allowed_origins).cors_origin(request.headers.get("Origin"))


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = _allowed(request)
    if request.method == "OPTIONS" and origin and request.headers.get("Access-Control-Request-Method"):
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Content-Type, Authorization",
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S)})
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if origin:
            exc.headers["Access-Control-Allow-Origin"] = origin
            exc.headers["Vary"] = "Origin"
        raise
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def setup(app: web.Application) -> None:
    app.middlewares.append(cors_middleware)
