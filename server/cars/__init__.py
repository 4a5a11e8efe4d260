"""Cars: the /car socket, the one adapter between the classroom and the cars."""

from __future__ import annotations

from aiohttp import web

from server.cars import hub


def setup(app: web.Application) -> None:
    hub.setup(app)
