"""Plumbing every audience shares: app state keys, HTTP helpers, socket.io, CORS, telemetry fan-out,
vendored browser files, the arena page and the landing page at /."""

from __future__ import annotations

from aiohttp import web

from server.web import arena_page, fanout, landing_page, vendor


def setup(app: web.Application) -> None:
    fanout.setup(app)


def setup_pages(app: web.Application) -> None:
    """Static pages and files: registered last (their prefixes are catch-alls)."""
    arena_page.setup(app)
    landing_page.setup(app)
    vendor.setup(app)
