"""Telemetry fan-out to every client that watches a car, coalesced: the one coalescer.

The cars' latest samples are kept here (latest wins); one ticker sends what is new, at most
``telemetry_max_hz``, to every subscriber: a client never gets two samples of one car within a tick, and
always the newest. The transport is the subscriber's: an *encoder* (car id + Telemetry -> what this client
reads: the socket.io event, the Scratch Link payload) and a *sender*. socket.io clients also say when
their outgoing queue is backed up; then they are skipped this tick and get the newest sample on a later
one instead of piling more on. A slow client only ever skips stale samples: the car, the event loop and
the other clients never wait for it (a sender that can block, such as a Scratch Link websocket, runs in
its own task, and a client whose last send has not finished is skipped like a backed-up one).

Why one ticker (issue 17, benchmarks/bench_server.py): with a task per client, every sample woke its
clients' tasks, each sent it as its own packet and slept its own timer: at 30 cars x 20 Hz to each car's
kid and to the teacher that was thousands of event-loop wake-ups a second. Now each tick is one wake-up,
each sample is encoded once per tick whoever watches it, and a client that watches many cars (the
teacher) gets them as one ``telemetry_batch`` event per tick instead of one packet per car.

The socket.io encoder makes the JSON text of the sample (the Telemetry dict with its field aliases);
the socket sender wraps it into the ``telemetry`` event (or many into ``telemetry_batch``) and puts it on
the client's engine.io queue as a ready socket.io EVENT frame — the frame python-socketio writes for
``emit`` (tests/server/kids/test_telemetry_encoded_once.py), without its per-recipient re-encoding.
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

MAX_QUEUED_PACKETS = 64  # ~3 s of telemetry ticks waiting in a socket's send queue: the client is stalled
BATCH_EVENT = "telemetry_batch"  # [Telemetry, ...]: the newest sample of each car that changed this tick

Encoder = Callable[[str, Telemetry], Any]
Sender = Callable[[Any], Awaitable[None]]


def telemetry_json(car_id: str, telemetry: Telemetry) -> str:
    """The Telemetry message (its field aliases) as compact JSON text: what /kid and /teacher clients read
    (the same text as json.dumps with python-socketio's separators, but for non-ASCII text, sent as UTF-8)."""
    return telemetry.model_dump_json(by_alias=True)  # pydantic's own JSON: 5x faster than dumps(model_dump())


def socketio_wire(car_id: str, telemetry: Telemetry) -> str:
    """The JSON text of the `telemetry` event's arguments (``["telemetry", {...}]``)."""
    return socketio_frame("/", [telemetry_json(car_id, telemetry)])[1:]


def socketio_event_frame(namespace: str, event_json: str) -> str:
    """A socket.io (protocol 5) EVENT frame from already encoded event arguments, as
    ``socketio.packet.Packet(EVENT, data, namespace).encode()`` writes it."""
    return ("2" if namespace == "/" else f"2{namespace},") + event_json


def socketio_frame(namespace: str, samples: list[str]) -> str:
    """The frame for one tick of a client: one sample as the `telemetry` event, several as one
    `telemetry_batch` event with their list (samples: telemetry_json texts)."""
    if len(samples) == 1:
        return socketio_event_frame(namespace, f'["telemetry",{samples[0]}]')
    return socketio_event_frame(namespace, f'["{BATCH_EVENT}",[{",".join(samples)}]]')


@dataclass(eq=False)
class Subscriber:
    key: Hashable
    wants: Callable[[str], bool]  # car_id -> does this client see that car?
    encode: Encoder
    send: Callable[[list[Any]], Awaitable[None]]  # this tick's encoded samples, one per car
    backed_up: Callable[[], bool] = lambda: False
    watches: Callable[[], str | None] | None = None  # the one car this client sees, if it sees only one
    inline: bool = False  # its sender never blocks (an engine.io queue): sent from the ticker itself
    seen: dict[str, int] = field(default_factory=dict)  # car_id -> version of the sample sent last
    task: asyncio.Task | None = None  # a sender that may block runs here
    sent: int = 0
    coalesced: int = 0  # samples replaced before they were sent
    deferred: int = 0  # ticks skipped because the client was backed up


class Fanout:
    def __init__(self, sio: socketio.AsyncServer, max_hz: float) -> None:
        self.sio = sio
        self.period_s = 1.0 / max_hz
        self.subscribers: dict[Hashable, Subscriber] = {}
        self.latest: dict[str, Telemetry] = {}
        self.version: dict[str, int] = {}  # car_id -> samples published
        self._wake: asyncio.Event | None = None
        self._ticker: asyncio.Task | None = None

    def add(self, key: Hashable, wants: Callable[[str], bool], encode: Encoder, send: Sender,
            backed_up: Callable[[], bool] | None = None) -> Subscriber:
        """Any transport: ``send(encode(car_id, telemetry))`` for the cars it wants, at most max_hz."""
        async def send_each(wires: list[Any]) -> None:
            for wire in wires:
                await send(wire)
        return self._add(Subscriber(key, wants, encode, send_each, backed_up or (lambda: False)))

    def add_socket(self, sid: str, namespace: str, wants: Callable[[str], bool] | None = None, *,
                   watches: Callable[[], str | None] | None = None) -> Subscriber:
        """A socket.io client: a `telemetry` event per car, or one `telemetry_batch` event when a tick has
        several cars for it. ``watches``: the one car it sees (a kid), instead of asking ``wants`` per car."""
        async def send(samples: list[str]) -> None:
            eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
            if eio_sid is None:  # the client has just left: its subscription goes with its disconnect
                return
            frame = socketio_frame(namespace, samples)
            await self.sio.eio.send_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, frame))

        if wants is None:
            def wants(car_id: str) -> bool:
                return watches is not None and watches() == car_id
        return self._add(Subscriber((sid, namespace), wants, telemetry_json, send,
                                    lambda: self._backed_up(sid, namespace), watches, inline=True))

    def _add(self, sub: Subscriber) -> Subscriber:
        self.remove(sub.key)
        sub.seen = dict(self.version)  # from now on: what was published before is not news
        self.subscribers[sub.key] = sub
        return sub

    def remove(self, key: Hashable) -> None:
        sub = self.subscribers.pop(key, None)
        if sub and sub.task:
            sub.task.cancel()

    def publish(self, car_id: str, telemetry: Telemetry) -> None:
        self.latest[car_id] = telemetry
        self.version[car_id] = self.version.get(car_id, 0) + 1
        if self._wake is None:
            self._wake = asyncio.Event()
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        if not self._wake.is_set():
            self._wake.set()

    def _backed_up(self, sid: str, namespace: str) -> bool:
        """True when the client's engine.io send queue is full of unsent packets (a stalled browser)."""
        try:
            eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
            socket = self.sio.eio.sockets.get(eio_sid)
            return socket is not None and socket.queue.qsize() > MAX_QUEUED_PACKETS
        except Exception:  # internals moved: fall back to plain coalescing
            return False

    async def _tick_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            started = loop.time()
            try:
                if await self.tick():  # someone was skipped: try again next tick even if no car sends
                    self._wake.set()
            except Exception:
                log.exception("telemetry fan-out tick failed")
            await asyncio.sleep(max(0.0, self.period_s - (loop.time() - started)))

    async def tick(self) -> bool:
        """Send every subscriber the newest sample of each car it sees that changed since its last send.
        True when a subscriber was skipped (backed up, or its last send still running)."""
        encoded: dict[tuple[Encoder, str], Any] = {}  # each sample encoded once per transport
        version, latest = self.version, self.latest
        skipped = False
        for sub in list(self.subscribers.values()):
            try:
                if sub.watches is not None:
                    car = sub.watches()
                    cars = [car] if car is not None and sub.seen.get(car, 0) < version.get(car, 0) else []
                else:
                    cars = [c for c, v in version.items() if sub.seen.get(c, 0) < v and sub.wants(c)]
                if not cars:
                    continue
                if sub.backed_up() or (sub.task is not None and not sub.task.done()):
                    sub.deferred += 1
                    skipped = True
                    continue
                wires = []
                for car in cars:
                    wire = encoded.get((sub.encode, car))
                    if wire is None:
                        wire = encoded[(sub.encode, car)] = sub.encode(car, latest[car])
                    wires.append(wire)
                    sub.coalesced += version[car] - sub.seen.get(car, 0) - 1
                    sub.seen[car] = version[car]
                sub.sent += len(wires)
                if sub.inline:
                    await sub.send(wires)
                else:
                    sub.task = asyncio.get_running_loop().create_task(self._send_apart(sub, wires))
            except Exception:
                log.exception("telemetry for %s not sent", sub.key)
        return skipped

    async def _send_apart(self, sub: Subscriber, wires: list[Any]) -> None:
        try:
            await sub.send(wires)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("telemetry sender for %s failed", sub.key)

    async def close(self) -> None:
        tasks = [s.task for s in self.subscribers.values() if s.task] + ([self._ticker] if self._ticker else [])
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
