"""Telemetry fan-out to every client that watches a car, coalesced per client: the one coalescer.

Each subscriber has a latest-wins slot per car and its own send task that sends at most
``telemetry_max_hz`` to it. A slow client only ever skips stale samples: the car, the event loop and
the other clients never wait for it. The transport is the subscriber's: an *encoder* (car id +
Telemetry -> what this client reads: the socket.io dict, the Scratch Link payload) and a *sender*.
socket.io clients also say when their outgoing queue is backed up; then the latest sample stays in
the slot and is tried again next tick instead of piling more on.

Each sample is encoded once, whoever watches it: the socket.io encoder makes the event's JSON text
(``["telemetry", {...}]``) and the sender puts it on the client's engine.io queue as a ready socket.io
EVENT frame. ``sio.emit`` would instead encode the same dict again for every client, walk it for binary
parts and spawn a task per recipient; at 30 cars x 20 Hz to each car's kid and to the teacher that was
the bulk of the server's telemetry cost (benchmarks/bench_server.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import socketio
from aiohttp import web
from engineio import packet as eio_packet

from robot_runtime.protocol import Telemetry
from server.web.state import CLASSROOM, CONFIG, SIO

log = logging.getLogger(__name__)

MAX_QUEUED_PACKETS = 64  # ~3 s of one car at 20 Hz waiting in a socket's send queue: the client is stalled

Encoder = Callable[[str, Telemetry], Any]
Sender = Callable[[Any], Awaitable[None]]


def socketio_wire(car_id: str, telemetry: Telemetry) -> str:
    """What /kid and /teacher clients read, as the JSON text of the socket.io event's arguments: the
    `telemetry` event with the Telemetry message (its field aliases)."""
    return json.dumps(["telemetry", telemetry.model_dump(mode="json", by_alias=True)], separators=(",", ":"))


def socketio_event_frame(namespace: str, event_json: str) -> str:
    """A socket.io (protocol 5) EVENT frame from already encoded event arguments, as
    ``socketio.packet.Packet(EVENT, data, namespace).encode()`` writes it."""
    return ("2" if namespace == "/" else f"2{namespace},") + event_json


@dataclass(eq=False)
class Subscriber:
    key: Hashable
    wants: Callable[[str], bool]  # car_id -> does this client see that car?
    encode: Encoder
    send: Sender
    backed_up: Callable[[], bool] = lambda: False
    slot: dict[str, Any] = field(default_factory=dict)  # car_id -> latest telemetry (encoded)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    sent: int = 0
    coalesced: int = 0  # samples replaced before they were sent
    deferred: int = 0  # ticks skipped because the client's queue was backed up


class Fanout:
    def __init__(self, sio: socketio.AsyncServer, max_hz: float) -> None:
        self.sio = sio
        self.period_s = 1.0 / max_hz
        self.subscribers: dict[Hashable, Subscriber] = {}

    def add(self, key: Hashable, wants: Callable[[str], bool], encode: Encoder, send: Sender,
            backed_up: Callable[[], bool] | None = None) -> Subscriber:
        """Any transport: ``send(encode(car_id, telemetry))`` for the cars it wants, at most max_hz."""
        self.remove(key)
        sub = Subscriber(key, wants, encode, send, backed_up or (lambda: False))
        sub.task = asyncio.get_running_loop().create_task(self._send_loop(sub))
        self.subscribers[key] = sub
        return sub

    def add_socket(self, sid: str, namespace: str, wants: Callable[[str], bool]) -> Subscriber:
        """A socket.io client: `telemetry` events with the Telemetry dict (encoded once per sample)."""
        async def send(event_json: str) -> None:
            eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
            if eio_sid is None:  # the client has just left: its subscription goes with its disconnect
                return
            frame = socketio_event_frame(namespace, event_json)
            await self.sio.eio.send_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, frame))
        return self.add((sid, namespace), wants, socketio_wire, send, lambda: self._backed_up(sid, namespace))

    def remove(self, key: Hashable) -> None:
        sub = self.subscribers.pop(key, None)
        if sub and sub.task:
            sub.task.cancel()

    def publish(self, car_id: str, telemetry: Telemetry) -> None:
        encoded: dict[Encoder, Any] = {}  # one encoding per transport per sample
        for sub in self.subscribers.values():
            if not sub.wants(car_id):
                continue
            if sub.encode not in encoded:
                encoded[sub.encode] = sub.encode(car_id, telemetry)
            if car_id in sub.slot:
                sub.coalesced += 1
            sub.slot[car_id] = encoded[sub.encode]
            sub.wake.set()

    def _backed_up(self, sid: str, namespace: str) -> bool:
        """True when the client's engine.io send queue is full of unsent packets (a stalled browser)."""
        try:
            eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
            socket = self.sio.eio.sockets.get(eio_sid)
            return socket is not None and socket.queue.qsize() > MAX_QUEUED_PACKETS
        except Exception:  # internals moved: fall back to plain coalescing
            return False

    async def _send_loop(self, sub: Subscriber) -> None:
        try:
            while True:
                await sub.wake.wait()
                sub.wake.clear()
                if sub.backed_up():
                    sub.deferred += 1
                    await asyncio.sleep(self.period_s)
                    sub.wake.set()
                    continue
                batch, sub.slot = sub.slot, {}
                for wire in batch.values():
                    await sub.send(wire)
                    sub.sent += 1
                await asyncio.sleep(self.period_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("telemetry sender for %s stopped", sub.key)

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
