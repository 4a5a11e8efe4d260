"""Tell the car: a kid's sentence becomes blocks in their own editor (docs/language.md).

Routes: GET/POST /api/plan (kid), GET /api/teacher/classes/{code}/plans, POST .../plans/switch (teacher),
/language/ (the console's panel). Events: listens to ``run_started`` (a run using a plan's blocks is noted on the
plan). State: the ``plans`` table and the ``language_switch`` key-value namespace. It talks to the rest of the
server only through the core (the classroom, its gate, storage, the lesson book).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from curriculum.loader import load_lessons
from curriculum.planner import Planner
from server.language.routes import PLANS, setup_routes
from server.language.service import MIGRATION, PlanService, planner_config
from server.web.state import CLASSROOM, CONFIG, LESSONS, STORAGE


def setup(app: web.Application) -> None:
    app[STORAGE].migrate(*MIGRATION)
    lessons, _errors = load_lessons(strict=False)  # the lessons feature reports broken files; here they are skipped
    service = PlanService(app[CLASSROOM], app[STORAGE], app[LESSONS], lessons,
                          Planner(planner_config(Path(app[CONFIG].data_dir))))
    app[PLANS] = service
    app[CLASSROOM].events.subscribe("run_started", service.on_run_started, scope="origin")
    setup_routes(app)
