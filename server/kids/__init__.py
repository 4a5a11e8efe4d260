"""Kids: the /kid socket, the kid JSON API, saved programs, the Blockly page and the shared kid UI (/kid-ui/)."""

from __future__ import annotations

from aiohttp import web

from server.kids import api, hub, kid_ui, programs


def setup(app: web.Application) -> None:
    api.setup(app)
    hub.setup(app)
    programs.setup(app)
    kid_ui.setup(app)
