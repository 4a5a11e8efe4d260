"""The ``/teacher`` socket.io namespace: every car's telemetry (coalesced), roster changes, safety events.

Auth is the teacher's session cookie (set by POST /api/teacher/login). Pushed events:
``telemetry`` (each car, coalesced by server.web.fanout), ``safety`` {car_id, ...SafetyEvent},
``roster_changed`` {reason, ...}, ``estop`` {reason, cars}, ``activity`` {kid_id, block, status, detail},
``car_refused`` {car_id, rule, address, message, kid_text, t} (a second connection for a live car).
Refused blocks reach ``activity`` at most once per kid per second; the rest arrive counted in one row.
"""

from __future__ import annotations

import time
from typing import Any

import socketio
from aiohttp import web

from robot_runtime.protocol import ErrorInfo
from server.web.errors import refusal
from server.web.fanout import FANOUT, Fanout
from server.web.guards import socket_teacher
from server.web.state import CLASSROOM, SIO

TEACHER_NAMESPACE = "/teacher"
TEACHERS_ROOM = "teachers"


class TeacherHub(socketio.AsyncNamespace):
    def __init__(self, app: web.Application, fanout: Fanout) -> None:
        super().__init__(TEACHER_NAMESPACE)
        self.app, self.fanout = app, fanout
        ev = app[CLASSROOM].events
        ev.subscribe("safety", self._on_safety)
        ev.subscribe("estop", self._on_estop)
        ev.subscribe("block_result", self._on_block_result)
        ev.subscribe("car_refused", self._on_car_refused)
        ev.subscribe("refusals_summarised", self._on_refusals_summarised)
        for topic in ("kid_joined", "kid_removed", "level_changed", "assignment_changed", "car_connected", "car_disconnected",
                      "run_started", "run_ended"):
            ev.subscribe(topic, self._roster_changed(topic))

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if socket_teacher(self.app, environ) is None:
            raise refusal(ErrorInfo(rule="teacher_login", message="the teacher is not logged in",
                                    fix="log in at /teacher/"))
        await self.enter_room(sid, TEACHERS_ROOM)
        self.fanout.add_socket(sid, TEACHER_NAMESPACE, lambda car_id: True)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.fanout.remove((sid, TEACHER_NAMESPACE))

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        return {"status": "error", "error": {"rule": "unknown_event", "value": str(event)[:40],
                                             "message": "the teacher socket only listens; use the HTTP API",
                                             "fix": "POST /api/teacher/..."}}

    async def _on_safety(self, car_id: str, event: Any) -> None:
        await self.emit("safety", {"car_id": car_id, **event.model_dump(mode="json")}, room=TEACHERS_ROOM)

    async def _on_estop(self, reason: str, cars: list[str]) -> None:
        await self.emit("estop", {"reason": reason, "cars": cars}, room=TEACHERS_ROOM)

    async def _on_block_result(self, kid_id: str, reply: Any) -> None:
        await self.emit("activity", {"kid_id": kid_id, "block": reply.block, "status": reply.status,
                                     "detail": reply.detail, "kid_text": reply.kid_text}, room=TEACHERS_ROOM)

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
            await self.emit("roster_changed", data, room=TEACHERS_ROOM)
        return push


def setup(app: web.Application) -> None:
    app[SIO].register_namespace(TeacherHub(app, app[FANOUT]))
