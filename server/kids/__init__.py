"""Kids: the /kid socket, the kid JSON API, saved programs and the Blockly page."""

from __future__ import annotations

from aiohttp import web

from server.kids import api, hub, programs


def setup(app: web.Application) -> None:
    api.setup(app)
    hub.setup(app)
    programs.setup(app)
