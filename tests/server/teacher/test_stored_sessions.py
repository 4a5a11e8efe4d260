"""Teacher sessions live in the Storage (issue 14): a restart, or another process on the same database,
keeps the teacher logged in; only a hash of the session id is stored; "log out everywhere" ends every
session of the teacher, also from another process (`dojo teacher logout`); sessions expire.

Real servers on real ports over one real SQLite database, real socket.io clients; the expiry tests use the
real SqliteStorage with an injected clock.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
from accounts_harness import PASSWORDS, RecordingTeacherSocket, cookie_of, login, make_accounts
from core_harness import classroom_server, wait_for

from server.core.auth import SESSION_RECHECK_S, SessionStore, session_hash
from server.core.config import ServerConfig
from server.core.storage import SqliteStorage

REPO = Path(__file__).resolve().parents[3]
CLI_TIMEOUT_S = 60.0  # a fresh Python process importing the server on a busy machine
SWEEP_WAIT_S = 5.0  # SESSION_SWEEP_S (1 s) + SESSION_RECHECK_S (1 s), with room for a loaded machine


async def me_with_cookie(url: str, cookie: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/teacher/me", headers={"Cookie": f"dojo_teacher={cookie}"}) as resp:
            return resp.status, await resp.json()


async def test_a_restart_keeps_the_teacher_logged_in_in_both_modes_and_stores_only_a_hash(tmp_path):
    # single-password mode: today's classroom
    async with classroom_server(tmp_path / "single") as srv:
        teacher = await srv.teacher()
        cookie, csrf = cookie_of(teacher), teacher.csrf
        await teacher.http.close()
    async with classroom_server(tmp_path / "single") as srv:  # a new process would read the same rows
        status, me = await me_with_cookie(srv.url, cookie)
        assert (status, me["csrf_token"], me["username"]) == (200, csrf, None)
        socket = RecordingTeacherSocket()
        await socket.sio.connect(srv.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                                 transports=["websocket"], wait_timeout=5)
        assert socket.sio.connected
        await socket.close()
    # accounts mode
    make_accounts(tmp_path / "accounts", ("ana",))
    async with classroom_server(tmp_path / "accounts") as srv:
        ana = await login(srv.url, "ana")
        cookie = cookie_of(ana)
        await ana.http.close()
    async with classroom_server(tmp_path / "accounts") as srv:
        status, me = await me_with_cookie(srv.url, cookie)
        assert (status, me["username"], me["role"]) == (200, "ana", "teacher")
    db = sqlite3.connect(ServerConfig(data_dir=tmp_path / "accounts").db_path)
    try:
        rows = db.execute("SELECT * FROM teacher_sessions").fetchall()
        dump = "\n".join(line for line in db.iterdump())
    finally:
        db.close()
    assert [r[0] for r in rows] == [session_hash(cookie)]
    assert cookie not in dump, "the session id itself is in the database"


async def test_logout_everywhere_ends_every_session_of_that_teacher_only(tmp_path):
    make_accounts(tmp_path, ("ana", "bob"))
    async with classroom_server(tmp_path) as srv:
        laptop, tablet, bob = await login(srv.url, "ana"), await login(srv.url, "ana"), await login(srv.url, "bob")
        tablet_socket = await RecordingTeacherSocket().connect(tablet)
        bob_socket = await RecordingTeacherSocket().connect(bob)
        try:
            status, body = await laptop.post("/api/teacher/logout-everywhere")
            assert (status, body["sessions_ended"]) == (200, 2)
            assert (await laptop.get("/api/teacher/me"))[0] == 401
            assert (await tablet.get("/api/teacher/me"))[0] == 401
            await wait_for(lambda: not tablet_socket.sio.connected, "the tablet's console socket closed")
            assert tablet_socket.events("logged_out")
            assert (await bob.get("/api/teacher/me"))[0] == 200 and bob_socket.sio.connected
        finally:
            await tablet_socket.close()
            await bob_socket.close()
            for t in (laptop, tablet, bob):
                await t.http.close()


async def test_logout_from_another_process_closes_this_process_sockets(tmp_path):
    """`dojo teacher logout ana` is another process on the same database: the server notices within seconds."""
    make_accounts(tmp_path, ("ana", "bob"))
    async with classroom_server(tmp_path) as srv:
        ana, bob = await login(srv.url, "ana"), await login(srv.url, "bob")
        ana_socket = await RecordingTeacherSocket().connect(ana)
        try:
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            done = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "dojo", "teacher", "--data-dir", str(tmp_path), "logout", "ana"],
                capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env, cwd=REPO)
            assert done.returncode == 0 and "ana: 1 session(s) ended" in done.stdout, done.stderr
            await wait_for(lambda: not ana_socket.sio.connected, "ana's socket closed by the sweep", SWEEP_WAIT_S)
            assert ana_socket.events("logged_out")
            assert (await ana.get("/api/teacher/me"))[0] == 401
            assert (await bob.get("/api/teacher/me"))[0] == 200
        finally:
            await ana_socket.close()
            await ana.http.close()
            await bob.http.close()


async def test_dojo_teacher_cli_adds_lists_and_disables_accounts(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def dojo_teacher(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dojo", "teacher", "--data-dir", str(tmp_path), *args],
                              input=stdin, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env, cwd=REPO)

    added = await asyncio.to_thread(dojo_teacher, "add", "ana", stdin=PASSWORDS["ana"] + "\n")
    assert added.returncode == 0 and "added teacher 'ana'" in added.stdout, added.stderr
    short = await asyncio.to_thread(dojo_teacher, "add", "bob", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    listed = await asyncio.to_thread(dojo_teacher, "list")
    assert listed.stdout.split() == ["ana", "teacher", "active", "-"]
    async with classroom_server(tmp_path) as srv:
        ana = await login(srv.url, "ana")
        status, made = await ana.post("/api/teacher/classes", {"name": "Room 5", "code": "ROOM5"})
        assert status == 201, made
        listed = await asyncio.to_thread(dojo_teacher, "list")
        assert listed.stdout.split() == ["ana", "teacher", "active", "ROOM5"]
        disabled = await asyncio.to_thread(dojo_teacher, "disable", "ana")
        assert disabled.returncode == 0 and "1 session(s) ended" in disabled.stdout
        await asyncio.sleep(SESSION_RECHECK_S + 0.1)  # the server reads a session it knows again after this
        assert (await ana.get("/api/teacher/me"))[0] == 401
        await ana.http.close()
        async with srv.http.post(f"{srv.url}/api/teacher/login",
                                 json={"username": "ana", "password": PASSWORDS["ana"]}) as resp:
            assert resp.status == 401


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_expires_after_its_max_age_with_an_injected_clock(tmp_path):
    storage = SqliteStorage(tmp_path / "db.sqlite3")
    wall, mono = Clock(), Clock()
    store = SessionStore(storage, 60.0, b"k" * 32, clock=wall, monotonic=mono)
    ended: list[str] = []
    store.on_end.append(ended.append)
    try:
        session = store.create()
        wall.now += 59.0
        mono.now += 59.0
        assert store.get(session.session_id) is not None
        wall.now += 2.0
        assert store.get(session.session_id) is None and ended == [session.session_id]
        assert storage.get_session(session_hash(session.session_id)) is None
        # the sweep ends what nobody asks about, and empties the storage of it
        quiet = store.create()
        wall.now += 61.0
        store.sweep()
        assert ended[-1] == quiet.session_id and storage.get_session(session_hash(quiet.session_id)) is None
    finally:
        storage.close()


def test_a_session_ended_by_another_process_ends_here_at_the_next_sweep(tmp_path):
    """Two SessionStores on one database are two server processes: logout everywhere on one reaches the other."""
    a_storage, b_storage = SqliteStorage(tmp_path / "db.sqlite3"), SqliteStorage(tmp_path / "db.sqlite3")
    wall, mono = Clock(), Clock()
    a = SessionStore(a_storage, 3600.0, b"k" * 32, clock=wall, monotonic=mono)
    b = SessionStore(b_storage, 3600.0, b"k" * 32, clock=wall, monotonic=mono)
    ended_on_b: list[str] = []
    b.on_end.append(ended_on_b.append)
    try:
        first, second = a.create(), a.create()
        seen = b.get(first.session_id)
        assert seen is not None and seen.csrf_token == first.csrf_token  # the same CSRF token on every process
        assert b.get(second.session_id) is not None
        assert a.end_all("") == 2
        b.sweep()
        assert sorted(ended_on_b) == sorted([first.session_id, second.session_id])
        assert b.get(first.session_id) is None
    finally:
        a_storage.close()
        b_storage.close()
