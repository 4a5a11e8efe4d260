"""``/kid-ui/``: the browser modules both kid editors share (kid_ui/): the kid HTTP API client, the lesson
picker and card, the feedback card and "my tries", the "is that you?" question, and their stylesheet.
The Blockly app and the Scratch editor import them from here, so a kid sees one lesson panel in both."""

from __future__ import annotations

from aiohttp import web

from server.web.vendor import REPO_ROOT

KID_UI_DIR = REPO_ROOT / "kid_ui"


def setup(app: web.Application) -> None:
    app.router.add_static("/kid-ui/", KID_UI_DIR, follow_symlinks=False)
