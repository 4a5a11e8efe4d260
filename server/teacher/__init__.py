"""Teacher: the teacher API, the /teacher socket, the console page, progress, CSV, e-stop latency."""

from __future__ import annotations

from aiohttp import web

from server.teacher import api, console, hub


def setup(app: web.Application) -> None:
    api.setup(app)
    hub.setup(app)
    console.setup(app)
