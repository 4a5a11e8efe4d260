"""The ``/teacher`` socket.io namespace: every car's telemetry (coalesced), roster changes, safety events.

Auth is the teacher's session cookie (set by POST /api/teacher/login). A socket lives only as long as
its session: logging out closes it at once, an expired session closes it within SESSION_SWEEP_S, and
before every push the hub checks each socket's session, so no event ever reaches a socket whose session
has ended (tests/server/teacher/test_teacher_sessions.py). Pushed events:
``telemetry`` (one car) or ``telemetry_batch`` (a tick of several cars; coalesced by server.web.fanout), ``safety`` {car_id, ...SafetyEvent},
``roster_changed`` {reason, ...}, ``estop`` {reason, cars}, ``activity`` {kid_id, block, status, detail},
``car_refused`` {car_id, rule, address, message, kid_text, t} (a second connection for a live car).
Refused blocks reach ``activity`` at most once per kid per second; the rest arrive counted in one row.

Every push is scoped (server/core/tenancy.py): a socket gets an event only about a car, kid or class its
teacher may reach; ``estop`` and ``turns`` list only those cars. The single-password teacher and an admin
reach everything, so one classroom sees exactly what it saw before teacher accounts.
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
from server.core.tenancy import Scope
from server.web.guards import TEACHER_SESSIONS, scope_of, socket_teacher
from server.web.state import CLASSROOM, SIO
from server.web.tasks import periodic

TEACHER_NAMESPACE = "/teacher"
TEACHERS_ROOM = "teachers"
# Several processes: every event reaches every process, and each pushes to the sockets it holds (and whose
# teacher's classes it knows), not through the Redis manager, which would repeat each push per process.
LOCAL = True
SESSION_SWEEP_S = 1.0  # an expired session's sockets close within a second even when nothing is pushed


class TeacherHub(socketio.AsyncNamespace):
    def __init__(self, app: web.Application, fanout: Fanout) -> None:
        super().__init__(TEACHER_NAMESPACE)
        self.app, self.fanout = app, fanout
        self.session_of: dict[str, str] = {}  # sid -> the teacher session it was opened with
        self.scope_of: dict[str, Scope] = {}  # sid -> what its teacher may reach
        self.closing: set[str] = set()  # sids whose session ended, being disconnected: they get nothing
        app[TEACHER_SESSIONS].on_end.append(self._session_ended)
        ev = app[CLASSROOM].events
        # Every event, whichever process it happened in (server/cluster replays it here): each process pushes
        # to its own teachers' sockets, which only it knows the classes of (docs/cluster.md); LOCAL emits
        ev.subscribe("safety", self._on_safety)
        ev.subscribe("estop", self._on_estop)
        ev.subscribe("block_result", self._on_block_result)
        ev.subscribe("car_refused", self._on_car_refused)
        ev.subscribe("refusals_summarised", self._on_refusals_summarised)
        for topic in ("kid_joined", "kid_removed", "level_changed", "assignment_changed", "car_connected", "car_disconnected",
                      "run_started", "run_ended"):
            ev.subscribe(topic, self._roster_changed(topic))

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        session = socket_teacher(self.app, environ)
        if session is None:
            raise refusal(ErrorInfo(rule="teacher_login", message="the teacher is not logged in",
                                    fix="log in at /teacher/"))
        self.session_of[sid] = session.session_id
        self.scope_of[sid] = scope_of(session)
        await self.enter_room(sid, TEACHERS_ROOM)
        self.fanout.add_socket(sid, TEACHER_NAMESPACE, lambda car_id: self._live(sid) and self.sees_car(sid, car_id))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.session_of.pop(sid, None)
        self.scope_of.pop(sid, None)
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
        await self.emit("logged_out", {"reason": "the teacher session ended: log in again"}, to=sid, ignore_queue=LOCAL)
        await self.disconnect(sid)

    # --- what each socket may see -----------------------------------------------------------

    def sees_car(self, sid: str, car_id: str) -> bool:
        scope = self.scope_of.get(sid)
        return scope is not None and self.app[CLASSROOM].tenancy.owns_car(scope, car_id)

    def sees_class(self, sid: str, class_code: str) -> bool:
        scope = self.scope_of.get(sid)
        return scope is not None and self.app[CLASSROOM].tenancy.owns_class(scope, class_code)

    def sees_kid(self, sid: str, kid: Any) -> bool:
        """``kid``: a Kid (one just removed is no longer in the storage) or a kid id."""
        if isinstance(kid, str):
            try:
                kid = self.app[CLASSROOM].kid(kid)
            except PermissionError:
                return bool(self.scope_of.get(sid, Scope("", False)).everything)
        return self.sees_class(sid, kid.class_code)

    def _everyone_sees_everything(self) -> bool:
        return all(scope.everything for scope in self.scope_of.values())

    async def push(self, event: str, data: dict[str, Any], *, visible: Any = None) -> None:
        """Every teacher socket whose session is still live gets ``event``; none other does. ``visible(sid)``
        narrows it to the sockets whose teacher may see what the event is about."""
        for sid in list(self.session_of):
            self._live(sid)
        if visible is None or self._everyone_sees_everything():
            await self.emit(event, data, room=TEACHERS_ROOM, skip_sid=list(self.closing) or None, ignore_queue=LOCAL)
            return
        for sid in list(self.session_of):
            if visible(sid):
                await self.emit(event, data, to=sid, ignore_queue=LOCAL)

    async def push_cars(self, event: str, data: dict[str, Any], cars: Any, make: Any) -> None:
        """An event about several cars: each socket gets ``make(its visible cars)``, and nothing when it
        may see none of them."""
        for sid in list(self.session_of):
            self._live(sid)
        if self._everyone_sees_everything():
            await self.emit(event, data, room=TEACHERS_ROOM, skip_sid=list(self.closing) or None, ignore_queue=LOCAL)
            return
        for sid in list(self.session_of):
            mine = [c for c in cars if self.sees_car(sid, c)]
            if mine or self.scope_of[sid].everything:
                await self.emit(event, make(mine), to=sid, ignore_queue=LOCAL)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        return {"status": "error", "error": {"rule": "unknown_event", "value": str(event)[:40],
                                             "message": "the teacher socket only listens; use the HTTP API",
                                             "fix": "POST /api/teacher/..."}}

    async def _on_safety(self, car_id: str, event: Any) -> None:
        await self.push("safety", {"car_id": car_id, **event.model_dump(mode="json")},
                        visible=lambda sid: self.sees_car(sid, car_id))

    async def _on_estop(self, reason: str, cars: list[str]) -> None:
        await self.push_cars("estop", {"reason": reason, "cars": cars}, cars,
                             lambda mine: {"reason": reason, "cars": mine})

    async def _on_block_result(self, kid_id: str, reply: Any) -> None:
        await self.push("activity", {"kid_id": kid_id, "block": reply.block, "status": reply.status,
                                     "detail": reply.detail, "kid_text": reply.kid_text},
                        visible=lambda sid: self.sees_kid(sid, kid_id))

    async def _on_refusals_summarised(self, kid_id: str, summary: dict[str, Any]) -> None:
        """Refused blocks beyond the first per kid per second: one counted activity row (refusal_digest.py)."""
        await self.push("activity", {"kid_id": kid_id, "block": "*", "status": "refused", "count": summary["count"],
                                     "detail": summary["detail"], "kid_text": ""},
                        visible=lambda sid: self.sees_kid(sid, kid_id))

    async def _on_car_refused(self, car_id: str, info: dict[str, Any]) -> None:
        await self.push("car_refused", {"car_id": car_id, **info, "t": time.time()},
                        visible=lambda sid: self.sees_car(sid, car_id))

    def _roster_changed(self, topic: str):
        car_topics = ("assignment_changed", "car_connected", "car_disconnected")

        async def push(*args: Any) -> None:
            first = args[0] if args else None
            data: dict[str, Any] = {"reason": topic}
            visible = None
            if isinstance(first, str):
                data["id"] = first
                visible = (lambda sid: self.sees_car(sid, first)) if topic in car_topics else \
                    (lambda sid: self.sees_kid(sid, first))
            elif hasattr(first, "kid_id"):
                data["id"] = first.kid_id
                about = first if hasattr(first, "class_code") else first.kid_id  # a Kid, or a Run (its kid's id)
                visible = lambda sid: self.sees_kid(sid, about)  # noqa: E731
            await self.push("roster_changed", data, visible=visible)
        return push


async def _sweep_sessions(app: web.Application) -> None:
    app[TEACHER_SESSIONS].sweep()  # ends expired sessions: their sockets close (TeacherHub._session_ended)


TEACHER_HUB: web.AppKey[TeacherHub] = web.AppKey("teacher_hub", TeacherHub)


def setup(app: web.Application) -> None:
    hub = app[TEACHER_HUB] = TeacherHub(app, app[FANOUT])
    app[SIO].register_namespace(hub)
    app.cleanup_ctx.append(periodic("teacher session expiry", SESSION_SWEEP_S, _sweep_sessions))
