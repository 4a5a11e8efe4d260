"""Plumbing every audience shares: app state keys, HTTP helpers, socket.io, CORS, telemetry fan-out,
vendored browser files and the arena page."""

from __future__ import annotations

from aiohttp import web

from server.web import arena_page, fanout, vendor


def setup(app: web.Application) -> None:
    fanout.setup(app)


def setup_pages(app: web.Application) -> None:
    """Static pages and files: registered last (their prefixes are catch-alls)."""
    arena_page.setup(app)
    vendor.setup(app)
