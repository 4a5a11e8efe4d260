"""Kids: the /kid socket, the kid JSON API, saved programs and the Blockly page.

- socket.io ``/kid`` (``hub``): block, stop, run_start, run_end (with acks); pushes telemetry, level,
  car_status, safety, arena, feedback.
- Routes (``api``): GET /api/catalog, GET /api/lessons, POST /api/join, GET /api/cars, GET /api/arena;
  (``programs``): GET/PUT /api/programs/current, /blockly/ (the app and Blockly from node_modules).
- Subscribes to: level_changed, car_connected, car_disconnected, assignment_changed, safety,
  arena_changed, attempt_graded. Reports its sockets to the core's presence.
"""

from __future__ import annotations

from aiohttp import web

from server.kids import api, hub, programs


def setup(app: web.Application) -> None:
    api.setup(app)
    hub.setup(app)
    programs.setup(app)
