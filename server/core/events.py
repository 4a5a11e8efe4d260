"""A tiny in-process pub/sub for classroom events.

Topics (arguments): "telemetry" (car_id, Telemetry), "block_result" (kid_id, BlockReply),
"run_started" (Run), "run_ended" (Run), "safety" (car_id, SafetyEvent), "car_connected" (car_id),
"car_disconnected" (car_id), "kid_joined" (Kid), "level_changed" (kid_id, level),
"assignment_changed" (car_id, kid_ids), "car_changed" (kid_id, old car_id or None, new car_id or None),
"estop" (reason, car_ids), "arena_changed" (car_id),
"car_refused" (car_id, {rule, address, message, kid_text}: a second connection for a live car was refused),
"refusals_summarised" (kid_id, {count, rules, detail}: refused blocks counted, not reported one by one),
"kid_removed" (Kid: the teacher took the kid out of the class; their sockets close),
"attempt_graded" (kid_id, feedback: the payload both front ends show; also after a teacher's override),
"tracked_pose" (car_id, TrackedPose: where the overhead camera saw the car; Classroom.on_tracked_pose),
"skills_changed" (skill name: a learned skill was promoted or rolled back; the skill menus refresh),
"block_answered" (kid_id, BlockReply, seconds: every block's final answer and how long it took, refusals
that "block_result" only counts included; the metrics read it).

Callbacks may be plain functions or coroutine functions (scheduled as tasks). A failing subscriber
is logged and never breaks the publisher: telemetry must keep flowing whatever a feature does.

Several server processes (docs/cluster.md): an event published here happened in this process (its
*origin*); server/cluster forwards some topics to the other processes, which *replay* them on their own
bus. A subscriber says which it wants: ``scope="all"`` (default: state every process keeps, sockets this
process holds), ``"origin"`` (it acts once for the whole cluster: a push through the Redis manager that
reaches every process's sockets, a message to a car connected here) or ``"replayed"``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import defaultdict
from typing import Any, Callable, Literal

log = logging.getLogger(__name__)

TOPICS = frozenset({
    "telemetry", "block_result", "run_started", "run_ended", "safety", "car_connected", "car_disconnected",
    "kid_joined", "level_changed", "assignment_changed", "car_changed", "estop", "arena_changed", "attempt_graded",
    "tracked_pose", "car_refused", "refusals_summarised", "kid_removed", "skills_changed", "block_answered",
})


Scope = Literal["all", "origin", "replayed"]
SCOPES = ("all", "origin", "replayed")


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[tuple[Callable[..., Any], Scope]]] = defaultdict(list)
        self._tasks: set[asyncio.Task] = set()

    def subscribe(self, topic: str, callback: Callable[..., Any], scope: Scope = "all") -> Callable[[], None]:
        """Returns a function that unsubscribes."""
        if topic not in TOPICS:
            raise ValueError(f"unknown event topic {topic!r} (topics: {', '.join(sorted(TOPICS))})")
        if scope not in SCOPES:
            raise ValueError(f"event scope must be one of {', '.join(SCOPES)} (got {scope!r})")
        entry = (callback, scope)
        self._subscribers[topic].append(entry)
        return lambda: self._subscribers[topic].remove(entry) if entry in self._subscribers[topic] else None

    def publish(self, topic: str, *args: Any) -> None:
        """An event that happened in this process."""
        self._deliver(topic, args, "replayed")

    def replay(self, topic: str, *args: Any) -> None:
        """An event another server process published (server/cluster): origin-only subscribers skip it."""
        self._deliver(topic, args, "origin")

    def _deliver(self, topic: str, args: tuple[Any, ...], skip: str) -> None:
        for callback, scope in list(self._subscribers.get(topic, ())):
            if scope == skip:
                continue
            try:
                result = callback(*args)
                if result is not None and inspect.isawaitable(result):  # most return None: telemetry x subscribers
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
            except Exception:
                log.exception("subscriber of %s failed", topic)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("subscriber task failed: %r", task.exception())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
