"""The coach's queue: model calls run in the background, a few at a time, fair between kids.

Grading never waits for the coach: the stars, the checks and feedback written from the checks reach the
kid at once (server/lessons/service.py), and the coach's words follow as an update when the model has
answered. A slow, down or hanging model therefore delays nobody's stars; it only holds one of the
queue's ``concurrency`` slots until the coach's own timeout (curriculum/coach.py) gives up on it.

- at most ``concurrency`` model calls at once (a small local VLM answers one or two at a time);
- per kid at most ``per_kid`` calls running, and one waiting: a newer try replaces the kid's waiting
  one (that try keeps its checks' feedback, and is told so), so one fast-clicking kid can never fill the
  queue, and the queue holds at most one job per kid;
- kids take turns in the order their waiting job came in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Awaitable, Callable

from server.web.metrics import Metrics

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 2  # model calls at once, for the whole class
DEFAULT_PER_KID = 1  # model calls at once for one kid


@dataclass
class CoachJob:
    kid_id: str
    key: str  # the attempt
    run: Callable[[], Awaitable[None]]  # the model call and what follows it (store, deliver)
    skipped: Callable[[], Awaitable[None]]  # a newer try of the same kid took its place in the queue


class CoachQueue:
    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY, per_kid: int = DEFAULT_PER_KID) -> None:
        if concurrency < 1 or per_kid < 1:
            raise ValueError(f"concurrency and per_kid must be at least 1 (got {concurrency}, {per_kid})")
        self.concurrency, self.per_kid = concurrency, per_kid
        self.waiting: OrderedDict[str, CoachJob] = OrderedDict()  # kid_id -> the kid's one waiting job
        self.running: defaultdict[str, int] = defaultdict(int)  # kid_id -> calls running
        self.tasks: set[asyncio.Task] = set()
        self.done = 0
        self.replaced = 0

    @property
    def busy(self) -> int:
        return sum(self.running.values())

    def submit(self, job: CoachJob) -> None:
        """Queue the job (a waiting job of the same kid is replaced) and start whatever may start now."""
        old = self.waiting.pop(job.kid_id, None)
        if old is not None:
            self.replaced += 1
            self._spawn(old.skipped(), None)
        self.waiting[job.kid_id] = job
        self._pump()

    def _pump(self) -> None:
        for kid_id in list(self.waiting):
            if self.busy >= self.concurrency:
                return
            if self.running[kid_id] >= self.per_kid:
                continue
            job = self.waiting.pop(kid_id)
            self.running[kid_id] += 1
            self._spawn(job.run(), kid_id)

    def _spawn(self, coro: Awaitable[None], kid_id: str | None) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, kid_id))

    def _finished(self, task: asyncio.Task, kid_id: str | None) -> None:
        self.tasks.discard(task)
        if kid_id is not None:
            self.running[kid_id] -= 1
            if not self.running[kid_id]:
                del self.running[kid_id]
            self.done += 1
        if not task.cancelled() and task.exception() is not None:
            log.error("coach job failed", exc_info=task.exception())
        self._pump()

    async def close(self) -> None:
        self.waiting.clear()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def register_metrics(metrics: Metrics, queue: CoachQueue) -> None:
    """The coach's share of GET /metrics (server/ops): calls made, running, waiting, replaced."""
    metrics.counter_read("dojo_coach_calls_total", "Coach (model) calls finished, any outcome.", lambda: queue.done)
    metrics.gauge("dojo_coach_calls_running", "Coach calls running now.", lambda: queue.busy)
    metrics.gauge("dojo_coach_calls_waiting", "Coach calls waiting for a slot (at most one per kid).",
                  lambda: len(queue.waiting))
    metrics.counter_read("dojo_coach_calls_replaced_total", "Waiting coach calls a newer try of the same kid replaced.",
                         lambda: queue.replaced)
