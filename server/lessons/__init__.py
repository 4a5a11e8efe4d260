"""Lessons: a run on a lesson is an attempt, recorded, graded and turned into feedback.

- ``store`` (the attempts table, the lesson picks and locks) <- ``service`` (recording, grading, the
  core's lesson book in ``app[LESSONS]``) <- ``routes`` (HTTP), one way only.
- Routes: POST /api/lessons/select, GET /api/attempts, /api/attempts/compare, /api/attempts/{id},
  /api/attempts/{id}/images/{name}, GET /api/teacher/attempts, POST /api/teacher/attempts/{id}/override,
  POST /api/teacher/kids/{kid_id}/lessons/{lesson_id}/lock|unlock.
- Subscribes to: run_started, run_ended, telemetry, estop. Publishes: attempt_graded. Registers a
  program check (a lesson's blocks, the gate's lesson rule).
"""

from __future__ import annotations

from aiohttp import web

from server.lessons import routes, service


def setup(app: web.Application) -> None:
    service.setup(app)
    routes.setup_routes(app)
