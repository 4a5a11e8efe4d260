"""Scratch: the Scratch-Link endpoint /scratch/ble, the extension file, the served editor and the kid's saved
project (/api/programs/scratch)."""

from __future__ import annotations

from aiohttp import web

from server.scratch import extension, link


def setup(app: web.Application) -> None:
    # Late: server.web.http imports server.kids at import time, and `dojo demo` imports this package first.
    from server.scratch import projects

    link.setup(app)
    extension.setup(app)
    projects.setup(app)
