"""Teacher: the teacher API, the /teacher socket, the console page, progress, CSV and e-stop latency.

- Routes (``api``): /api/teacher/login, login-mode, logout, logout-everywhere, me, levels, classes, classes/{code}/roster,
  .../kids/{kid_id}/level, .../level, cars, requests, cars/{car_id}/assign|stop|reset, estop;
  (``console``): /teacher/ (``static/``), classes/{code}/board, progress.csv, lessons and their
  lock/unlock/auto, estop/latency; (``admin``) /api/admin/...: teacher accounts, whose class and car is whose.
- ``dojo teacher`` (server/teacher_accounts.py): the same accounts on the server's command line.
- socket.io ``/teacher`` (``hub``): pushes telemetry, safety, estop, roster_changed, activity, turns,
  attempts_changed.
- Subscribes to: safety, estop, block_result, kid_joined, level_changed, assignment_changed,
  car_connected, car_disconnected, run_started, run_ended, telemetry, attempt_graded. Reads lessons
  and progress through the core's lesson book, who is online through its presence.
"""

from __future__ import annotations

from aiohttp import web

from server.teacher import admin, api, console, hub


def setup(app: web.Application) -> None:
    api.setup(app)
    admin.setup(app)
    hub.setup(app)
    console.setup(app)
