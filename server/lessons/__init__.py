"""Lessons: attempts are recorded, graded and turned into feedback; the lesson and attempt HTTP API."""

from __future__ import annotations

from aiohttp import web

from server.lessons import routes, service


def setup(app: web.Application) -> None:
    service.setup(app)
    routes.setup_routes(app)
