"""The ``/drive`` socket.io namespace: the drive page's stick and its recording.

Connect with ``auth={"token": ...}`` (a kid token from POST /api/join). Events:

- ``start`` {trick} -> ack {ok, drive: {request_id, trick, start, arena, level, max_speed_pct, ...}} or
  {ok: false, error: {rule, message}, kid_text}
- ``steer`` {throttle, steering, seq} (no ack; -1..1 each; at most STEER_RATE_HZ, the rest is dropped)
- ``end`` -> ack {ok, summary}: the car stops and the drive is kept as an episode
- server -> page: ``drive_state`` (pose, applied command, frames, the narration; 10 Hz) and
  ``drive_ended`` (outcome, the kid's sentence, the path, this kid's drives of the trick)

Closing the page ends the drive and stops the car; the car itself holds still within 0.3 s of the
last stick it got (robot_runtime/skills/remote.py).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import socketio

from learning.drives import DriveLog
from server.core.auth import AuthError
from server.core.classroom import Classroom
from server.drive.session import DriveError, DriveSession
from server.web.errors import info_of, refusal

log = logging.getLogger(__name__)

DRIVE_NAMESPACE = "/drive"


def _unit(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return max(-1.0, min(1.0, float(value)))


class DriveHub(socketio.AsyncNamespace):
    def __init__(self, classroom: Classroom, drives: DriveLog) -> None:
        super().__init__(DRIVE_NAMESPACE)
        self.classroom, self.drives = classroom, drives
        self.sessions: dict[str, DriveSession] = {}  # sid -> session
        self.bad_messages = 0

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            kid = self.classroom.auth_kid(token)
        except AuthError as exc:
            raise refusal(info_of(exc)) from None

        async def send(event: str, payload: dict) -> None:
            await self.emit(event, payload, to=sid)

        self.sessions[sid] = DriveSession(self.classroom, kid.kid_id, self.drives, send)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        if session is not None:
            await session.leave()

    async def on_start(self, sid: str, data: Any = None) -> dict:
        session = self.sessions.get(sid)
        trick = data.get("trick") if isinstance(data, dict) else None
        if session is None:
            return {"ok": False, "error": {"rule": "not_connected", "message": "connect first"}, "kid_text": "Reload the page."}
        try:
            return {"ok": True, "drive": await session.start(str(trick))}
        except DriveError as exc:
            return {"ok": False, "error": {"rule": exc.rule, "message": str(exc)}, "kid_text": exc.kid_text}

    async def on_steer(self, sid: str, data: Any = None) -> None:
        session = self.sessions.get(sid)
        if session is None or not isinstance(data, dict):
            self.bad_messages += 1
            return
        throttle, steering = _unit(data.get("throttle", 0.0)), _unit(data.get("steering", 0.0))
        seq = data.get("seq", 0)
        if throttle is None or steering is None or not isinstance(seq, int) or seq < 0:
            self.bad_messages += 1  # a bad stick is dropped; the car holds still without a good one
            return
        await session.steer(throttle, steering, seq)

    async def on_end(self, sid: str, data: Any = None) -> dict:
        session = self.sessions.get(sid)
        summary = await session.end("stopped") if session is not None else None
        return {"ok": summary is not None, "summary": summary}
