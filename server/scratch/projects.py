"""The kid's Scratch project, kept on the server as they work (the editor saves it a moment after each change).

- ``GET /api/programs/scratch`` (``Authorization: Bearer <kid token>``): the last saved project as an
  ``.sb3`` file (application/x.scratch.sb3), or 204 when there is none yet.
- ``PUT /api/programs/scratch``: the project as ``vm.saveProjectSb3()`` makes it. It must be a real
  .sb3 (a zip with a ``project.json`` that has ``targets``), at most ``MAX_SB3_BYTES``; anything else is
  refused naming the rule and the fix, and the saved project stays as it was.

An .sb3 carries its costumes and sounds, so a project comes back whole after a reload or on another
computer; the bytes are stored as they came, so Scratch itself can open what we keep.
"""

from __future__ import annotations

import io
import json
import time
import zipfile

from aiohttp import web

from server.web.guards import bearer_kid
from server.web.http import json_error
from server.web.state import STORAGE

SB3_TYPE = "application/x.scratch.sb3"
MAX_SB3_BYTES = 3 * 1024 * 1024  # the cat and a few drawn costumes are ~100 KB; 3 MB leaves room for photos
MAX_UNZIPPED_BYTES = 30 * 1024 * 1024  # what those files may expand to (a zip bomb is refused, not unpacked)
MAX_PROJECT_JSON_BYTES = 5 * 1024 * 1024  # the code itself: thousands of blocks
READ_CHUNK = 64 * 1024

MIGRATION = ("scratch_projects:1", """
CREATE TABLE IF NOT EXISTS scratch_projects (
    kid_id TEXT PRIMARY KEY REFERENCES kids(kid_id), sb3 BLOB NOT NULL, saved_at REAL NOT NULL)
""")


def check_sb3(data: bytes) -> None:
    """Raise a 400 naming the rule unless `data` is an .sb3 Scratch can open again."""
    def bad(rule: str, message: str) -> web.HTTPException:
        return json_error(400, rule, message, len(data), "save the project from the Scratch editor (File > Save)")

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
                raise bad("sb3_unzipped_size", f"the project unpacks to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
            if "project.json" not in zf.namelist():
                raise bad("sb3_project_json", "the file has no project.json: it is not a Scratch 3 project")
            if zf.getinfo("project.json").file_size > MAX_PROJECT_JSON_BYTES:
                raise bad("sb3_project_json", "project.json is too big to be a kid's project")
            project = json.loads(zf.read("project.json"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, RecursionError, EOFError) as exc:
        raise bad("sb3_file", f"this is not a Scratch project file ({type(exc).__name__})") from None
    if not isinstance(project, dict) or not isinstance(project.get("targets"), list):
        raise bad("sb3_project_json", "project.json has no targets: it is not a Scratch 3 project")


async def get_project(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    rows = request.app[STORAGE].execute("SELECT sb3, saved_at FROM scratch_projects WHERE kid_id = ?", (kid.kid_id,))
    if not rows:
        return web.Response(status=204)
    return web.Response(body=bytes(rows[0][0]), content_type=SB3_TYPE,
                        headers={"Cache-Control": "no-store", "X-Saved-At": str(rows[0][1])})


async def put_project(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    data = bytearray()
    while chunk := await request.content.read(READ_CHUNK):
        data += chunk
        if len(data) > MAX_SB3_BYTES:
            raise json_error(413, "sb3_size", f"the project is bigger than {MAX_SB3_BYTES // 2**20} MB", len(data),
                             "take out big pictures or long sounds, then it saves again")
    check_sb3(bytes(data))
    saved_at = time.time()
    request.app[STORAGE].execute(
        "INSERT INTO scratch_projects (kid_id, sb3, saved_at) VALUES (?, ?, ?) "
        "ON CONFLICT(kid_id) DO UPDATE SET sb3 = excluded.sb3, saved_at = excluded.saved_at",
        (kid.kid_id, bytes(data), saved_at))
    return web.json_response({"saved_at": saved_at, "bytes": len(data)})


def setup(app: web.Application) -> None:
    app[STORAGE].migrate(*MIGRATION)
    app.router.add_get("/api/programs/scratch", get_project)
    app.router.add_put("/api/programs/scratch", put_project)
