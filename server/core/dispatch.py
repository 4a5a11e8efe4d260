"""Per-car dispatch: one running request per car, a fair queue between kids, stop skips everything.

Guarantees (DESIGN.md "Skill requests"):
- every submitted request gets exactly one final :class:`Outcome` (done, failed, cancelled, timed_out;
  the gate's refusals never get here);
- a car runs one request at a time; a kid's own requests run in order; a car shared by several kids
  takes turns round robin between kids, so one busy kid cannot starve the others;
- ``stop`` goes to the car at once and cancels that kid's queued requests; the teacher's emergency
  stop reaches every car at once and cancels every queue;
- a car that disconnects fails its running and queued requests with a reason;
- no wait is unbounded: the car's ack, the result (skill timeout + margin), the answer after a stop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable

from robot_runtime.protocol import (
    Action, Cancel, DriveAction, GotoAction, NamedSkillAction, Pose, RemoteAction, SkillRequest, SkillResult, TurnAction,
)
from server.core import log_context
from server.core.car_port import CarPort

log = logging.getLogger(__name__)

# Skill timeouts: conservative, so a slow real car finishes before the server gives up on it.
SLOWEST_TOP_SPEED_CM_S = 100.0  # a toy car's top speed; real RC cars are faster, never slower
MIN_SKILL_TIMEOUT_S = 5.0  # covers acceleration, braking and a settle time for the shortest move
MAX_SKILL_TIMEOUT_S = 120.0  # the protocol's upper bound for SkillRequest.timeout_s
NAMED_SKILL_TIMEOUT_S = 60.0  # the longest trick in the catalog (figure eight) takes ~20 s
TURN_RADIUS_CM = 60.0  # turns are arcs; a 1/10 car's tightest radius is ~51 cm
ARENA_DIAGONAL_CM = 600.0  # goto bound when the start pose is unknown


def skill_timeout_s(action: Action, min_s: float = MIN_SKILL_TIMEOUT_S) -> float:
    """How long the car may take for this action, before the request is `timed_out`."""
    speed = getattr(action, "speed_pct", 50.0)
    cm_per_s = max(1.0, SLOWEST_TOP_SPEED_CM_S * speed / 100.0)
    if isinstance(action, DriveAction):
        expected = action.seconds if action.seconds is not None else abs(action.distance_cm or 0.0) / cm_per_s
    elif isinstance(action, TurnAction):
        expected = math.radians(abs(action.degrees)) * TURN_RADIUS_CM / cm_per_s
    elif isinstance(action, GotoAction):
        expected = 2 * ARENA_DIAGONAL_CM / cm_per_s
    elif isinstance(action, NamedSkillAction):
        expected = NAMED_SKILL_TIMEOUT_S / 2
    elif isinstance(action, RemoteAction):  # driving by hand: as long as the protocol allows
        return MAX_SKILL_TIMEOUT_S
    else:
        expected = 0.0
    return float(min(MAX_SKILL_TIMEOUT_S, max(min_s, 2 * expected + min_s)))


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | cancelled | timed_out
    reason: str = ""  # machine reason
    kid_text: str = ""
    detail: str = ""
    final_pose: Pose | None = None
    duration_s: float = 0.0


@dataclass(eq=False)
class Request:
    request_id: str
    kid_id: str
    car_id: str
    action: Action
    block: str = ""
    run_id: str | None = None
    timeout_s: float = 30.0
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    submitted_at: float = 0.0
    started_at: float | None = None

    def finish(self, outcome: Outcome) -> bool:
        """Give the one final answer; later answers are ignored (returns False)."""
        if self.future.done():
            return False
        self.future.set_result(outcome)
        return True


@dataclass(eq=False)
class CarQueue:
    car_id: str
    connected: bool = True
    estopped: bool = False
    running: Request | None = None
    waiting: "OrderedDict[str, deque[Request]]" = field(default_factory=OrderedDict)  # kid -> requests, turn order
    task: asyncio.Task | None = None
    last_kid: str | None = None

    def next_request(self) -> Request | None:
        """Round robin between kids: the kid served last waits while anybody else is waiting."""
        kids = [k for k, q in self.waiting.items() if q]
        if not kids:
            self.waiting.clear()
            return None
        kid_id = kids[1] if len(kids) > 1 and kids[0] == self.last_kid else kids[0]
        queue = self.waiting[kid_id]
        request = queue.popleft()
        if queue:
            self.waiting.move_to_end(kid_id)
        else:
            del self.waiting[kid_id]
        self.last_kid = kid_id
        return request

    def queued(self) -> list[Request]:
        return [r for q in self.waiting.values() for r in q]


# Runs before a request goes to its car; an Outcome it returns ends the request there (nothing is sent).
BeforeStart = Callable[[Request], Awaitable["Outcome | None"]]


class Dispatcher:
    def __init__(self, link: CarPort | None = None, *, ack_timeout_s: float = 2.0, result_margin_s: float = 3.0,
                 stop_grace_s: float = 1.0, before_start: BeforeStart | None = None,
                 on_finished: Callable[[Request, Outcome], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.ack_timeout_s, self.result_margin_s, self.stop_grace_s = ack_timeout_s, result_margin_s, stop_grace_s
        self.before_start = before_start
        self.on_finished = on_finished
        self._clock = clock
        self.cars: dict[str, CarQueue] = {}
        self._ids = itertools.count(1)
        self._process_tag = secrets.token_hex(3)  # this dispatcher's ids never repeat another's
        self._tasks: set[asyncio.Task] = set()

    # --- cars -----------------------------------------------------------------------------

    def car_connected(self, car_id: str) -> None:
        car = self.cars.setdefault(car_id, CarQueue(car_id))
        car.connected = True

    def car_disconnected(self, car_id: str, reason: str | None = None) -> None:
        car = self.cars.get(car_id)
        if car is None:
            return
        car.connected = False
        text = reason or f"{car_id} lost its connection"
        outcome = Outcome("failed", "car_disconnected", f"Your car {car_id} lost its connection — ask your teacher to check it.",
                          text)
        for request in ([car.running] if car.running else []) + car.queued():
            self._finish(request, outcome)
        car.waiting.clear()

    def pending(self) -> int:
        """Requests given to the dispatcher that have no final answer yet (running and queued, every car)."""
        return sum((car.running is not None and not car.running.future.done()) + len(car.queued())
                   for car in self.cars.values())

    def is_connected(self, car_id: str) -> bool:
        car = self.cars.get(car_id)
        return bool(car and car.connected)

    # --- requests -------------------------------------------------------------------------

    def new_request_id(self, car_id: str) -> str:
        """Unique for the car across server processes and restarts: a car keeps the ids it has seen and
        refuses one again (`duplicate_request`), and it may move to another process or outlive this one."""
        return f"{car_id}.{self._process_tag}.{next(self._ids)}"

    def submit(self, request: Request) -> asyncio.Future:
        request.submitted_at = self._clock()
        car = self.cars.get(request.car_id)
        if car is None or not car.connected:
            self._finish(request, Outcome("failed", "car_not_connected",
                                          f"Your car {request.car_id} is not switched on yet — ask your teacher.",
                                          f"{request.car_id} is not connected — start it with "
                                          f"`dojo car --sim --name {request.car_id}`"))
            return request.future
        if car.estopped:
            self._finish(request, Outcome("failed", "estop_latched", "The teacher paused the cars. Wait for the go-ahead!",
                                          f"{request.car_id} is emergency-stopped; the teacher resets it"))
            return request.future
        car.waiting.setdefault(request.kid_id, deque()).append(request)
        self._pump(car)
        return request.future

    def _pump(self, car: CarQueue) -> None:
        if car.running is not None or not car.connected:
            return
        request = car.next_request()
        if request is None:
            return
        car.running = request
        task = asyncio.get_running_loop().create_task(  # its log lines name the request (structured logs)
            self._run(car, request), context=log_context.context_with(request_id=request.request_id, car_id=car.car_id))
        car.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, car: CarQueue, request: Request) -> None:
        request.started_at = self._clock()
        try:
            if self.before_start:
                refused = await self.before_start(request)
                if refused is not None:
                    self._finish(request, refused)
                    return
            if request.future.done():  # cancelled while limits were sent
                return
            if self.link is None:
                raise ConnectionError("no car link")
            wire = SkillRequest(request_id=request.request_id, action=request.action, timeout_s=request.timeout_s)
            ack = await self.link.send_skill(car.car_id, wire, self.ack_timeout_s)
            if not ack.ok:
                err = ack.error
                self._finish(request, Outcome("failed", err.rule if err else "car_refused",
                                              "The car can't do that right now.",
                                              f"{car.car_id} refused the request: {err.message if err else 'no reason'}"))
                return
            try:
                await asyncio.wait_for(asyncio.shield(request.future), request.timeout_s + self.result_margin_s)
            except asyncio.TimeoutError:
                self._finish(request, Outcome("timed_out", "timeout", "That took too long, so I stopped waiting.",
                                              f"no result from {car.car_id} within {request.timeout_s + self.result_margin_s:g} s"))
                await self._quietly(self.link.send_cancel(car.car_id, Cancel(request_id=request.request_id,
                                                                              reason="timed_out")))
        except TimeoutError:  # the car did not ack (asyncio.TimeoutError is TimeoutError on 3.11)
            self._finish(request, Outcome("failed", "no_ack", f"Your car {car.car_id} is not answering.",
                                          f"{car.car_id} did not acknowledge within {self.ack_timeout_s:g} s"))
        except asyncio.CancelledError:
            self._finish(request, Outcome("cancelled", "server_stopping", "The server is stopping.", "server shutdown"))
            raise
        except Exception as exc:  # the link failed: the car is gone or the socket broke
            log.warning("request %s to %s failed: %r", request.request_id, car.car_id, exc)
            self._finish(request, Outcome("failed", "link_error", f"Your car {car.car_id} lost its connection.",
                                          f"{car.car_id}: {exc!r}"))
        finally:
            if car.running is request:
                car.running = None
            self._pump(car)

    def on_result(self, car_id: str, result: SkillResult) -> bool:
        """A car's final answer; returns False when it matches nothing running (late or unknown)."""
        car = self.cars.get(car_id)
        request = car.running if car else None
        if request is None or request.request_id != result.request_id:
            return False
        return self._finish(request, Outcome(result.status, result.reason, result.kid_text, result.detail,
                                             result.final_pose, result.duration_s))

    def _finish(self, request: Request, outcome: Outcome) -> bool:
        if not request.finish(outcome):
            return False
        log.info("%s %s %s%s", request.request_id, request.block or "request", outcome.status,
                 f" ({outcome.reason})" if outcome.reason else "",
                 extra={"fields": {"request_id": request.request_id, "run_id": request.run_id, "car_id": request.car_id}})
        car = self.cars.get(request.car_id)
        if car is not None and car.running is not request:
            queue = car.waiting.get(request.kid_id)
            if queue and request in queue:
                queue.remove(request)
        if self.on_finished:
            try:
                self.on_finished(request, outcome)
            except Exception:
                log.exception("on_finished hook failed")
        return True

    # --- stops ----------------------------------------------------------------------------

    async def stop_kid(self, kid_id: str, car_id: str | None, reason: str = "stop",
                       kid_text: str = "Stopped.") -> None:
        """Stop now: the stop reaches the car first, then the kid's queue is cancelled."""
        if car_id and self.link and self.is_connected(car_id):
            await self._quietly(self.link.send_stop(car_id, reason))
        cancelled = Outcome("cancelled", "stop", kid_text, f"stopped: {reason}")
        for car in self.cars.values():
            for request in list(car.waiting.get(kid_id, ())):
                self._finish(request, cancelled)
            car.waiting.pop(kid_id, None)
        car = self.cars.get(car_id) if car_id else None
        if car and car.running is not None:
            self._answer_after_grace(car.running, cancelled)

    async def estop_all(self, reason: str) -> list[str]:
        """Emergency stop every connected car at once; returns the car ids reached."""
        return await self.estop(None, reason)

    async def estop(self, car_ids: Iterable[str] | None, reason: str,
                    kid_text: str = "The teacher stopped all cars.") -> list[str]:
        """Emergency stop these cars (None: every car) at once; returns the car ids reached. Other cars
        are not touched: one class's e-stop never stops another class's cars."""
        wanted = None if car_ids is None else set(car_ids)
        cars = [c for c in self.cars.values() if wanted is None or c.car_id in wanted]
        connected = [c for c in cars if c.connected]
        for car in cars:  # a car reconnecting right now is latched when it is back
            car.estopped = True
        if self.link:  # one after the other: the hub queues each without waiting, so all go in one loop turn
            for c in connected:
                await self._quietly(self.link.send_estop(c.car_id, reason))
        outcome = Outcome("cancelled", "estop", kid_text, f"emergency stop: {reason}")
        for car in cars:
            for request in car.queued():
                self._finish(request, outcome)
            car.waiting.clear()
            if car.running is not None:
                self._answer_after_grace(car.running, outcome)
        return [c.car_id for c in connected]

    async def stop_car(self, car_id: str, reason: str) -> None:
        """Teacher's stop for one car: stop it and cancel everything queued on it."""
        car = self.cars.get(car_id)
        if car is None:
            return
        if self.link and car.connected:
            await self._quietly(self.link.send_stop(car_id, reason))
        outcome = Outcome("cancelled", "teacher_stop", "The teacher stopped your car.", f"teacher stop: {reason}")
        for request in car.queued():
            self._finish(request, outcome)
        car.waiting.clear()
        if car.running is not None:
            self._answer_after_grace(car.running, outcome)

    def reset_estop(self, car_id: str) -> None:
        car = self.cars.get(car_id)
        if car:
            car.estopped = False

    def cancel_run(self, kid_id: str, run_id: str, reason: str) -> None:
        """A newer program replaced this run: its queued requests end as cancelled, the running one too."""
        outcome = Outcome("cancelled", "newer_program", "A newer program started.", f"run {run_id}: {reason}")
        for car in self.cars.values():
            for request in list(car.waiting.get(kid_id, ())):
                if request.run_id == run_id:
                    self._finish(request, outcome)
            running = car.running
            if running is not None and running.kid_id == kid_id and running.run_id == run_id and self.link:
                self.spawn(self._quietly(self.link.send_cancel(car.car_id, Cancel(request_id=running.request_id,
                                                                                  reason="newer_program"))))
                self._answer_after_grace(running, outcome)

    def _answer_after_grace(self, request: Request, outcome: Outcome) -> None:
        """The car answers a stopped request itself; if it does not within the grace time, we do."""
        async def later() -> None:
            await asyncio.sleep(self.stop_grace_s)
            self._finish(request, outcome)
        self.spawn(later())

    # --- status ---------------------------------------------------------------------------

    def kid_status(self, kid_id: str, car_id: str | None) -> tuple[str, int | None]:
        """("running" | "waiting" | "idle", position in the car's turn order (1 = next) or None)."""
        car = self.cars.get(car_id) if car_id else None
        if car is None:
            return "idle", None
        if car.running is not None and car.running.kid_id == kid_id:
            return "running", 0
        order = [k for k, q in car.waiting.items() if q]
        if len(order) > 1 and order[0] == car.last_kid:  # next_request() lets the kid served last wait
            order[0], order[1] = order[1], order[0]
        if kid_id in order:
            return "waiting", order.index(kid_id) + 1
        return "idle", None

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception as exc:  # a broken link must never stop a stop from reaching the other cars
            log.warning("send to car failed: %r", exc)

    async def close(self) -> None:
        for car in self.cars.values():
            self.car_disconnected(car.car_id, "server stopping")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
