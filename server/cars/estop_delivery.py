"""Emergency stops that arrive: the server re-sends an e-stop until the car acknowledges it, or until the
car's telemetry shows it latched (``safety_state == "estop"``), whichever comes first.

A plain emit can be lost (a frame dropped on a flaky classroom Wi-Fi, a car reconnecting at that
instant). The car acks every e-stop (robot_runtime/runtime.py ``handle_estop`` returns its Ack) and
keeps the latch on disk, so re-sending is harmless. A car that is not connected gets the e-stop when it
comes back (the classroom re-sends a latched e-stop on connect); meanwhile its own watchdog has it stopped.

    delivery = EstopDelivery(call)          # call(car_id, payload, timeout_s) -> the car's ack
    await delivery.send("car-1", "teacher emergency stop")   # first attempt on the wire, re-sends behind it
    delivery.on_telemetry("car-1", "estop") # latched: no more re-sends
    delivery.cancel("car-1")                # reset or disconnect
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from robot_runtime.protocol import Stop

log = logging.getLogger(__name__)

ESTOP_ACK_TIMEOUT_S = 0.1  # a car on the LAN acks within milliseconds; 100 ms without an ack: send again
ESTOP_RESEND_FOR_S = 10.0  # give up re-sending after this (the link is dead; the car's watchdog stopped it)

Call = Callable[[str, dict, float], Awaitable[Any]]


class EstopDelivery:
    def __init__(self, call: Call, *, ack_timeout_s: float = ESTOP_ACK_TIMEOUT_S,
                 resend_for_s: float = ESTOP_RESEND_FOR_S) -> None:
        self._call = call
        self.ack_timeout_s = ack_timeout_s
        self.resend_for_s = resend_for_s
        self._tasks: dict[str, asyncio.Task] = {}
        self.delivered: dict[str, str] = {}  # car_id -> "ack" | "telemetry" (how we know it latched)
        self.attempts: Counter[str] = Counter()  # e-stop messages sent per car (re-sends included)

    async def send(self, car_id: str, reason: str) -> None:
        """Start delivering; returns once the first attempt is on the wire (re-sends run in the background)."""
        self.cancel(car_id)
        self.delivered.pop(car_id, None)
        payload = Stop(reason=reason[:200]).model_dump(mode="json")
        first_sent = asyncio.Event()
        self._tasks[car_id] = asyncio.create_task(self._deliver(car_id, payload, first_sent))
        await first_sent.wait()

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

    async def _deliver(self, car_id: str, payload: dict, first_sent: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resend_for_s
        try:
            while car_id not in self.delivered:
                self.attempts[car_id] += 1
                call = asyncio.ensure_future(self._call(car_id, payload, self.ack_timeout_s))
                await asyncio.sleep(0)  # the call has emitted its packet
                first_sent.set()
                try:
                    ack = await call
                except (TimeoutError, asyncio.TimeoutError):
                    ack = None
                except ConnectionError:
                    log.info("e-stop for %s: not connected; it is sent again when the car reconnects", car_id)
                    return
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
        finally:
            first_sent.set()
            if self._tasks.get(car_id) is asyncio.current_task():
                del self._tasks[car_id]
