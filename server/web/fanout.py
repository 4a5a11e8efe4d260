"""Telemetry fan-out to browsers and SDK clients, coalesced per client.

Each subscribed socket gets a latest-wins slot per car and its own send task that sends at most
``telemetry_max_hz`` per client. A slow browser only ever skips stale samples: the car, the event
loop and the other clients never wait for it. When a client's outgoing queue is already backed up
we keep the latest sample in its slot and try again next tick instead of piling more on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import socketio
from aiohttp import web

from robot_runtime.protocol import Telemetry
from server.web.state import CLASSROOM, CONFIG, SIO

log = logging.getLogger(__name__)

MAX_QUEUED_PACKETS = 64  # ~3 s of one car at 20 Hz waiting in a socket's send queue: the client is stalled


@dataclass(eq=False)
class Subscriber:
    sid: str
    namespace: str
    wants: Callable[[str], bool]  # car_id -> does this client see that car?
    slot: dict[str, dict[str, Any]] = field(default_factory=dict)  # car_id -> latest telemetry (wire form)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    sent: int = 0
    coalesced: int = 0  # samples replaced before they were sent
    deferred: int = 0  # ticks skipped because the client's queue was backed up


class Fanout:
    def __init__(self, sio: socketio.AsyncServer, max_hz: float) -> None:
        self.sio = sio
        self.period_s = 1.0 / max_hz
        self.subscribers: dict[tuple[str, str], Subscriber] = {}

    def add(self, sid: str, namespace: str, wants: Callable[[str], bool]) -> Subscriber:
        self.remove(sid, namespace)
        sub = Subscriber(sid, namespace, wants)
        sub.task = asyncio.get_running_loop().create_task(self._send_loop(sub))
        self.subscribers[(sid, namespace)] = sub
        return sub

    def remove(self, sid: str, namespace: str) -> None:
        sub = self.subscribers.pop((sid, namespace), None)
        if sub and sub.task:
            sub.task.cancel()

    def publish(self, car_id: str, telemetry: Telemetry) -> None:
        wire: dict[str, Any] | None = None
        for sub in self.subscribers.values():
            if not sub.wants(car_id):
                continue
            if wire is None:
                wire = telemetry.model_dump(mode="json", by_alias=True)
            if car_id in sub.slot:
                sub.coalesced += 1
            sub.slot[car_id] = wire
            sub.wake.set()

    def _backed_up(self, sub: Subscriber) -> bool:
        """True when the client's engine.io send queue is full of unsent packets (a stalled browser)."""
        try:
            eio_sid = self.sio.manager.eio_sid_from_sid(sub.sid, sub.namespace)
            socket = self.sio.eio.sockets.get(eio_sid)
            return socket is not None and socket.queue.qsize() > MAX_QUEUED_PACKETS
        except Exception:  # internals moved: fall back to plain coalescing
            return False

    async def _send_loop(self, sub: Subscriber) -> None:
        try:
            while True:
                await sub.wake.wait()
                sub.wake.clear()
                if self._backed_up(sub):
                    sub.deferred += 1
                    await asyncio.sleep(self.period_s)
                    sub.wake.set()
                    continue
                batch, sub.slot = sub.slot, {}
                for wire in batch.values():
                    await self.sio.emit("telemetry", wire, to=sub.sid, namespace=sub.namespace)
                    sub.sent += 1
                await asyncio.sleep(self.period_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("telemetry sender for %s stopped", sub.sid)

    async def close(self) -> None:
        tasks = [s.task for s in self.subscribers.values() if s.task]
        for task in tasks:
            task.cancel()
        self.subscribers.clear()
        await asyncio.gather(*tasks, return_exceptions=True)


FANOUT: web.AppKey[Fanout] = web.AppKey("fanout", Fanout)


async def _fanout_lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[FANOUT].close()


def setup(app: web.Application) -> None:
    fanout = Fanout(app[SIO], app[CONFIG].telemetry_max_hz)
    app[FANOUT] = fanout
    app[CLASSROOM].events.subscribe("telemetry", fanout.publish)
    app.cleanup_ctx.append(_fanout_lifetime)
