"""An event-loop probe for a server process under benchmark, so its own stalls can be told from a busy machine:

- event-loop lag: a task asks to wake every LAG_PERIOD_S and records how late it woke;
- garbage-collector pauses, per generation (gc.callbacks);
- with BENCH_SLOW_CALLBACKS=1, every event-loop callback that ran longer than SLOW_CALLBACK_MS, with its
  CPU time (a callback slow in CPU is our code; slow only in wall time, the process was not running):
  what a lag spike was spent on.

Used by benchmarks/server_probe.py (the classroom server) and benchmarks/sio_relay.py (the baseline).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any

LAG_PERIOD_S = 0.005  # 200 wake-ups a second: fine enough to see a 5 ms stall, cheap enough not to cause one
SLOW_CALLBACK_MS = 5.0


def _callback_name(handle: asyncio.Handle) -> str:
    cb = handle._callback  # a task step names its coroutine; anything else its function
    task = getattr(cb, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        return getattr(coro, "__qualname__", repr(coro))
    return getattr(cb, "__qualname__", repr(cb))


class LoopProbe:
    def __init__(self) -> None:
        self.lag: list[tuple[float, float]] = []  # (t, ms late)
        self.pauses: list[tuple[float, int, float]] = []  # (t, generation, ms)
        self._gc_started: dict[int, float] = {}
        self._task: asyncio.Task | None = None
        self.slow: list[tuple[float, float, float, str]] = []  # (t, wall ms, cpu ms, callback)
        self._handle_run = None

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

    def _watch_callbacks(self) -> None:
        run, slow = asyncio.Handle._run, self.slow

        def timed_run(handle: asyncio.Handle) -> None:
            t0, c0 = time.monotonic(), time.process_time()
            run(handle)
            wall = (time.monotonic() - t0) * 1000
            if wall > SLOW_CALLBACK_MS:
                slow.append((t0, wall, (time.process_time() - c0) * 1000, _callback_name(handle)))

        self._handle_run = run
        asyncio.Handle._run = timed_run  # type: ignore[method-assign]

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        if os.environ.get("BENCH_SLOW_CALLBACKS"):
            self._watch_callbacks()
        self._task = asyncio.get_running_loop().create_task(self._sample_lag())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._handle_run is not None:
            asyncio.Handle._run = self._handle_run  # type: ignore[method-assign]

    def as_dict(self) -> dict[str, Any]:
        return {"lag": self.lag, "gc": self.pauses, "slow": self.slow}

