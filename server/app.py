"""The classroom server application: aiohttp + python-socketio, typed state, lifetime-bound tasks.

``create_app(config)`` builds everything; feature modules listed in :data:`FEATURES` each expose
``setup(app)`` and hook their routes, socket.io namespaces and event subscriptions in there
(front-end engineers add one line each). Background work lives in ``cleanup_ctx`` so start-up and
shutdown are explicit: the request-log flusher here, heartbeats in server.cars.hub, telemetry
fan-out in server.web.fanout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator, Callable

from aiohttp import web

from robot_runtime.protocol import MAX_MESSAGE_BYTES
from server import cars, kids, language, lessons, scratch, teacher
from server import web as web_plumbing
from server.core.auth import hash_password
from server.core.classroom import Classroom
from server.core.config import ServerConfig
from server.core.lesson_registry import LessonRegistry
from server.web.sio_server import DojoSocketServer
from server.web.state import CLASSROOM, CONFIG, LESSONS, SIO, STARTED_AT, STORAGE
from server.core.storage import SqliteStorage

log = logging.getLogger(__name__)

VERSION = "0.1.0"
MAX_SOCKET_FRAME_BYTES = 1024 * 1024  # hard transport cap (a big Scratch program fits); larger frames close the socket
MAX_HTTP_BODY_BYTES = 1024 * 1024  # the same cap for JSON bodies of the HTTP API
REQUEST_LOG_FLUSH_S = 1.0  # the request log reaches disk within a second; batching keeps writes off the hot path
assert MAX_SOCKET_FRAME_BYTES > MAX_MESSAGE_BYTES



def create_app(config: ServerConfig) -> web.Application:
    app = web.Application(client_max_size=MAX_HTTP_BODY_BYTES)
    app[CONFIG] = config
    app[STARTED_AT] = time.monotonic()
    storage = SqliteStorage(config.db_path)
    app[STORAGE] = storage
    _ensure_teacher_password(config, storage)
    classroom = Classroom(config, storage)
    app[CLASSROOM] = classroom
    app[LESSONS] = LessonRegistry()
    if config.default_class_code:
        classroom.ensure_class(config.default_class_code, "Demo class")
    sio = DojoSocketServer(
        async_mode="aiohttp",
        cors_allowed_origins=origin_check(config.allowed_origins),
        ping_interval=config.timeouts.socket_ping_interval_s,
        ping_timeout=config.timeouts.socket_ping_timeout_s,
        max_http_buffer_size=MAX_SOCKET_FRAME_BYTES,
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app)
    app[SIO] = sio
    app.cleanup_ctx.append(_request_log_flusher)
    app.cleanup_ctx.append(_close_classroom)
    web_plumbing.setup(app)
    cars.setup(app)
    lessons.setup(app)  # before kids: the lesson's program check runs before the level's
    kids.setup(app)
    teacher.setup(app)
    scratch.setup(app)
    language.setup(app)
    web_plumbing.setup_pages(app)
    return app


def origin_check(extra: list[str]) -> Callable[[str | None, dict[str, Any]], bool]:
    """Browsers may open socket.io from this server's own pages and from the configured origins.

    (python-socketio's list form would drop the same-origin default, so we decide ourselves.)
    Clients without an Origin header (the SDK, cars) are not browsers and are not asked.
    """
    allowed = set(extra)

    def ok(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None or "*" in allowed or origin in allowed:
            return True
        scheme = environ.get("wsgi.url_scheme", "http")
        return origin == f"{scheme}://{environ.get('HTTP_HOST', '')}"

    return ok


def _ensure_teacher_password(config: ServerConfig, storage: SqliteStorage) -> None:
    """A configured password or hash wins; otherwise the stored hash stays (restart keeps the password)."""
    if config.teacher_password_hash:
        storage.set_teacher_password_hash(config.teacher_password_hash)
    elif config.teacher_password:
        storage.set_teacher_password_hash(hash_password(config.teacher_password))


async def _request_log_flusher(app: web.Application) -> AsyncIterator[None]:
    classroom = app[CLASSROOM]

    async def loop() -> None:
        while True:
            await asyncio.sleep(REQUEST_LOG_FLUSH_S)
            try:
                await classroom.flush_request_log()
            except Exception:
                log.exception("request log flush failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _close_classroom(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[CLASSROOM].close()
    app[STORAGE].close()


def run(config: ServerConfig) -> None:
    """Blocking: serve until Ctrl-C (server.main and server.demo have their own richer loops)."""
    web.run_app(create_app(config), host=config.host, port=config.port, print=None)
