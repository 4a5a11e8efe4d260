"""The classroom server application: aiohttp + python-socketio, typed state, lifetime-bound tasks.

``create_app(config)`` builds the house (docs/architecture.md): storage, the Classroom (server/core)
built with its one port to the cars (server/cars), the socket.io server, then each feature's
``setup(app)``, called here one by one: the shared plumbing (server/web), cars, lessons, kids,
teacher, Scratch, and last the static pages (their prefixes are catch-alls). Features talk to each
other only through the core (its events and state). Background work lives in ``cleanup_ctx``
(server.web.tasks.periodic), so start-up and shutdown are explicit. /api/health lives here.
"""

from __future__ import annotations

import logging
import time
from typing import Any, AsyncIterator, Callable

from aiohttp import web

from robot_runtime.protocol import MAX_MESSAGE_BYTES
from server import arena_camera, cars, cluster, drive, kids, language, lessons, ops, scratch, skills, teacher
from server import web as web_plumbing
from server.cars.hub import CAR_HUB
from server.core.auth import hash_password
from server.core.classroom import Classroom
from server.core.config import ServerConfig
from server.core.lesson_book import NoLessons
from server.core.storage import Storage, open_storage
from server.web.origin import OriginRule
from server.web.sio_server import DojoSocketServer
from server.web.metrics import Metrics
from server.web.state import CLASSROOM, CONFIG, LESSONS, METRICS, ON_DRAIN, SIO, STORAGE
from server.web.tasks import periodic

log = logging.getLogger(__name__)

VERSION = "0.1.0"
MAX_SOCKET_FRAME_BYTES = 1024 * 1024  # hard transport cap (a big Scratch program fits); larger frames close the socket
MAX_HTTP_BODY_BYTES = 1024 * 1024  # the same cap for JSON bodies of the HTTP API
STARTED_AT: web.AppKey[float] = web.AppKey("started_at", float)  # time.monotonic() at create_app, for /api/health
REQUEST_LOG_FLUSH_S = 1.0  # the request log reaches disk within a second; batching keeps writes off the hot path
assert MAX_SOCKET_FRAME_BYTES > MAX_MESSAGE_BYTES


def create_app(config: ServerConfig) -> web.Application:
    app = web.Application(client_max_size=MAX_HTTP_BODY_BYTES)
    app[CONFIG] = config
    app[STARTED_AT] = time.monotonic()
    storage = open_storage(config.database, config.db_path)  # SQLite unless --database names PostgreSQL
    app[STORAGE] = storage
    _ensure_teacher_password(config, storage)
    # server/cars: the one adapter to the cars; server/cluster: the other server processes (with --redis)
    classroom = Classroom(config, storage, cars.port(app), peers=cluster.peers_for(config))
    app[CLASSROOM] = classroom
    app[LESSONS] = NoLessons()  # the lessons feature puts its book here
    app[METRICS] = Metrics()  # each feature registers what it counts; server/ops serves GET /metrics
    app[ON_DRAIN] = []  # what each feature does when the process drains (server/ops/drain.py)
    if config.default_class_code:
        classroom.ensure_class(config.default_class_code, "Demo class")
    sio = DojoSocketServer(
        async_mode="aiohttp",
        cors_allowed_origins=socket_origins(OriginRule(config.allowed_origins)),
        ping_interval=config.timeouts.socket_ping_interval_s,
        ping_timeout=config.timeouts.socket_ping_timeout_s,
        max_http_buffer_size=MAX_SOCKET_FRAME_BYTES,
        client_manager=cluster.socket_manager(config),  # None: in-process rooms (python-socketio's default)
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app)
    app[SIO] = sio
    app.cleanup_ctx.append(periodic("request log flush", REQUEST_LOG_FLUSH_S, _flush_request_log))
    app.cleanup_ctx.append(_close_classroom)
    web_plumbing.setup(app)
    cluster.setup(app)  # with redis_url: peers and the event bridge live as long as the app
    app.router.add_get("/api/health", _health)
    ops.setup(app)  # /metrics, request ids in the logs, the drain's refusals
    cars.setup(app)
    lessons.setup(app)  # before kids: the lesson's program check runs before the level's
    kids.setup(app)
    teacher.setup(app)
    scratch.setup(app)
    language.setup(app)
    skills.setup(app)  # learned skills: menus, the cars' copies, teach jobs, the Skills page
    drive.setup(app)  # /drive/: driving a car by hand to teach it a trick
    arena_camera.setup(app)
    arena_camera.setup_pages(app)
    web_plumbing.setup_pages(app)
    try:
        storage.check_feature_versions()  # every feature has migrated: a newer release's tables stop us here
    except Exception:
        storage.close()
        raise
    return app


def socket_origins(rule: OriginRule) -> Callable[[str | None, dict[str, Any]], bool]:
    """socket.io asks the one origin rule (its list form would drop the same-origin default)."""
    return lambda origin, environ: rule.allows(origin, environ.get("wsgi.url_scheme", "http"),
                                               environ.get("HTTP_HOST", ""))


def _ensure_teacher_password(config: ServerConfig, storage: Storage) -> None:
    """A configured password or hash wins; otherwise the stored hash stays (restart keeps the password)."""
    if config.teacher_password_hash:
        storage.set_teacher_password_hash(config.teacher_password_hash)
    elif config.teacher_password:
        storage.set_teacher_password_hash(hash_password(config.teacher_password))


async def _health(request: web.Request) -> web.Response:
    """GET /api/health: 200 while this process takes new work, 503 once it drains (SIGTERM); who is here."""
    app = request.app
    classroom = app[CLASSROOM]
    draining = app[ops.DRAINING].active
    body = {
        "ok": not draining, "status": "draining" if draining else "ok",
        "version": VERSION, "uptime_s": round(time.monotonic() - app[STARTED_AT], 3),
        "kids_online": classroom.presence.count(),
        "cars_connected": len(classroom.connected_car_ids()), "cars": sorted(classroom.connected_car_ids()),
        "bad_car_messages": sum(app[CAR_HUB].bad_messages.values()),
    }
    cluster_health = cluster.health(app)
    if cluster_health is not None:  # several processes: this one's id and what crossed between them
        body["cluster"] = cluster_health
    return web.json_response(body, status=503 if draining else 200, headers={"Cache-Control": "no-store"})


async def _flush_request_log(app: web.Application) -> None:
    await app[CLASSROOM].flush_request_log()


async def _close_classroom(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[CLASSROOM].close()
    app[STORAGE].close()
