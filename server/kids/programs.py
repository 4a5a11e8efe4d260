"""The Blockly app's server side: the page at /blockly/ and each kid's saved program.

- ``/blockly/`` serves blockly_app/ (index.html, src/, css/) and Blockly itself from node_modules
  (compressed UMD scripts, English messages, media) under ``/blockly/lib/``: no CDN, works offline.
- ``GET/PUT /api/programs/current`` (``Authorization: Bearer <kid token>``): the kid's current
  workspace, stored in its own table through the storage's migration mechanism.

Which blocks a program may use is the gate's rule (curriculum.gate.program_refusal, at every run).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from curriculum.program import detect_format
from server.core.types import MAX_PROGRAM_BYTES
from server.web.guards import bearer_kid
from server.web.http import json_error
from server.web.state import STORAGE

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "blockly_app"
BLOCKLY_DIR = REPO_ROOT / "node_modules" / "blockly"
BLOCKLY_SCRIPTS = ("blockly_compressed.js", "blocks_compressed.js", "javascript_compressed.js", "python_compressed.js")

MAX_SAVED_PROGRAM_BYTES = MAX_PROGRAM_BYTES  # the same cap as run_start: anything we save can be run

MIGRATION = ("blockly_programs:1", """
CREATE TABLE IF NOT EXISTS blockly_programs (
    kid_id TEXT PRIMARY KEY REFERENCES kids(kid_id), program TEXT NOT NULL, saved_at REAL NOT NULL)
""")


# --- saved programs ---------------------------------------------------------------------------------


def _bad_request(rule: str, message: str, fix: str, value: Any = None) -> web.HTTPException:
    return json_error(400, rule, message, value, fix)


async def get_current(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    rows = request.app[STORAGE].execute("SELECT program, saved_at FROM blockly_programs WHERE kid_id = ?", (kid.kid_id,))
    if not rows:
        return web.json_response({"program": None, "saved_at": None})
    return web.json_response({"program": json.loads(rows[0][0]), "saved_at": rows[0][1]})


async def put_current(request: web.Request) -> web.Response:
    kid = bearer_kid(request)
    raw = await request.read()
    if len(raw) > MAX_SAVED_PROGRAM_BYTES:
        raise _bad_request("program_size", f"the program is {len(raw)} bytes; the limit is {MAX_SAVED_PROGRAM_BYTES}",
                           "save a smaller program", len(raw))
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise _bad_request("program_json", f"the body is not JSON ({exc})"[:200], 'send {"program": <workspace JSON>}') from None
    except RecursionError:
        raise _bad_request("program_depth", "the program's stacks are nested too deep to read",
                           "split very long stacks into functions") from None
    program = body.get("program") if isinstance(body, dict) else None
    if not isinstance(program, dict) or detect_format(program) not in ("blockly", "empty"):
        raise _bad_request("program_shape", "program must be a Blockly workspace object ({\"blocks\": ...})",
                           'send {"program": Blockly.serialization.workspaces.save(workspace)}',
                           type(program).__name__)
    try:
        text = json.dumps(program, separators=(",", ":"))
    except RecursionError:  # Blockly nests every `next`: thousands of blocks in one stack
        raise _bad_request("program_depth", "the program's stacks are nested too deep to store",
                           "split very long stacks into functions") from None
    saved_at = time.time()
    request.app[STORAGE].execute(
        "INSERT INTO blockly_programs (kid_id, program, saved_at) VALUES (?, ?, ?) "
        "ON CONFLICT(kid_id) DO UPDATE SET program = excluded.program, saved_at = excluded.saved_at",
        (kid.kid_id, text, saved_at))
    return web.json_response({"saved_at": saved_at})


# --- the page ---------------------------------------------------------------------------------------


async def _redirect_to_app(request: web.Request) -> web.Response:
    raise web.HTTPFound("/blockly/")


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(APP_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def _file_route(path: Path):
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)
    return handler


def setup(app: web.Application) -> None:
    app[STORAGE].migrate(*MIGRATION)
    r = app.router
    r.add_get("/api/programs/current", get_current)
    r.add_put("/api/programs/current", put_current)
    r.add_get("/blockly", _redirect_to_app)
    r.add_get("/blockly/", _index)
    r.add_get("/blockly/index.html", _index)
    r.add_static("/blockly/src/", APP_DIR / "src")
    r.add_static("/blockly/css/", APP_DIR / "css")
    for name in BLOCKLY_SCRIPTS:
        r.add_get(f"/blockly/lib/blockly/{name}", _file_route(BLOCKLY_DIR / name))
    r.add_get("/blockly/lib/blockly/msg/en.js", _file_route(BLOCKLY_DIR / "msg" / "en.js"))
    r.add_static("/blockly/lib/blockly/media/", BLOCKLY_DIR / "media")
