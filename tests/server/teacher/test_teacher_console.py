"""The teacher console's own endpoints on a real app (no cars needed): the page and its modules, the
class board, lesson modes that the kids' lesson gate obeys, the progress CSV."""

from __future__ import annotations

import re
from typing import AsyncIterator

import aiohttp
import pytest

from server.core.auth import CSRF_HEADER
from server.core.config import ServerConfig
from server.runner import ServerHandle, start_server
from server.web.state import CLASSROOM

CLASS = "CONS"
PASSWORD = "teacher-pass-123"
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)  # loopback answers in milliseconds


@pytest.fixture
async def console(tmp_path) -> AsyncIterator[tuple[ServerHandle, aiohttp.ClientSession, str, dict]]:
    handle = await start_server(ServerConfig(port=0, data_dir=tmp_path, teacher_password=PASSWORD,
                                             default_class_code=CLASS))
    kid, token, _ = handle.app[CLASSROOM].join(CLASS, "Mia")
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{handle.base_url}/api/teacher/login", json={"password": PASSWORD}) as resp:
            csrf = (await resp.json())["csrf_token"]
        try:
            yield handle, http, csrf, {"kid": kid, "token": token}
        finally:
            await handle.close()


async def test_the_page_and_every_module_it_loads_are_served(console):
    handle, http, _, _ = console
    async with http.get(f"{handle.base_url}/teacher", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/teacher/"
    async with http.get(f"{handle.base_url}/teacher/") as resp:
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-cache"
        html = await resp.text()
    assert 'id="stop-all"' in html and "/vendor/socket.io.min.js" in html
    assert not re.search(r"https?://", html), "no CDN: the console works offline"
    pending, seen = ["console.js", "console.css"], set()
    while pending:  # follow the ES module imports: every file the browser will ask for exists
        name = pending.pop()
        seen.add(name)
        async with http.get(f"{handle.base_url}/teacher/{name}") as resp:
            assert resp.status == 200, name
            text = await resp.text()
        for dep in re.findall(r"from '\./([\w.]+)'", text):
            if dep not in seen:
                pending.append(dep)
    assert {"api.js", "roster.js", "cars.js", "attempts.js", "live_arena.js", "lessons.js", "ui.js"} <= seen
    async with http.get(f"{handle.base_url}/vendor/socket.io.min.js") as resp:
        assert resp.status == 200


async def test_the_board_shows_each_kid_with_level_lesson_stars_and_state(console):
    handle, http, _, ctx = console
    async with http.get(f"{handle.base_url}/api/teacher/classes/{CLASS}/board") as resp:
        board = await resp.json()
    [kid] = board["kids"]
    assert kid["name"] == "Mia" and kid["level"] == 1 and kid["state"] == "idle" and kid["stars"] == 0
    assert set(kid) >= {"kid_id", "car_id", "queue_position", "connected", "lesson", "lessons_passed", "last_attempt_at"}
    assert board["code"] == CLASS and "width_cm" in board["arena"]
    async with http.get(f"{handle.base_url}/api/teacher/classes/NOPE/board") as resp:
        assert resp.status == 404 and (await resp.json())["error"]["rule"] == "class_code"


async def kid_lessons(handle: ServerHandle, http: aiohttp.ClientSession, token: str) -> dict[str, dict]:
    async with http.get(f"{handle.base_url}/api/lessons", headers={"Authorization": f"Bearer {token}"}) as resp:
        return {l["id"]: l for l in (await resp.json())["lessons"]}


async def test_lesson_modes_lock_open_and_restore_what_the_kid_may_pick(console):
    handle, http, csrf, ctx = console
    base, headers = f"{handle.base_url}/api/teacher/classes/{CLASS}/lessons", {CSRF_HEADER: csrf}
    before = await kid_lessons(handle, http, ctx["token"])
    assert before["l1-wake-up"]["locked"] is False and before["l2-speed-run"]["locked"] is True
    for lesson_id, action in (("l1-wake-up", "lock"), ("l2-speed-run", "unlock")):
        async with http.post(f"{base}/{lesson_id}/{action}", headers=headers) as resp:
            assert resp.status == 200, await resp.text()
    now = await kid_lessons(handle, http, ctx["token"])
    assert now["l1-wake-up"]["locked"] is True and now["l2-speed-run"]["locked"] is False
    async with http.get(base) as resp:
        modes = {l["id"]: l["mode"] for l in (await resp.json())["lessons"]}
    assert modes["l1-wake-up"] == "locked" and modes["l2-speed-run"] == "open" and modes["l1-square-dance"] == "auto"
    async with http.post(f"{base}/l1-wake-up/auto", headers=headers) as resp:
        assert resp.status == 200
    assert (await kid_lessons(handle, http, ctx["token"]))["l1-wake-up"]["locked"] is False
    async with http.post(f"{base}/no-such-lesson/lock", headers=headers) as resp:
        error = (await resp.json())["error"]
        assert resp.status == 404 and error["rule"] == "lesson_id" and "lists them" in error["fix"]


async def test_progress_csv_downloads_as_an_attachment_with_a_row_per_kid(console):
    handle, http, csrf, ctx = console
    async with http.get(f"{handle.base_url}/api/teacher/classes/{CLASS}/progress.csv") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/csv")
        assert resp.headers["Content-Disposition"] == f'attachment; filename="{CLASS}-progress.csv"'
        text = (await resp.read()).decode("utf-8")
    assert text.startswith("\ufeffkid,level,lessons passed,")
    lines = text[1:].split("\r\n")
    assert lines[1].startswith("Mia,1,0,") and lines[2] == ""
