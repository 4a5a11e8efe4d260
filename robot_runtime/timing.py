"""Per-stage timing of the control loop (DonkeyCar's part profiler, smaller).

Each stage keeps its last SAMPLES durations in a ring buffer; percentiles are computed only when somebody
reads them (telemetry) and cached for SUMMARY_EVERY_S, so the loop pays one list store per stage per tick
and a headless run nobody watches never sorts at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from robot_runtime.protocol import StageTiming

SAMPLES = 500  # 10 s at 50 Hz: long enough for a stable p99, short enough to show a recent hiccup
SUMMARY_EVERY_S = 1.0  # telemetry at 20 Hz needs no fresher percentiles than this


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[k]


class StageRing:
    def __init__(self, size: int = SAMPLES) -> None:
        self._buf: list[float] = [0.0] * size
        self._size = size
        self._i = 0  # next slot
        self._n = 0

    def add(self, seconds: float) -> None:
        # Called five times per tick: a store and a wrap, no modulo, no sorting (that waits for a reader).
        i = self._i
        self._buf[i] = seconds
        self._i = i + 1 if i + 1 < self._size else 0
        self._n += 1

    def values(self) -> list[float]:
        return self._buf[: min(self._n, self._size)]

    def __len__(self) -> int:
        return min(self._n, len(self._buf))


class StageTimer:
    """Durations per named stage; `summary()` gives p50/p99 in milliseconds."""

    def __init__(self, stages: tuple[str, ...] = ("skill", "supervisor", "hardware", "telemetry", "tick"),
                 size: int = SAMPLES, perf=time.perf_counter) -> None:
        self.size = size
        self.rings = {s: StageRing(size) for s in stages}
        self._perf = perf
        self._cache: dict[str, StageTiming] = {}
        self._cache_at = -1e9

    def ring(self, stage: str) -> StageRing:
        """The ring of one stage (made on first use); a hot loop keeps it and calls its add directly."""
        ring = self.rings.get(stage)
        if ring is None:
            ring = self.rings[stage] = StageRing(self.size)
        return ring

    def add(self, stage: str, seconds: float) -> None:
        self.ring(stage).add(seconds)

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        t0 = self._perf()
        try:
            yield
        finally:
            self.add(stage, self._perf() - t0)

    def summary(self, now: float | None = None) -> dict[str, StageTiming]:
        """p50/p99 per stage in ms; recomputed at most every SUMMARY_EVERY_S when `now` is given."""
        if now is not None and now - self._cache_at < SUMMARY_EVERY_S and self._cache:
            return self._cache
        out = {}
        for name, ring in self.rings.items():
            vals = sorted(ring.values())
            if vals:
                out[name] = StageTiming(p50_ms=round(percentile(vals, 50) * 1e3, 4),
                                        p99_ms=round(percentile(vals, 99) * 1e3, 4))
        self._cache, self._cache_at = out, (now if now is not None else self._cache_at)
        return out
