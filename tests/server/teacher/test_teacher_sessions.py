"""A /teacher socket lives only as long as its session: logging out closes it at once, an expired session
closes it within a second, and no event reaches it after its session ended (issue 17, finding 5).

Real server, a real car client sending telemetry, kids joining (roster pushes), a real socket.io teacher
client with the session cookie. Before the fix the socket stayed open and kept receiving events after
logout (136 in the audit) and after expiry.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import socketio
from yarl import URL

from core_harness import RawCar, classroom_server, wait_for
from server.core.config import Timeouts

_names = itertools.count()
EVENTS = ("telemetry", "safety", "roster_changed", "activity", "turns", "estop", "attempts_changed")


class TeacherSocket:
    """A real /teacher socket.io client that records every event with its arrival time."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.got: list[tuple[float, str]] = []
        self.logged_out: list[dict] = []
        for name in EVENTS:
            self.sio.on(name, self._recorder(name), namespace="/teacher")
        self.sio.on("logged_out", self.logged_out.append, namespace="/teacher")

    def _recorder(self, name: str):
        def record(data=None) -> None:
            self.got.append((time.monotonic(), name))
        return record

    async def connect(self, url: str, teacher) -> None:
        cookie = teacher.http.cookie_jar.filter_cookies(URL(url))["dojo_teacher"].value
        await self.sio.connect(url, namespaces=["/teacher"], headers={"Cookie": f"dojo_teacher={cookie}"},
                               transports=["websocket"], wait_timeout=5)

    def after(self, t: float) -> list[str]:
        return [name for at, name in self.got if at > t]


async def keep_the_class_busy(srv, car: RawCar, seconds: float) -> None:
    """What a live class pushes to teachers: telemetry at 20 Hz and kids joining."""
    end = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < end:
        seq += 1
        await car.telemetry(seq=seq)
        if seq % 10 == 0:
            n = next(_names)
            await srv.join("Kid" + "abcdefghijklmnopqrstuvwxyz"[n % 26] + "abcdefghijklmnopqrstuvwxyz"[n // 26 % 26])
        await asyncio.sleep(0.05)


async def test_logging_out_closes_the_teacher_socket_and_nothing_reaches_it_afterwards(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"]) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        teacher = await srv.teacher()
        other = await srv.teacher()  # a second console, still logged in: it keeps everything
        ts, ts_other = TeacherSocket(), TeacherSocket()
        try:
            await ts.connect(srv.url, teacher)
            await ts_other.connect(srv.url, other)
            await keep_the_class_busy(srv, car, 0.5)
            await wait_for(lambda: "telemetry" in ts.after(0), "the console gets telemetry while logged in")
            status, body = await teacher.post("/api/teacher/logout")
            assert status == 200, body
            logged_out_at = time.monotonic()
            await wait_for(lambda: not ts.sio.connected, "the socket closed by the server after logout")
            assert ts.logged_out and "log in again" in ts.logged_out[0]["reason"]
            await keep_the_class_busy(srv, car, 1.0)
            assert ts.after(logged_out_at) == []  # not one event after logout
            assert "telemetry" in ts_other.after(logged_out_at)  # the other console is untouched
            assert ts_other.sio.connected
        finally:
            for s in (ts, ts_other):
                await s.sio.disconnect()
            await teacher.http.close()
            await other.http.close()
            await car.close()


async def test_an_expired_session_closes_its_socket_and_nothing_reaches_it_afterwards(tmp_path):
    async with classroom_server(tmp_path, extra_cars=["car-1"], timeouts=Timeouts(teacher_session_s=1.0)) as srv:
        car = RawCar(srv.url, "car-1")
        await car.connect()
        teacher = await srv.teacher()
        ts = TeacherSocket()
        try:
            await ts.connect(srv.url, teacher)
            expires_at = time.monotonic() + 1.0
            await keep_the_class_busy(srv, car, 0.3)
            await wait_for(lambda: "telemetry" in ts.after(0), "telemetry while the session lives")
            await keep_the_class_busy(srv, car, 1.5)  # the session expires meanwhile
            await wait_for(lambda: not ts.sio.connected, "the socket closed once the session expired")
            late = [name for at, name in ts.got if at > expires_at + 0.05]  # 50 ms: an event already on the wire
            assert late == [], late
            status, _ = await teacher.get("/api/teacher/me")
            assert status == 401
        finally:
            await ts.sio.disconnect()
            await teacher.http.close()
            await car.close()


async def test_an_idle_expired_session_is_closed_by_the_sweep_without_any_event(tmp_path):
    async with classroom_server(tmp_path, timeouts=Timeouts(teacher_session_s=1.0)) as srv:
        teacher = await srv.teacher()
        ts = TeacherSocket()
        try:
            await ts.connect(srv.url, teacher)
            await wait_for(lambda: not ts.sio.connected, "the sweep closing the idle expired socket", 5)
        finally:
            await ts.sio.disconnect()
            await teacher.http.close()
