"""The graceful drain: what `dojo server` does on SIGTERM, so a process can leave a pool of servers.

Promises (tests/server/ops/test_drain.py runs them on a real server process):
- from the moment it starts, ``GET /api/health`` answers 503 ``draining`` (a load balancer sends no new
  work), new socket.io sessions and new ``/scratch/ble`` sockets are answered 503 (nginx's
  ``proxy_next_upstream http_503`` tries the next server), and new blocks and green flags are refused
  with the rule ``server_draining`` (stop never is; existing sockets, the teacher's API and the e-stop
  keep working);
- every block already given to a car gets its one final answer: the drain waits for them up to
  ``ops.drain_timeout_s``; blocks still running then have their cars stopped (the kid hears
  ``cancelled``), so no kid waits for an answer that never comes;
- then each feature's ``ON_DRAIN`` step tells its own clients (a Scratch-Link socket gets the event
  ``server_moving`` and closes with 1012 "service restart": the extension connects to the same car again,
  through the balancer to another process), and every socket.io connection is closed at the transport
  (not with socket.io's "disconnect", which tells a client to stay away): browsers, the car runtime and
  socket.io clients with reconnection on dial again and land on another process;
- the whole drain takes at most ``drain_timeout_s`` + the stop grace + ``CLOSE_GRACE_S``; the command
  then exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web

from curriculum.gate import Refusal
from server.core.classroom import Classroom
from server.core.types import Kid
from server.web.http import json_error
from server.web.state import CLASSROOM, CONFIG, ON_DRAIN, SIO

log = logging.getLogger(__name__)

DRAIN_POLL_S = 0.05  # how often the drain looks whether the last blocks have their answers
ACK_FLUSH_S = 0.2  # an answered block's ack is queued on its socket right after; let the writer send it
CLOSE_GRACE_S = 2.0  # closing the sockets: a close frame each, on loopback milliseconds
DRAINING_KID_TEXT = "Your classroom is moving to another server — try again in a moment!"
RETRY_AFTER_S = 1  # a client told 503 may dial again at once: the balancer sends it elsewhere


@dataclass
class DrainReport:
    finished: int  # blocks that ended by themselves during the drain
    stopped: int  # blocks whose cars were stopped at the bound
    seconds: float


class Draining:
    """Whether this process still takes new work (``app[DRAINING]``); set once, never cleared."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.since: float | None = None
        self._clock = clock

    @property
    def active(self) -> bool:
        return self.since is not None

    def begin(self) -> None:
        if self.since is None:
            self.since = self._clock()

    def refuse_block(self, kid: Kid, block_id: str) -> Refusal | None:
        """Classroom.block_checks: no new block on a process that is leaving."""
        if not self.active:
            return None
        return Refusal("server_draining", f"this server process is draining (shutting down); {block_id} was not run",
                       kid_text=DRAINING_KID_TEXT, value=block_id)

    def refuse_program(self, kid: Kid, program: object, lesson_id: str | None = None) -> Refusal | None:
        """Classroom.program_checks: no new run (green flag) either."""
        if not self.active:
            return None
        return Refusal("server_draining", "this server process is draining (shutting down); the program did not start",
                       kid_text=DRAINING_KID_TEXT)


DRAINING: web.AppKey[Draining] = web.AppKey("draining", Draining)


def is_new_connection(request: web.Request) -> bool:
    """A request that would open a long-lived connection here: a socket.io handshake (no ``sid`` yet)
    or a ``/scratch/ble`` WebSocket. A session's own polls and upgrades carry its ``sid``."""
    if request.path.startswith("/socket.io"):
        return "sid" not in request.query
    return request.path == "/scratch/ble"


@web.middleware
async def refuse_new_connections(request: web.Request,
                                 handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    if request.app[DRAINING].active and is_new_connection(request):
        error = json_error(503, "server_draining", "this server process is draining (shutting down) and takes no "
                           "new connections", fix="connect again: the load balancer sends you to another process")
        error.headers["Retry-After"] = str(RETRY_AFTER_S)
        raise error
    return await handler(request)


async def drain(app: web.Application) -> DrainReport:
    """Stop taking work, let running blocks answer (bounded), close every socket so clients go elsewhere."""
    classroom: Classroom = app[CLASSROOM]
    timeout_s = app[CONFIG].ops.drain_timeout_s
    started = time.monotonic()
    app[DRAINING].begin()
    busy = _busy(classroom)
    log.warning("draining: no new connections or blocks; %d block(s) running, waiting up to %g s", busy, timeout_s)
    deadline = started + timeout_s
    while _busy(classroom) and time.monotonic() < deadline:
        await asyncio.sleep(DRAIN_POLL_S)
    stopped = _busy(classroom)
    if stopped:  # the bound: stop the cars, so each of these blocks still gets its answer (cancelled)
        log.warning("draining: %d block(s) still running after %g s; stopping their cars", stopped, timeout_s)
        await asyncio.gather(*(classroom.stop_car(c, "server shutting down") for c in _cars_running(classroom)))
        grace_end = time.monotonic() + classroom.config.timeouts.stop_grace_s + CLOSE_GRACE_S
        while _busy(classroom) and time.monotonic() < grace_end:
            await asyncio.sleep(DRAIN_POLL_S)
    await asyncio.sleep(ACK_FLUSH_S)
    await _run_hooks(app)  # first: once the cars' sockets close, a Scratch link would report its car lost
    await _close_sockets(app)
    report = DrainReport(finished=max(0, busy - stopped), stopped=stopped, seconds=time.monotonic() - started)
    log.warning("drained in %.2f s: %d block(s) finished, %d stopped", report.seconds, report.finished, report.stopped)
    return report


def _busy(classroom: Classroom) -> int:
    return max(classroom.blocks_in_flight, classroom.dispatcher.pending())


def _cars_running(classroom: Classroom) -> list[str]:
    return [car_id for car_id, car in classroom.dispatcher.cars.items() if car.running is not None or car.queued()]


async def _run_hooks(app: web.Application) -> None:
    """Each feature tells its own clients (the Scratch link: `server_moving`, then close 1012)."""
    hooks = app[ON_DRAIN]
    try:
        results = await asyncio.wait_for(asyncio.gather(*(hook() for hook in hooks), return_exceptions=True),
                                         CLOSE_GRACE_S)
    except asyncio.TimeoutError:
        log.warning("draining: the features' drain steps did not end within %g s", CLOSE_GRACE_S)
        return
    for result in results:
        if isinstance(result, Exception):
            log.error("draining: a feature's drain step failed: %r", result)


async def _close_sockets(app: web.Application) -> None:
    """Close every engine.io connection at the transport, without engine.io's CLOSE packet or socket.io's
    "disconnect": after either of those a client stays away (python-socketio's client, too), while a
    transport that simply closes is dialled again by every client with reconnection on."""
    eio = app[SIO].eio

    async def close(socket) -> None:
        await socket.close(wait=False, abort=True, reason=eio.reason.TRANSPORT_CLOSE)  # our disconnect handlers run
        await socket.queue.put(None)  # ends the socket's writer (python-engineio), which closes the WebSocket

    sockets = list(eio.sockets.values())
    try:
        await asyncio.wait_for(asyncio.gather(*(close(s) for s in sockets), return_exceptions=True), CLOSE_GRACE_S)
    except asyncio.TimeoutError:
        log.warning("draining: some of %d socket(s) did not close within %g s", len(sockets), CLOSE_GRACE_S)
