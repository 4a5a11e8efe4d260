"""Learned skills in the classroom: the catalog's menus, the cars' copies, teach jobs, the Skills page.

Routes: see server/skills/routes.py (kid: /api/skills/tricks, /api/skills/teach, /api/skills/jobs/{id};
teacher: /api/teacher/skills..., promote, rollback, teach from the expert; page /skills/).
Events: publishes ``skills_changed`` (a skill was promoted or rolled back: the kids' hub and Scratch
link tell their editors to reload the skill menu); listens to ``car_connected`` (the car gets every
promoted skill it lacks) and ``car_disconnected``. State: the files under ``<data_dir>/learning/``
(learning/store.py), shared with `dojo skills --data-dir <data_dir>`, watched every WATCH_S.
"""

from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from server.skills.deploy import Deployer
from server.skills.learned import WATCH_S, LearnedSkills
from server.skills.routes import DEPLOYER, JOBS, LEARNED, changed, setup_routes
from server.skills.teach import TeachJobs
from server.web.state import CLASSROOM, CONFIG
from server.web.tasks import periodic


def setup(app: web.Application) -> None:
    classroom = app[CLASSROOM]
    data_dir = app[CONFIG].data_dir
    learned = app[LEARNED] = LearnedSkills(data_dir)
    deployer = app[DEPLOYER] = Deployer(classroom, classroom.cars, learned)

    async def promoted(name: str) -> None:  # a teach job promoted a version
        await changed(app, name)

    app[JOBS] = TeachJobs(data_dir, on_promoted=promoted)
    classroom.events.subscribe("car_connected", deployer.deploy_to, scope="origin")  # our cars only
    classroom.events.subscribe("car_disconnected", deployer.forget, scope="origin")
    app.cleanup_ctx.append(_lifetime)
    app.cleanup_ctx.append(periodic("learned skills watch", WATCH_S, _watch))
    setup_routes(app)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    app[LEARNED].attach()
    yield
    app[LEARNED].detach()
    app[JOBS].close()


async def _watch(app: web.Application) -> None:
    """`dojo skills promote` or `rollback` in a terminal: the menus and the cars follow within WATCH_S."""
    if app[LEARNED].scan():
        app[CLASSROOM].events.publish("skills_changed", "")
        await app[DEPLOYER].deploy_all()
