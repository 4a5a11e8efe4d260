"""Helpers for the teacher-accounts tests: accounts made in the real storage before the server starts, a
login with a username, a /teacher socket that records what it gets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from yarl import URL

from core_harness import CONNECT_TIMEOUT_S, Teacher
from server.core.config import ServerConfig
from server.core.storage import SqliteStorage
from server.core.tenancy import Tenancy

PASSWORDS = {"root": "root-pass-123", "ana": "ana-pass-1234", "bob": "bob-pass-1234"}
ROLES = {"root": "admin", "ana": "teacher", "bob": "teacher"}


def make_accounts(data_dir: Path, names: tuple[str, ...] = ("root", "ana", "bob")) -> None:
    """What `dojo teacher add` does, on the database the server will open."""
    storage = SqliteStorage(ServerConfig(data_dir=data_dir).db_path)
    try:
        tenancy = Tenancy(storage)
        for name in names:
            tenancy.add_account(name, PASSWORDS[name], ROLES[name])
    finally:
        storage.close()


async def login(url: str, username: str | None, password: str | None = None) -> Teacher:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    body: dict[str, Any] = {"password": password or PASSWORDS[username or ""]}
    if username is not None:
        body["username"] = username
    async with http.post(f"{url}/api/teacher/login", json=body) as resp:
        answer = await resp.json()
        if resp.status != 200:
            await http.close()
            raise AssertionError(f"login as {username} answered {resp.status}: {answer}")
    return Teacher(url, http, answer["csrf_token"])


async def delete(teacher: Teacher, path: str) -> tuple[int, dict]:
    async with teacher.http.delete(teacher.url + path, headers={"X-CSRF-Token": teacher.csrf}) as resp:
        return resp.status, await resp.json()


def cookie_of(teacher: Teacher) -> str:
    return teacher.http.cookie_jar.filter_cookies(URL(teacher.url))["dojo_teacher"].value


class RecordingTeacherSocket:
    """A real /teacher socket.io client that keeps every event it gets."""

    EVENTS = ("telemetry", "safety", "estop", "roster_changed", "activity", "turns", "car_refused", "attempts_changed",
              "logged_out")

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.got: list[tuple[float, str, Any]] = []
        for name in self.EVENTS:
            self.sio.on(name, self._recorder(name), namespace="/teacher")

    def _recorder(self, name: str):
        def record(data: Any = None) -> None:
            self.got.append((time.monotonic(), name, data))
        return record

    async def connect(self, teacher: Teacher) -> "RecordingTeacherSocket":
        await self.sio.connect(teacher.url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie_of(teacher)}"},
                               transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S)
        return self

    def events(self, name: str) -> list[Any]:
        return [data for _, n, data in self.got if n == name]

    def car_ids_seen(self) -> set[str]:
        """Every car id any event named: telemetry, safety, estop lists, turn snapshots, roster ids."""
        seen: set[str] = set()
        for _, name, data in self.got:
            if not isinstance(data, dict):
                continue
            if isinstance(data.get("car_id"), str):
                seen.add(data["car_id"])
            if name == "estop":
                seen.update(data.get("cars", []))
            if name == "turns":
                seen.update((data.get("cars") or {}).keys())
        return seen

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
