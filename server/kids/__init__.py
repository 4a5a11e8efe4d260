"""Kids: the /kid socket, the kid JSON API, saved programs, the Blockly page and the shared kid UI.

- socket.io ``/kid`` (``hub``): block, stop, run_start, run_end (with acks); pushes telemetry, level,
  car_status, car_changed, safety, arena, feedback.
- Routes (``api``): GET /api/catalog, GET /api/lessons, POST /api/join, GET /api/cars, GET /api/arena;
  (``programs``): GET/PUT /api/programs/current, /blockly/ (the app and Blockly from node_modules);
  (``kid_ui``): /kid-ui/ (the browser modules both kid editors share).
- Subscribes to: level_changed, car_connected, car_disconnected, assignment_changed, car_changed, safety,
  arena_changed, attempt_graded. Reports its sockets to the core's presence.
"""

from __future__ import annotations

from aiohttp import web

from server.kids import api, hub, kid_ui, programs


def setup(app: web.Application) -> None:
    api.setup(app)
    hub.setup(app)
    programs.setup(app)
    kid_ui.setup(app)
