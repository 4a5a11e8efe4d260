"""Scratch: the Scratch-Link endpoint /scratch/ble, the extension file and the served editor."""

from __future__ import annotations

from aiohttp import web

from server.scratch import extension, link


def setup(app: web.Application) -> None:
    link.setup(app)
    extension.setup(app)
