"""The event bridge: classroom events that other server processes need, as explicit JSON.

What crosses is what another process's state or sockets depend on: a car's telemetry and safety events
(its kid's reporters, fan-out and attempt recording live where the kid is; the teacher watches from
anywhere), cars coming and going, the teacher's changes that caches hold (levels, assignments, a kid's
car, removed kids, arenas, learned skills, the e-stop), and what teachers' consoles show (block results,
runs, graded attempts, refusal digests, refused car connections): each process pushes those to its own
teachers, whose classes only it knows. Subscribers that must act once (recording a run's attempt,
counting a metric) subscribe with ``scope="origin"``.

Each topic has an encoder (the publisher's arguments -> JSON list) and a decoder (back, validated with
the same pydantic models the rest of the server uses). Nothing is pickled.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

from robot_runtime.arena import Arena
from robot_runtime.protocol import SafetyEvent, Telemetry
from server.cluster.peers import RedisPeers
from server.core.classroom import Classroom
from server.core.types import BlockReply, Kid, Run

log = logging.getLogger(__name__)

# Topics a car sends many times a second: skipped while no other process is alive. Every other topic is
# always sent: a process that has just started may already hold a cache it would invalidate.
STREAMS = frozenset({"telemetry", "safety"})


def _same(*args: Any) -> list[Any]:
    return list(args)


def _kid(kid: Kid) -> list[Any]:
    return [dataclasses.asdict(kid)]


def _kid_back(data: dict[str, Any]) -> list[Any]:
    return [Kid(str(data["kid_id"]), str(data["name"]), str(data["class_code"]), int(data["level"]))]


def _run(run: Run) -> list[Any]:
    return [run.as_dict()]  # the program stays with the run's process (its attempt is recorded there)


def _run_back(d: dict[str, Any]) -> list[Any]:
    return [Run(str(d["run_id"]), str(d["kid_id"]), str(d["source"]), d.get("lesson_id"), d.get("car_id"),
                float(d["started_at"]), None, d.get("ended_at"), d.get("end_reason"))]


def _plain(key: Any, data: dict[str, Any]) -> list[Any]:
    return [key, dict(data)]


class Bridge:
    def __init__(self, classroom: Classroom, peers: RedisPeers) -> None:
        self.classroom, self.peers = classroom, peers
        self.forwarded = 0
        self.replayed = 0
        # topic -> (encode(*args) -> JSON list, decode(*JSON list) -> args)
        self.codecs: dict[str, tuple[Callable[..., list[Any]], Callable[..., list[Any]]]] = {
            "telemetry": (lambda car, t: [car, t.model_dump(mode="json", by_alias=True)],
                          lambda car, t: [str(car), Telemetry.model_validate(t)]),
            "safety": (lambda car, e: [car, e.model_dump(mode="json", by_alias=True)],
                       lambda car, e: [str(car), SafetyEvent.model_validate(e)]),
            "car_connected": (_same, lambda car: [str(car)]),
            "car_disconnected": (_same, lambda car: [str(car)]),
            "level_changed": (_same, lambda kid, level: [str(kid), int(level)]),
            "assignment_changed": (lambda car, kids: [car, list(kids)],
                                   lambda car, kids: [str(car), [str(k) for k in kids]]),
            "car_changed": (_same, lambda kid, old, new: [str(kid), old, new]),
            "kid_joined": (_kid, _kid_back),
            "kid_removed": (_kid, _kid_back),
            "arena_changed": (self._arena,
                              lambda car, arena: [str(car), Arena.model_validate(arena) if arena else None]),
            "skills_changed": (_same, lambda name: [str(name)]),
            "estop": (lambda reason, cars: [reason, list(cars)],
                      lambda reason, cars: [str(reason), [str(c) for c in cars]]),
            "block_result": (lambda kid, reply: [kid, reply.model_dump(mode="json")],
                             lambda kid, reply: [str(kid), BlockReply.model_validate(reply)]),
            "run_started": (_run, _run_back),
            "run_ended": (_run, _run_back),
            "refusals_summarised": (_plain, _plain),
            "car_refused": (_plain, _plain),
            "attempt_graded": (_plain, _plain),
        }

    def _arena(self, car_id: str) -> list[Any]:
        """The arena goes along: the gate (zones) and /api/arena answer it wherever the kid is."""
        arena = self.classroom.known_arena(car_id)
        return [car_id, arena.model_dump(mode="json") if arena is not None else None]

    def subscribe(self) -> None:
        events = self.classroom.events
        for topic in self.codecs:
            if topic == "car_connected":
                events.subscribe(topic, self._car_connected, scope="origin")
            elif topic == "car_disconnected":
                events.subscribe(topic, self._car_disconnected, scope="origin")
            else:
                events.subscribe(topic, self._forwarder(topic), scope="origin")

    def _forwarder(self, topic: str) -> Callable[..., None]:
        encode = self.codecs[topic][0]
        streaming = topic in STREAMS

        def forward(*args: Any) -> None:
            if streaming and self.peers.alone():  # nobody to tell: a car's 20 Hz stay off Redis
                return
            self.forwarded += 1
            self.peers.publish_event(topic, encode(*args), linger=streaming)
        return forward

    async def _car_connected(self, car_id: str) -> None:
        await self.peers.claim(car_id)  # in Redis before anyone hears of it
        self._forwarder("car_connected")(car_id)

    async def _car_disconnected(self, car_id: str) -> None:
        await self.peers.release(car_id)
        self._forwarder("car_disconnected")(car_id)

    def on_event(self, sender: str, topic: str, args: list[Any]) -> None:
        """An event of another process: decoded, the ownership mirror updated, replayed on our bus."""
        codec = self.codecs.get(topic)
        if codec is None:
            log.warning("event %r from server process %s is not one we forward; dropped", topic, sender)
            return
        decoded = codec[1](*args)
        if topic in ("car_connected", "car_disconnected"):
            self.peers.seen(sender, decoded[0], topic == "car_connected")
        self.replayed += 1
        self.classroom.replayed(topic, *decoded)
