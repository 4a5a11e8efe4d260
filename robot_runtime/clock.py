"""Clocks the car runtime reads time from, injected everywhere so tests control time.

Intervals always come from a monotonic clock (never wall time): a wall-clock jump (NTP on a Pi that
just found the network) must not fire a watchdog or stretch a timeout.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock."""

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass (real time for MonotonicClock, instant for ManualClock)."""


class MonotonicClock:
    """The real clock: time.monotonic() and asyncio.sleep()."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told: headless simulation, training and deterministic tests."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds} s)")
        self._t += seconds

    def set(self, t: float) -> None:
        if t < self._t:
            raise ValueError(f"a clock cannot go backwards (from {self._t} to {t})")
        self._t = float(t)

    async def sleep(self, seconds: float) -> None:
        # Time passes at once; yield so other tasks still get a turn.
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
