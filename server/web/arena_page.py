"""The live arena view: /arena/ (a canvas page drawn from telemetry) and its reusable ArenaView module."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

ARENA_WEB = Path(__file__).resolve().parent / "arena"


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(ARENA_WEB / "index.html", headers={"Cache-Control": "no-cache"})


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/arena/" + (f"?{request.query_string}" if request.query_string else ""))


def setup(app: web.Application) -> None:
    app.router.add_get("/arena", _redirect)
    app.router.add_get("/arena/", _index)
    app.router.add_static("/arena", ARENA_WEB)  # /arena/arena.js, /arena/arena.css (after the index route)
