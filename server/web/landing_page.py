"""``/``: the landing page. Four doors: a kid (Scratch or Blocks), the teacher (the console), the arena
view for a projector, and setting up cars and a home arena; with the address kids type and how many
cars are connected. Static: the page asks /api/health itself, and whether /setup/ exists on this server."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

LANDING_WEB = Path(__file__).resolve().parent / "landing"


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(LANDING_WEB / "index.html", headers={"Cache-Control": "no-cache"})


def setup(app: web.Application) -> None:
    app.router.add_get("/", _index)
    app.router.add_get("/index.html", _index)
    app.router.add_static("/landing", LANDING_WEB)
