"""The ``/camera`` socket.io namespace: the browser's own camera in, the camera's state out.

Auth is the teacher's session cookie (at home: the parent). Events:

- ``frame`` (client -> server) with one JPEG/PNG picture as binary (``getUserMedia`` -> canvas ->
  ``toBlob``): pushed into the arena camera when "this computer's camera" is the chosen one. The ack
  is ``{"ok": true}`` or ``{"ok": false, "error": {rule, message, fix}}`` (not a picture, too big, not the
  chosen camera); a bad picture never closes the socket or stops the camera.
- ``camera`` (server -> client): the camera's summary (camera.py), at most SUMMARY_HZ times a second.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import socketio
from aiohttp import web

from perception.problems import PerceptionError, SourceError
from robot_runtime.protocol import ErrorInfo
from server.arena_camera.camera import ArenaCamera
from server.web.errors import refusal
from server.web.guards import socket_teacher
from server.web.state import SIO

CAMERA_NAMESPACE = "/camera"
ROOM = "camera"
SUMMARY_HZ = 10.0  # the page's status line and step lights; the preview picture is fetched separately


class CameraHub(socketio.AsyncNamespace):
    def __init__(self, app: web.Application, camera: ArenaCamera) -> None:
        super().__init__(CAMERA_NAMESPACE)
        self.app, self.camera = app, camera
        self._last_sent = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self.frames_in = 0
        camera.listeners.append(self._on_summary)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if socket_teacher(self.app, environ) is None:
            raise refusal(ErrorInfo(rule="teacher_login", message="the teacher is not logged in",
                                    fix="log in at /teacher/ or on the set-up page"))
        await self.enter_room(sid, ROOM)
        await self.emit("camera", self.camera.summary(), to=sid)

    async def on_frame(self, sid: str, data: Any = None) -> dict:
        if not isinstance(data, (bytes, bytearray)):
            return {"ok": False, "error": {"rule": "not_a_picture", "message": "A camera picture must be sent as binary JPEG.",
                                           "fix": "send canvas.toBlob(..., 'image/jpeg') bytes"}}
        try:
            await asyncio.to_thread(self.camera.push, bytes(data))  # decoding a 1280x720 JPEG takes ~5 ms
        except (PerceptionError, SourceError) as exc:
            p = exc.problem
            return {"ok": False, "error": {"rule": p.code, "message": p.message, "fix": p.fix}}
        self.frames_in += 1
        return {"ok": True}

    def _on_summary(self, summary: dict) -> None:
        now = time.monotonic()
        wait = 1.0 / SUMMARY_HZ - (now - self._last_sent)
        if wait <= 0 or summary.get("problem"):
            self._send(summary)
        elif self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(wait, lambda: self._send(self.camera.summary()))

    def _send(self, summary: dict) -> None:
        self._pending = None
        self._last_sent = time.monotonic()
        asyncio.ensure_future(self.emit("camera", summary, room=ROOM))


def setup(app: web.Application, camera: ArenaCamera) -> CameraHub:
    hub = CameraHub(app, camera)
    app[SIO].register_namespace(hub)
    return hub
