"""The Blockly app's server side: the page at /blockly/, each kid's saved program, and the program check.

- ``/blockly/`` serves blockly_app/ (index.html, src/, css/) and Blockly itself from node_modules
  (compressed UMD scripts, English messages, media) under ``/blockly/lib/``: no CDN, works offline.
- ``GET/PUT /api/programs/current`` (``Authorization: Bearer <kid token>``): the kid's current
  workspace, stored in its own table through the storage's migration mechanism.
- The PROGRAM CHECK (``classroom.program_checks``): when a Blockly program is run, every block in it is
  checked against the kid's level. The toolbox alone does not stop a hand-edited file, so a locked
  block or skill is refused here with a sentence naming it, before anything moves.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

from aiohttp import web

from curriculum.gate import Refusal
from curriculum.levels import LEVELS, unlock_level_for_block, unlock_level_for_skill
from curriculum.program import ProgramError, blockly_top_blocks, detect_format
from curriculum.catalog import BLOCKLY_TYPES
from server.core.classroom import Kid
from server.web.http import bearer_kid, json_error
from server.kids.messages import MAX_PROGRAM_BYTES
from server.web.state import CLASSROOM, STORAGE

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "blockly_app"
BLOCKLY_DIR = REPO_ROOT / "node_modules" / "blockly"
BLOCKLY_SCRIPTS = ("blockly_compressed.js", "blocks_compressed.js", "javascript_compressed.js", "python_compressed.js")

MAX_PROGRAM_BLOCKS = 2000  # a big kid program has ~200 blocks; more is a pasted file, not a program
MAX_SAVED_PROGRAM_BYTES = MAX_PROGRAM_BYTES  # the same cap as run_start: anything we save can be run

# Blockly's own blocks the app's toolbox offers (blockly_app/src/toolbox.js standardBlockTypes();
# tests/node/blockly_catalog.test.mjs keeps the two lists equal). Anything else is refused.
STANDARD_BLOCKLY_TYPES = frozenset({
    "controls_repeat_ext", "controls_whileUntil", "controls_for", "controls_flow_statements", "controls_if",
    "logic_compare", "logic_operation", "logic_negate", "logic_boolean",
    "math_number", "math_arithmetic", "math_random_int", "math_modulo", "math_round", "math_change",
    "variables_get", "variables_set",
    "procedures_defnoreturn", "procedures_defreturn", "procedures_callnoreturn", "procedures_callreturn",
    "procedures_ifreturn",
})

MIGRATION = ("blockly_programs:1", """
CREATE TABLE IF NOT EXISTS blockly_programs (
    kid_id TEXT PRIMARY KEY REFERENCES kids(kid_id), program TEXT NOT NULL, saved_at REAL NOT NULL)
""")


# --- the program check ----------------------------------------------------------------------------


def _disabled(block: dict[str, Any]) -> bool:
    """A block the kid switched off ("Disable block"): Blockly generates no code for it or its inputs."""
    reasons = block.get("disabledReasons")
    return bool(reasons) if isinstance(reasons, list) else block.get("enabled") is False


def _walk(tops: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every block that can run (shadows too) in reading order, without recursion (a deeply nested file
    cannot blow the stack). A disabled block is skipped with its inputs; the blocks under it still run."""
    stack = list(reversed(tops))
    while stack:
        block = stack.pop()
        if not isinstance(block, dict):
            continue
        children: list[dict[str, Any]] = []
        if not _disabled(block):
            yield block
            inputs = block.get("inputs")
            for slot in inputs.values() if isinstance(inputs, dict) else ():
                if isinstance(slot, dict):
                    for key in ("block", "shadow"):
                        if isinstance(slot.get(key), dict):
                            children.append(slot[key])
        nxt = block.get("next")
        if isinstance(nxt, dict) and isinstance(nxt.get("block"), dict):
            children.append(nxt["block"])
        stack.extend(reversed(children))


def _words(block_id: str) -> str:
    return block_id.replace("_", " ")


def _skill_of(block: dict[str, Any]) -> str:
    fields = block.get("fields") if isinstance(block.get("fields"), dict) else {}
    return str(fields.get("SKILL", ""))


def check_blockly_program(level_number: int, program: Any) -> Refusal | None:
    """The first block (in reading order) this level may not run, as a refusal naming it; None if all fine."""
    try:
        if detect_format(program) != "blockly":
            return None  # Scratch projects and Python text are checked by their own front ends' rules
        tops = blockly_top_blocks(program)
    except ProgramError as exc:
        return Refusal("program_unreadable", "I can't read this program file — try saving it again.",
                       f"program_unreadable: {exc}", None)
    level = LEVELS[level_number]
    for count, block in enumerate(_walk(tops), start=1):
        if count > MAX_PROGRAM_BLOCKS:
            return Refusal("program_too_big", f"This program has more than {MAX_PROGRAM_BLOCKS} blocks — try a smaller one.",
                           f"program_too_big: over {MAX_PROGRAM_BLOCKS} blocks", count, MAX_PROGRAM_BLOCKS)
        kind = block.get("type")
        if kind in STANDARD_BLOCKLY_TYPES:
            continue
        where = f"(block {block.get('id')})" if isinstance(block.get("id"), str) else ""
        block_id = BLOCKLY_TYPES.get(kind) if isinstance(kind, str) else None
        if block_id is None:
            shown = str(kind)[:40]
            return Refusal("program_unknown_block", f"I don't know the block '{shown}' — it isn't a MIKRO-DOJO block.",
                           f"program_unknown_block: {shown!r} is not in the catalog or the toolbox {where}", shown)
        if not level.allows_block(block_id):
            unlock = unlock_level_for_block(block_id)
            return Refusal("program_block_locked", f"The '{_words(block_id)}' block unlocks at level {unlock}.",
                           f"program_block_locked: {kind} needs level {unlock}, kid is level {level_number} {where}",
                           block_id, unlock)
        if block_id == "do_skill":
            skill = _skill_of(block)
            if not level.allows_skill(skill):
                unlock = unlock_level_for_skill(skill)
                when = f"unlocks at level {unlock}" if unlock else "is not a skill this class has"
                return Refusal("program_skill_locked", f"The '{_words(skill)}' skill {when}.",
                               f"program_skill_locked: {skill!r} needs level {unlock}, kid is level {level_number} {where}",
                               skill, unlock)
    return None


def program_check(kid: Kid, program: Any) -> Refusal | None:
    """Registered in classroom.program_checks: runs on every run_start."""
    return check_blockly_program(kid.level, program)


# --- saved programs ---------------------------------------------------------------------------------


def _kid_from_request(request: web.Request) -> Kid:
    return bearer_kid(request, request.app[CLASSROOM])


def _bad_request(rule: str, message: str, fix: str, value: Any = None) -> web.HTTPException:
    return json_error(400, rule, message, value, fix)


async def get_current(request: web.Request) -> web.Response:
    kid = _kid_from_request(request)
    rows = request.app[STORAGE].execute("SELECT program, saved_at FROM blockly_programs WHERE kid_id = ?", (kid.kid_id,))
    if not rows:
        return web.json_response({"program": None, "saved_at": None})
    return web.json_response({"program": json.loads(rows[0][0]), "saved_at": rows[0][1]})


async def put_current(request: web.Request) -> web.Response:
    kid = _kid_from_request(request)
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
    app[CLASSROOM].program_checks.append(program_check)
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
