"""An event-loop probe for a server process under benchmark, so its own stalls can be told from a busy machine:

- event-loop lag: a task asks to wake every LAG_PERIOD_S and records how late it woke;
- garbage-collector pauses, per generation (gc.callbacks).

Used by benchmarks/server_probe.py (the classroom server) and benchmarks/sio_relay.py (the baseline).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

LAG_PERIOD_S = 0.005  # 200 wake-ups a second: fine enough to see a 5 ms stall, cheap enough not to cause one


class LoopProbe:
    def __init__(self) -> None:
        self.lag: list[tuple[float, float]] = []  # (t, ms late)
        self.pauses: list[tuple[float, int, float]] = []  # (t, generation, ms)
        self._gc_started: dict[int, float] = {}
        self._task: asyncio.Task | None = None

    def _on_gc(self, phase: str, info: dict) -> None:
        now = time.monotonic()
        if phase == "start":
            self._gc_started[info["generation"]] = now
        elif info["generation"] in self._gc_started:
            self.pauses.append((now, info["generation"], (now - self._gc_started.pop(info["generation"])) * 1000))

    async def _sample_lag(self) -> None:
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(LAG_PERIOD_S)
            self.lag.append((t0, (time.monotonic() - t0 - LAG_PERIOD_S) * 1000))

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._sample_lag())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def as_dict(self) -> dict[str, Any]:
        return {"lag": self.lag, "gc": self.pauses}

