"""The drive page: a kid (or the teacher) drives a car by hand to show it a trick.

Routes: /drive/ (the page, static/: keyboard, gamepad and touch arrows; "Teach" calls server/skills'
/api/skills/teach and shows the job's progress, loss plot and the evaluated trajectories).
Namespace: ``/drive`` (hub.py: start, steer, end; drive_state, drive_ended).
Events: listens to ``telemetry`` while a drive runs (the recording). Each drive is kept as an episode
under ``<data_dir>/learning/drives/<kid>/<trick>/`` (learning/drives.py).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from learning.drives import DriveLog
from server.drive.hub import DriveHub
from server.web.state import CLASSROOM, CONFIG, SIO

WEB_DIR = Path(__file__).resolve().parent / "static"
DRIVE_HUB: web.AppKey[DriveHub] = web.AppKey("drive_hub", DriveHub)


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _to_page(request: web.Request) -> web.Response:
    raise web.HTTPFound("/drive/")


def setup(app: web.Application) -> None:
    hub = app[DRIVE_HUB] = DriveHub(app[CLASSROOM], DriveLog(Path(app[CONFIG].data_dir) / "learning"))
    app[SIO].register_namespace(hub)
    app.router.add_get("/drive", _to_page)
    app.router.add_get("/drive/", _page)
    app.router.add_static("/drive/static/", WEB_DIR, follow_symlinks=False)
