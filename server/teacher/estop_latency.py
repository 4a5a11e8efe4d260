"""Measures every emergency stop: request received by the server -> each car's throttle at zero.

The receive time is taken by a middleware at the very start of request handling (before auth and
JSON parsing), so it is the moment the click reached the server. Each car's zero-throttle time is
the car's own clock: the first telemetry after the stop whose *applied* throttle is zero and whose
safety state is ``estop``, plus the latch time from the car's ``estop`` safety event. Car and server
share one monotonic clock when they run on one machine (simulated cars, `dojo demo`); for cars on
their own Raspberry Pi the numbers are marked ``same_clock: false`` and only the arrival time of
that telemetry on the server is comparable.

Telemetry comes at 20 Hz, so ``zero_throttle_at`` is an upper bound: the throttle was zero at that
sample at the latest (it may have been zero up to one telemetry period earlier).
"""

from __future__ import annotations

import contextvars
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web

from robot_runtime.protocol import Telemetry

RECORDS_KEPT = 20  # a lesson's worth of stops; older records are dropped
WATCH_S = 2.0  # a car with no zero-throttle telemetry 2 s after the stop is reported as not confirmed
ZERO_THROTTLE = 1e-6  # the applied command is a float; below this it is neutral
RECENT_KEPT = 10  # half a second of telemetry per car at 20 Hz: more than the stop takes to publish
SAME_CLOCK_SLACK_S = 5.0
SAMPLES_KEPT = 4  # samples kept per car and stop as evidence (the zero one and a few around it)  # a car whose clock is this far from ours is on another machine

# (monotonic receive time, method, path) of the HTTP request being handled, for the estop event
_received: contextvars.ContextVar[tuple[float, str, str] | None] = contextvars.ContextVar("estop_received", default=None)


@dataclass
class CarStop:
    car_id: str
    latched_at: float | None = None  # car clock: the supervisor latched the e-stop
    zero_throttle_at: float | None = None  # car clock: first telemetry sample with throttle 0 in estop
    telemetry_arrived_at: float | None = None  # server clock: that telemetry reached the server
    same_clock: bool = True
    # the first telemetry samples after the click (car ms, applied throttle, safety state): the evidence
    samples: list[tuple[float, float, str]] = field(default_factory=list)

    def as_dict(self, received_at: float) -> dict[str, Any]:
        def ms(t: float | None) -> float | None:
            return None if t is None else round((t - received_at) * 1000.0, 2)

        return {"car_id": self.car_id, "same_clock": self.same_clock,
                "latched_ms": ms(self.latched_at) if self.same_clock else None,
                "zero_throttle_ms": ms(self.zero_throttle_at) if self.same_clock else None,
                "telemetry_arrived_ms": ms(self.telemetry_arrived_at),
                "confirmed": self.zero_throttle_at is not None,
                "samples": [{"ms": ms(t) if self.same_clock else None, "throttle": thr, "safety_state": st}
                            for t, thr, st in self.samples]}


@dataclass
class EstopRecord:
    seq: int
    received_at: float  # server monotonic clock
    source: str  # "http POST /api/teacher/estop" or "event" when no HTTP request carried it
    reason: str
    cars: dict[str, CarStop] = field(default_factory=dict)
    published_at: float = 0.0  # server clock: the classroom finished sending the stop to every car

    def open(self, now: float) -> bool:
        return now - self.received_at < WATCH_S and any(c.zero_throttle_at is None for c in self.cars.values())

    def as_dict(self) -> dict[str, Any]:
        cars = [c.as_dict(self.received_at) for c in self.cars.values()]
        zero = [c["zero_throttle_ms"] for c in cars if c["zero_throttle_ms"] is not None]
        return {"seq": self.seq, "source": self.source, "reason": self.reason, "received_at": self.received_at,
                "sent_ms": round((self.published_at - self.received_at) * 1000.0, 2),
                "cars": cars, "all_confirmed": all(c["confirmed"] for c in cars) and bool(cars),
                "max_zero_throttle_ms": max(zero) if len(zero) == len(cars) and zero else None}


class EstopLatency:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.records: deque[EstopRecord] = deque(maxlen=RECORDS_KEPT)
        self._seq = 0
        # recent telemetry per car: a car may report its stop before the classroom publishes "estop"
        self._recent: dict[str, deque[tuple[float, Telemetry]]] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        token = _received.set((self._clock(), request.method, request.path))
        try:
            return await handler(request)
        finally:
            _received.reset(token)

    def on_estop(self, reason: str, car_ids: list[str]) -> None:
        """Subscriber of the classroom's "estop" event (published inside the estop request's task)."""
        now = self._clock()
        received = _received.get()
        # socket.io handlers run inside the websocket's HTTP request: that receive time is not this click's
        if received and received[1] == "POST" and not received[2].startswith("/socket.io"):
            received_at, source = received[0], f"http {received[1]} {received[2]}"
        else:
            received_at, source = now, "event"
        self._seq += 1
        record = EstopRecord(self._seq, received_at, source, reason, {c: CarStop(c) for c in car_ids}, now)
        self.records.append(record)
        for car_id, stop in record.cars.items():
            for arrived_at, t in self._recent.get(car_id, ()):
                if arrived_at >= received_at:
                    self._match(record, stop, t, arrived_at)

    def _match(self, record: EstopRecord, stop: CarStop, t: Telemetry, arrived_at: float) -> None:
        if stop.zero_throttle_at is not None:
            return
        same_clock = abs(t.t - arrived_at) < SAME_CLOCK_SLACK_S
        if same_clock and t.t < record.received_at:
            return  # sampled before the click reached us: says nothing about this stop
        if len(stop.samples) < SAMPLES_KEPT:
            stop.samples.append((t.t, round(t.throttle, 4), t.safety_state))
        for ev in t.safety_events:
            if ev.reason == "estop" and stop.latched_at is None:
                stop.latched_at = ev.t
        if t.safety_state == "estop" and abs(t.throttle) < ZERO_THROTTLE:
            stop.same_clock = same_clock
            stop.zero_throttle_at = t.t
            stop.telemetry_arrived_at = arrived_at

    def on_telemetry(self, car_id: str, t: Telemetry) -> None:
        now = self._clock()
        recent = self._recent.setdefault(car_id, deque(maxlen=RECENT_KEPT))
        recent.append((now, t))
        for record in reversed(self.records):  # newest first: only the last WATCH_S can still be open
            if now - record.received_at >= WATCH_S:
                break
            stop = record.cars.get(car_id)
            if stop is not None and record.open(now):
                self._match(record, stop, t, now)

    def latest(self, n: int = RECORDS_KEPT) -> list[dict[str, Any]]:
        return [r.as_dict() for r in list(self.records)[-n:]][::-1]
