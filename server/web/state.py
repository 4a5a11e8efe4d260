"""Typed application state: every shared object of the server lives under one of these keys.

Feature modules read them in their ``setup(app)``: ``app[CLASSROOM]``, ``app[SIO]``, ``app[CONFIG]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

import socketio
from aiohttp import web

if TYPE_CHECKING:
    from server.core.classroom import Classroom
    from server.core.config import ServerConfig
    from server.core.lesson_book import LessonBook
    from server.core.storage import Storage
    from server.web.metrics import Metrics

CONFIG: web.AppKey["ServerConfig"] = web.AppKey("config")
CLASSROOM: web.AppKey["Classroom"] = web.AppKey("classroom")
SIO: web.AppKey[socketio.AsyncServer] = web.AppKey("sio", socketio.AsyncServer)
STORAGE: web.AppKey["Storage"] = web.AppKey("storage")
LESSONS: web.AppKey["LessonBook"] = web.AppKey("lessons")  # the lessons feature's book (core protocol)
METRICS: web.AppKey["Metrics"] = web.AppKey("metrics")  # what each feature counts; GET /metrics (server/ops)
# What a feature does when the process drains (SIGTERM), after the running blocks are answered and before
# the process exits: tell its own clients to reconnect elsewhere (server/ops/drain.py runs them).
ON_DRAIN: web.AppKey[list[Callable[[], Awaitable[None]]]] = web.AppKey("on_drain", list)
