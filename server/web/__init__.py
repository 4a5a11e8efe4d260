"""Plumbing every audience shares. No feature logic; every feature may use it.

- ``state``: the typed app keys (CONFIG, CLASSROOM, STORAGE, SIO, LESSONS); ``guards``: who is asking
  (the teacher's session and CSRF, a kid's bearer token; the teacher sessions live here);
  ``errors`` / ``http``: errors on the wire; ``origin``: the one origin rule; ``cors``: CORS for /api/;
  ``sio_server``: the socket.io server; ``fanout``: the telemetry coalescer (FANOUT); ``tasks``:
  periodic background work; ``vendor``: /vendor/ files from node_modules; ``arena_page``: /arena/;
  ``landing_page``: the landing page at /.
- Routes: ``GET /vendor/socket.io.min.js``, ``/vendor/<module>/``, ``GET /arena/`` (+ arena.js, arena.css),
  ``GET /`` (+ /landing/).
- Subscribes to: telemetry (the fan-out).
"""

from __future__ import annotations

from aiohttp import web

from server.web import arena_page, fanout, guards, landing_page, vendor


def setup(app: web.Application) -> None:
    guards.setup(app)
    fanout.setup(app)


def setup_pages(app: web.Application) -> None:
    """Static pages and files: registered last (their prefixes are catch-alls)."""
    arena_page.setup(app)
    landing_page.setup(app)
    vendor.setup(app)
