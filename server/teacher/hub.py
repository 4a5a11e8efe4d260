"""The ``/teacher`` socket.io namespace: every car's telemetry (coalesced), roster changes, safety events.

Auth is the teacher's session cookie (set by POST /api/teacher/login). A socket lives only as long as
its session: logging out closes it at once, an expired session closes it within SESSION_SWEEP_S, and
before every push the hub checks each socket's session, so no event ever reaches a socket whose session
has ended (tests/server/teacher/test_teacher_sessions.py). Pushed events:
``telemetry`` (each car, coalesced by server.web.fanout), ``safety`` {car_id, ...SafetyEvent},
``roster_changed`` {reason, ...}, ``estop`` {reason, cars}, ``activity`` {kid_id, block, status, detail},
``car_refused`` {car_id, rule, address, message, kid_text, t} (a second connection for a live car).
Refused blocks reach ``activity`` at most once per kid per second; the rest arrive counted in one row.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import socketio
from aiohttp import web

from robot_runtime.protocol import ErrorInfo
from server.web.errors import refusal
from server.web.fanout import FANOUT, Fanout
from server.web.guards import TEACHER_SESSIONS, socket_teacher
from server.web.state import CLASSROOM, SIO
from server.web.tasks import periodic

TEACHER_NAMESPACE = "/teacher"
TEACHERS_ROOM = "teachers"
SESSION_SWEEP_S = 1.0  # an expired session's sockets close within a second even when nothing is pushed


class TeacherHub(socketio.AsyncNamespace):
    def __init__(self, app: web.Application, fanout: Fanout) -> None:
        super().__init__(TEACHER_NAMESPACE)
        self.app, self.fanout = app, fanout
        self.session_of: dict[str, str] = {}  # sid -> the teacher session it was opened with
        self.closing: set[str] = set()  # sids whose session ended, being disconnected: they get nothing
        app[TEACHER_SESSIONS].on_end.append(self._session_ended)
        ev = app[CLASSROOM].events
        # "origin": pushed once, by the process where it happened; with several processes the Redis manager
        # carries each push to the teachers' sockets on every process (docs/cluster.md)
        ev.subscribe("safety", self._on_safety, scope="origin")
        ev.subscribe("estop", self._on_estop, scope="origin")
        ev.subscribe("block_result", self._on_block_result, scope="origin")
        ev.subscribe("car_refused", self._on_car_refused, scope="origin")
        ev.subscribe("refusals_summarised", self._on_refusals_summarised, scope="origin")
        for topic in ("kid_joined", "kid_removed", "level_changed", "assignment_changed", "car_connected", "car_disconnected",
                      "run_started", "run_ended"):
            ev.subscribe(topic, self._roster_changed(topic), scope="origin")

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        session = socket_teacher(self.app, environ)
        if session is None:
            raise refusal(ErrorInfo(rule="teacher_login", message="the teacher is not logged in",
                                    fix="log in at /teacher/"))
        self.session_of[sid] = session.session_id
        await self.enter_room(sid, TEACHERS_ROOM)
        self.fanout.add_socket(sid, TEACHER_NAMESPACE, lambda car_id: self._live(sid))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.session_of.pop(sid, None)
        self.closing.discard(sid)
        self.fanout.remove((sid, TEACHER_NAMESPACE))

    # --- a socket lives as long as its session ----------------------------------------------

    def _live(self, sid: str) -> bool:
        session_id = self.session_of.get(sid)
        if session_id is not None and self.app[TEACHER_SESSIONS].get(session_id) is None:
            self._close(sid)  # expired (get() has ended it) or ended by a path that did not tell us
        return sid in self.session_of

    def _session_ended(self, session_id: str) -> None:
        for sid, s in list(self.session_of.items()):
            if s == session_id:
                self._close(sid)

    def _close(self, sid: str) -> None:
        if self.session_of.pop(sid, None) is None:
            return
        self.closing.add(sid)
        self.fanout.remove((sid, TEACHER_NAMESPACE))
        asyncio.get_running_loop().create_task(self._disconnect(sid))

    async def _disconnect(self, sid: str) -> None:
        await self.emit("logged_out", {"reason": "the teacher session ended: log in again"}, to=sid)
        await self.disconnect(sid)

    async def push(self, event: str, data: dict[str, Any]) -> None:
        """Every teacher socket whose session is still live gets ``event``; none other does."""
        for sid in list(self.session_of):
            self._live(sid)
        await self.emit(event, data, room=TEACHERS_ROOM, skip_sid=list(self.closing) or None)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        return {"status": "error", "error": {"rule": "unknown_event", "value": str(event)[:40],
                                             "message": "the teacher socket only listens; use the HTTP API",
                                             "fix": "POST /api/teacher/..."}}

    async def _on_safety(self, car_id: str, event: Any) -> None:
        await self.push("safety", {"car_id": car_id, **event.model_dump(mode="json")})

    async def _on_estop(self, reason: str, cars: list[str]) -> None:
        await self.push("estop", {"reason": reason, "cars": cars})

    async def _on_block_result(self, kid_id: str, reply: Any) -> None:
        await self.push("activity", {"kid_id": kid_id, "block": reply.block, "status": reply.status,
                                     "detail": reply.detail, "kid_text": reply.kid_text})

    async def _on_refusals_summarised(self, kid_id: str, summary: dict[str, Any]) -> None:
        """Refused blocks beyond the first per kid per second: one counted activity row (refusal_digest.py)."""
        await self.emit("activity", {"kid_id": kid_id, "block": "*", "status": "refused", "count": summary["count"],
                                     "detail": summary["detail"], "kid_text": ""}, room=TEACHERS_ROOM)

    async def _on_car_refused(self, car_id: str, info: dict[str, Any]) -> None:
        await self.emit("car_refused", {"car_id": car_id, **info, "t": time.time()}, room=TEACHERS_ROOM)

    def _roster_changed(self, topic: str):
        async def push(*args: Any) -> None:
            first = args[0] if args else None
            data: dict[str, Any] = {"reason": topic}
            if isinstance(first, str):
                data["id"] = first
            elif hasattr(first, "kid_id"):
                data["id"] = first.kid_id
            await self.push("roster_changed", data)
        return push


async def _sweep_sessions(app: web.Application) -> None:
    app[TEACHER_SESSIONS].sweep()  # ends expired sessions: their sockets close (TeacherHub._session_ended)


TEACHER_HUB: web.AppKey[TeacherHub] = web.AppKey("teacher_hub", TeacherHub)


def setup(app: web.Application) -> None:
    hub = app[TEACHER_HUB] = TeacherHub(app, app[FANOUT])
    app[SIO].register_namespace(hub)
    app.cleanup_ctx.append(periodic("teacher session expiry", SESSION_SWEEP_S, _sweep_sessions))
