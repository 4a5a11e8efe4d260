"""The other server processes over Redis: who is alive, which car is where, messages and answers.

Keys (all under ``dojo:``):
- ``node:<id>``   "1" with a NODE_TTL_S expiry, refreshed every BEAT_S: the process is alive. A process
                  killed with -9 disappears within NODE_TTL_S, and every question asked of it is answered
                  (PeerGone) by the asker within NODE_TTL_S + BEAT_S.
- ``cars``        hash car id -> process id: where each car is connected (a dead process's entries are
                  ignored, and overwritten when the car connects to another process).
- ``nodes``       set of the processes that have joined (a dead one is removed by whoever notices).
- ``estopped``    set of car ids e-stopped until the teacher resets them.

Channels: ``to:<id>`` (messages for one process, in the order they were sent), ``all`` (every process:
the e-stop), ``events`` (classroom events, server/cluster/bridge.py). Every message is a JSON object
``{"from", "op", "id", "body"}``; an answer is ``{"op": "reply", "id", "body" | "error"}``; several for
one channel may travel as one JSON list. One sender task publishes in order (pipelined), so a stop sent
after a block never overtakes it; telemetry samples wait up to LINGER_S to share a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from typing import Any, Awaitable, Callable

import redis.asyncio as aioredis

from server.core.cluster import PeerGone

log = logging.getLogger(__name__)

PREFIX = "dojo:"
NODE_TTL_S = 3.0  # a process not heard from for this long is gone: its cars' kids get their answers then
BEAT_S = 0.5  # liveness refresh and the mirror of who holds which car (six beats per TTL: a busy loop is not death)
SEND_BATCH = 256  # messages per pipelined round trip to Redis
# A car's telemetry to another process waits this long for company: the samples of every car of this
# process in that window travel as one Redis message (a publish costs ~0.1-0.2 ms of CPU on each side in
# redis-py; 20 Hz x 30 cars one by one was most of the cross-process cost). 20 ms is under a 20 Hz tick;
# anything else (a block, a stop, an answer) is sent at once and takes the waiting samples along.
LINGER_S = 0.02

Serve = Callable[[str, dict[str, Any]], Awaitable["dict[str, Any] | None"]]
OnEvent = Callable[[str, str, list[Any]], None]  # (from process, topic, encoded args)
OnGone = Callable[[str], None]  # a process stopped renewing its liveness key


class RedisPeers:
    """Implements server.core.cluster.Peers. ``start(serve, on_event)`` at app start-up, ``close()`` at the end."""

    def __init__(self, url: str, node_id: str | None = None) -> None:
        self.url = url
        self.node_id = node_id or secrets.token_hex(4)
        self.redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._cars: dict[str, str] = {}  # mirror: car -> live process (refreshed every beat, and by events)
        self._alive: set[str] = {self.node_id}
        self._mine: set[str] = set()  # cars connected here: written again every beat (a restarted Redis forgets)
        self._told: dict[str, tuple[str | None, float]] = {}  # car -> (process or None, when an event said so)
        self._pending: dict[str, tuple[str, asyncio.Future]] = {}  # ask id -> (process, future of its answer)
        self._ids = itertools.count(1)
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._urgent = asyncio.Event()  # something other than telemetry is waiting: no lingering
        self._tasks: list[asyncio.Task] = []
        self._serving: set[asyncio.Task] = set()
        self._serve: Serve | None = None
        self._on_event: OnEvent | None = None
        self._on_gone: OnGone | None = None
        self.sent = 0
        self.received = 0

    # --- lifetime ---------------------------------------------------------------------------

    async def start(self, serve: Serve, on_event: OnEvent, on_gone: OnGone | None = None) -> None:
        self._serve, self._on_event, self._on_gone = serve, on_event, on_gone
        await self._beat()  # alive before the first car or kid can connect here
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._to(self.node_id), PREFIX + "all", PREFIX + "events")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read(pubsub)), loop.create_task(self._send()),
                       loop.create_task(self._beats())]
        log.info("server process %s joined the cluster at %s", self.node_id, self.url)

    async def close(self) -> None:
        for task in [*self._tasks, *self._serving]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._serving, return_exceptions=True)
        for _node, future in self._pending.values():
            if not future.done():
                future.set_exception(PeerGone("this server process is stopping"))
        with contextlib.suppress(Exception):  # leaving cleanly: the others need not wait for the TTL
            mine = [c for c, n in (await self.redis.hgetall(PREFIX + "cars")).items() if n == self.node_id]
            if mine:
                await self.redis.hdel(PREFIX + "cars", *mine)
            await self.redis.delete(PREFIX + "node:" + self.node_id)
            await self.redis.srem(PREFIX + "nodes", self.node_id)
        await self.redis.aclose()

    # --- the Peers protocol -----------------------------------------------------------------

    def owner_of(self, car_id: str) -> str | None:
        return self._cars.get(car_id)

    def cars(self) -> dict[str, str]:
        return dict(self._cars)

    def alive(self) -> set[str]:
        return set(self._alive)

    def alone(self) -> bool:
        """No other live process (as of the last beat)."""
        return len(self._alive) == 1

    async def ask(self, node: str, op: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        if node not in self._alive:
            raise PeerGone(f"server process {node} is not alive")
        ask_id = f"{self.node_id}.{next(self._ids)}"
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[ask_id] = (node, future)
        try:
            self._post(self._to(node), {"from": self.node_id, "op": op, "id": ask_id, "body": body})
            return await asyncio.wait_for(future, timeout_s)
        except asyncio.TimeoutError:
            raise TimeoutError(f"server process {node} did not answer {op} within {timeout_s:g} s") from None
        finally:
            self._pending.pop(ask_id, None)

    def tell(self, node: str, op: str, body: dict[str, Any]) -> None:
        self._post(self._to(node), {"from": self.node_id, "op": op, "id": None, "body": body})

    def tell_all(self, op: str, body: dict[str, Any]) -> None:
        self._post(PREFIX + "all", {"from": self.node_id, "op": op, "id": None, "body": body})

    async def shout(self, op: str, body: dict[str, Any]) -> None:
        try:
            await self.redis.publish(PREFIX + "all", json.dumps({"from": self.node_id, "op": op, "id": None,
                                                                 "body": body}, separators=(",", ":")))
        except Exception as exc:  # Redis away: our own cars are stopped; the others' cars by their watchdogs
            log.error("could not tell the other processes to %s: %r", op, exc)

    def publish_event(self, topic: str, args: list[Any], *, linger: bool = False) -> None:
        """linger: a sample of a stream (telemetry): it may wait LINGER_S for others to share a message."""
        self._post(PREFIX + "events", {"from": self.node_id, "topic": topic, "args": args}, urgent=not linger)

    # The cluster's memory of e-stops. Redis away: the stop itself has already reached the cars (each car
    # keeps its own latch, on disk for real cars); only a car moving to another process meanwhile misses it.
    async def latch(self, car_ids: list[str]) -> None:
        try:
            if car_ids:
                await self.redis.sadd(PREFIX + "estopped", *car_ids)
        except Exception as exc:
            log.error("could not note the e-stop of %s in Redis: %r", car_ids, exc)

    async def unlatch(self, car_id: str) -> None:
        try:
            await self.redis.srem(PREFIX + "estopped", car_id)
        except Exception as exc:
            log.error("could not note the reset of %s in Redis: %r", car_id, exc)

    async def latched(self, car_id: str) -> bool:
        try:
            return bool(await self.redis.sismember(PREFIX + "estopped", car_id))
        except Exception as exc:
            log.error("could not read whether %s is e-stopped from Redis: %r", car_id, exc)
            return False

    # --- car ownership ------------------------------------------------------------------------

    async def claim(self, car_id: str) -> None:
        """This car is connected here now."""
        self._cars[car_id] = self.node_id
        self._mine.add(car_id)
        try:
            await self.redis.hset(PREFIX + "cars", car_id, self.node_id)
        except Exception as exc:  # the event still goes out (queued until Redis is back); beats catch up
            log.error("could not note %s in Redis: %r", car_id, exc)

    async def release(self, car_id: str) -> None:
        """This car left this process (unless it is already connected to another one)."""
        self._mine.discard(car_id)
        if self._cars.get(car_id) == self.node_id:
            del self._cars[car_id]
        try:
            if await self.redis.hget(PREFIX + "cars", car_id) == self.node_id:
                await self.redis.hdel(PREFIX + "cars", car_id)
        except Exception as exc:
            log.error("could not note that %s left in Redis: %r", car_id, exc)

    def seen(self, node: str, car_id: str, connected: bool) -> None:
        """A car_connected / car_disconnected event from another process: the mirror follows at once."""
        if connected:
            self._cars[car_id] = node
            self._alive.add(node)
            self._told[car_id] = (node, time.monotonic())
        elif self._cars.get(car_id) == node:
            del self._cars[car_id]
            self._told[car_id] = (None, time.monotonic())

    # --- inside -------------------------------------------------------------------------------

    @staticmethod
    def _to(node: str) -> str:
        return PREFIX + "to:" + node

    def _post(self, channel: str, message: dict[str, Any], urgent: bool = True) -> None:
        self._outbox.put_nowait((channel, message))
        if urgent:
            self._urgent.set()

    async def _send(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            if not self._urgent.is_set():  # only stream samples so far: let a few more join them
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), LINGER_S)
            self._urgent.clear()
            while len(batch) < SEND_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            # one Redis message per channel: a JSON list when several share it, in the order they were posted
            by_channel: dict[str, list[dict[str, Any]]] = {}
            for channel, message in batch:
                by_channel.setdefault(channel, []).append(message)
            wire = [(channel, json.dumps(ms[0] if len(ms) == 1 else ms, separators=(",", ":")))
                    for channel, ms in by_channel.items()]
            try:
                if len(wire) == 1:
                    await self.redis.publish(*wire[0])
                else:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for channel, data in wire:
                            pipe.publish(channel, data)
                        await pipe.execute()
                self.sent += len(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: these messages are lost; asks time out, liveness says why
                log.error("could not publish %d message(s) to Redis: %r", len(batch), exc)
                await asyncio.sleep(0.1)

    async def _read(self, pubsub: Any) -> None:
        try:
            while True:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.error("reading from Redis failed: %r; retrying", exc)
                    await asyncio.sleep(0.2)
                    continue
                if message is None:
                    continue
                try:
                    data = json.loads(message["data"])
                except ValueError:
                    log.error("cluster message that is not JSON dropped: %.200s", message.get("data"))
                    continue
                for msg in data if isinstance(data, list) else [data]:
                    self.received += 1
                    try:
                        self._handle(msg)
                    except Exception:  # one bad message never stops the reader, nor the others sent with it
                        log.exception("cluster message dropped: %.200s", msg)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def _handle(self, msg: dict[str, Any]) -> None:
        sender = msg.get("from")
        if sender == self.node_id:
            return  # our own broadcast
        if "topic" in msg:
            if self._on_event is not None:
                self._on_event(str(sender), str(msg["topic"]), list(msg.get("args") or []))
            return
        if msg.get("op") == "reply":
            pending = self._pending.get(msg.get("id"))
            if pending is not None and not pending[1].done():
                if msg.get("error"):
                    pending[1].set_exception(RuntimeError(f"server process {sender}: {msg['error']}"))
                else:
                    pending[1].set_result(msg.get("body") or {})
            return
        # created in arrival order; each handler does its queue work before its first await
        task = asyncio.get_running_loop().create_task(self._answer(msg))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _answer(self, msg: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"from": self.node_id, "op": "reply", "id": msg.get("id")}
        try:
            assert self._serve is not None
            reply["body"] = await self._serve(str(msg["op"]), dict(msg.get("body") or {})) or {}
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("cluster operation %s from %s failed", msg.get("op"), msg.get("from"))
            reply["error"] = f"{type(exc).__name__}: {exc}"[:300]
        if msg.get("id") is not None:
            self._post(self._to(str(msg["from"])), reply)

    async def _beat(self) -> None:
        started = time.monotonic()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(PREFIX + "node:" + self.node_id, "1", px=int(NODE_TTL_S * 1000))
            pipe.sadd(PREFIX + "nodes", self.node_id)
            if self._mine:
                pipe.hset(PREFIX + "cars", mapping={car: self.node_id for car in self._mine})
            pipe.smembers(PREFIX + "nodes")
            pipe.hgetall(PREFIX + "cars")
            *_, members, owners = await pipe.execute()
        nodes = sorted({*members, *owners.values(), *(n for n, _ in self._pending.values())} - {self.node_id})
        alive = {self.node_id}
        if nodes:
            flags = await self.redis.mget([PREFIX + "node:" + n for n in nodes])
            alive |= {n for n, flag in zip(nodes, flags) if flag}
            gone = [n for n in nodes if n not in alive and n in members]
            if gone:  # whoever notices first tidies up; a process that comes back adds itself again
                await self.redis.srem(PREFIX + "nodes", *gone)
        dead = self._alive - alive
        self._alive = alive
        lost = [(car, node) for car, node in self._cars.items() if node in dead]
        cars = {car: node for car, node in owners.items() if node in alive}
        for car, (node, at) in list(self._told.items()):  # an event newer than this read wins over it
            if at < started:
                del self._told[car]
            elif node is None:
                cars.pop(car, None)
            elif node in alive:
                cars[car] = node
        self._cars = cars
        for node in dead:
            if self._on_gone is not None:
                self._on_gone(node)
        for car, node in lost:  # it can no longer say so itself: its cars left with it
            log.warning("server process %s is gone; %s was connected to it", node, car)
            if self._on_event is not None:
                self._on_event(node, "car_disconnected", [car])
        for ask_id, (node, future) in list(self._pending.items()):
            if node not in alive and not future.done():
                future.set_exception(PeerGone(f"server process {node} has not renewed its liveness key for "
                                              f"{NODE_TTL_S:g} s"))

    async def _beats(self) -> None:
        while True:
            await asyncio.sleep(BEAT_S)
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("cluster heartbeat to Redis failed: %r", exc)
