"""Emergency stops that arrive: the server re-sends an e-stop until the car acknowledges it, or until the
car's telemetry shows it latched (``safety_state == "estop"``), whichever comes first.

A plain emit can be lost (a frame dropped on a flaky classroom Wi-Fi, a car reconnecting at that
instant). The car acks every e-stop (robot_runtime/runtime.py ``handle_estop`` returns its Ack) and
keeps the latch on disk, so re-sending is harmless. A car that is not connected gets the e-stop when it
comes back (the classroom re-sends a latched e-stop on connect); meanwhile its own watchdog has it stopped.

The first e-stop is put on the wire synchronously (``emit`` queues the frame and returns a future for
the car's ack): a STOP ALL queues every car's e-stop in one turn of the event loop, before any other
work of the server runs (issue 17: e-stop -> 30 cars latched; there were four tasks and as many loop
turns per car before the frame was queued).

    delivery = EstopDelivery(emit)          # emit(car_id, payload) -> future of the car's ack; frame queued
    delivery.send("car-1", "teacher emergency stop")   # on the wire now; re-sends run in the background
    delivery.on_telemetry("car-1", "estop") # latched: no more re-sends
    delivery.cancel("car-1")                # reset or disconnect
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from robot_runtime.protocol import Stop

log = logging.getLogger(__name__)

ESTOP_ACK_TIMEOUT_S = 0.1  # a car on the LAN acks within milliseconds; 100 ms without an ack: send again
ESTOP_RESEND_FOR_S = 10.0  # give up re-sending after this (the link is dead; the car's watchdog stopped it)

Emit = Callable[[str, dict], "asyncio.Future[Any]"]  # raises ConnectionError when the car is not connected


class EstopDelivery:
    def __init__(self, emit: Emit, *, ack_timeout_s: float = ESTOP_ACK_TIMEOUT_S,
                 resend_for_s: float = ESTOP_RESEND_FOR_S) -> None:
        self._emit = emit
        self.ack_timeout_s = ack_timeout_s
        self.resend_for_s = resend_for_s
        self._tasks: dict[str, asyncio.Task] = {}
        self.delivered: dict[str, str] = {}  # car_id -> "ack" | "telemetry" (how we know it latched)
        self.attempts: Counter[str] = Counter()  # e-stop messages sent per car (re-sends included)

    def send(self, car_id: str, reason: str) -> None:
        """The first e-stop is queued on the car's link when this returns (ConnectionError if the car is
        not connected); waiting for the ack and the re-sends run in the background."""
        self.cancel(car_id)
        self.delivered.pop(car_id, None)
        payload = Stop(reason=reason[:200]).model_dump(mode="json")
        self.attempts[car_id] += 1
        ack = self._emit(car_id, payload)
        self._tasks[car_id] = asyncio.get_running_loop().create_task(self._deliver(car_id, payload, ack))

    def on_telemetry(self, car_id: str, safety_state: str) -> None:
        if safety_state == "estop" and car_id in self._tasks:
            self.delivered.setdefault(car_id, "telemetry")
            self.cancel(car_id)

    def cancel(self, car_id: str) -> None:
        task = self._tasks.pop(car_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def pending(self) -> list[str]:
        return sorted(self._tasks)

    async def _deliver(self, car_id: str, payload: dict, ack_future: "asyncio.Future[Any]") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resend_for_s
        try:
            while car_id not in self.delivered:
                try:
                    ack = await asyncio.wait_for(ack_future, self.ack_timeout_s)
                except (TimeoutError, asyncio.TimeoutError):
                    ack = None
                if isinstance(ack, dict) and ack.get("ok"):
                    self.delivered[car_id] = "ack"
                    return
                if loop.time() >= deadline:
                    log.error("e-stop for %s: no ack after %d attempts in %.0f s", car_id, self.attempts[car_id],
                              self.resend_for_s)
                    return
                log.warning("e-stop for %s not acknowledged (%r): sending again", car_id, ack)
                if ack is not None:
                    await asyncio.sleep(self.ack_timeout_s)  # it answered, but not ok: do not hammer it
                if car_id in self.delivered:
                    return
                self.attempts[car_id] += 1
                try:
                    ack_future = self._emit(car_id, payload)
                except ConnectionError:
                    log.info("e-stop for %s: not connected; it is sent again when the car reconnects", car_id)
                    return
        finally:
            if self._tasks.get(car_id) is asyncio.current_task():
                del self._tasks[car_id]
