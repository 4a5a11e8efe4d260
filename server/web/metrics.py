"""Counters, gauges and histograms in Prometheus's text exposition format (version 0.0.4).

Small on purpose (no client library): the server needs a few counters, gauges read at scrape time and
one latency histogram, all in one process. Features register what they count under ``app[METRICS]``
(server/web/state.py); server/ops serves them at ``GET /metrics``.

Privacy rule: label values are machine words (a status, a rule), never a kid's name or id. ``word()``
turns anything else into ``other`` and caps how many different values one metric can grow, so a car
that reports odd reasons cannot flood the scrape either.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Callable, Iterable

LABEL_WORD = re.compile(r"[a-z][a-z0-9_]{0,47}")  # what a rule or a status looks like
MAX_SERIES = 64  # different label sets per metric; more is a bug (or a flood), not information
OTHER = "other"

Labels = tuple[tuple[str, str], ...]


def word(value: object) -> str:
    """A label value that can only be a machine word: anything else (a name, a sentence) is ``other``."""
    text = str(value or "")
    return text if LABEL_WORD.fullmatch(text) else OTHER


def _labels(labels: Labels, extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    escaped = (f'{k}="' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"' for k, v in pairs)
    return "{" + ",".join(escaped) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_: str, labelnames: tuple[str, ...] = ()) -> None:
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
            raise ValueError(f"metric name must match [a-zA-Z_:][a-zA-Z0-9_:]* (got {name!r})")
        self.name, self.help, self.labelnames = name, help_, labelnames

    def _key(self, labels: dict[str, object], taken: Iterable[Labels]) -> Labels:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes the labels {self.labelnames} (got {tuple(labels)})")
        key = tuple((k, word(labels[k])) for k in self.labelnames)
        existing = set(taken)
        if key not in existing and len(existing) >= MAX_SERIES:
            key = tuple((k, OTHER) for k in self.labelnames)
        return key

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_: str, labelnames: tuple[str, ...] = ()) -> None:
        super().__init__(name, help_, labelnames)
        self.values: dict[Labels, float] = {} if labelnames else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        key = self._key(labels, self.values)
        self.values[key] = self.values.get(key, 0.0) + amount

    def value(self, **labels: object) -> float:
        return self.values.get(tuple((k, word(labels[k])) for k in self.labelnames), 0.0)

    def lines(self) -> list[str]:
        return [f"{self.name}{_labels(k)} {_number(v)}" for k, v in sorted(self.values.items())]


class Gauge(_Metric):
    """A value read when scraped: ``read()`` returns a number, or {label value: number} for one label."""

    kind = "gauge"

    def __init__(self, name: str, help_: str, read: Callable[[], float | dict[str, float]],
                 labelnames: tuple[str, ...] = ()) -> None:
        super().__init__(name, help_, labelnames)
        if len(labelnames) > 1:
            raise ValueError(f"{name}: a gauge read at scrape time takes at most one label (got {labelnames})")
        self.read = read

    def lines(self) -> list[str]:
        value = self.read()
        if isinstance(value, dict):
            label = self.labelnames[0]
            rows = {word(k): float(v) for k, v in list(value.items())[:MAX_SERIES]}
            return [f"{self.name}{_labels(((label, k),))} {_number(v)}" for k, v in sorted(rows.items())]
        return [f"{self.name} {_number(float(value))}"]


class CounterRead(Gauge):
    """A count kept elsewhere (a queue's own tally), read when scraped: exposed as a counter."""

    kind = "counter"


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_: str, buckets: tuple[float, ...], labelnames: tuple[str, ...] = ()) -> None:
        super().__init__(name, help_, labelnames)
        if list(buckets) != sorted(set(buckets)):
            raise ValueError(f"{name}: buckets must rise strictly (got {buckets})")
        self.buckets = buckets
        self.series: dict[Labels, list[float]] = {}  # label set -> [count per bucket..., +Inf count, sum]

    def observe(self, value: float, **labels: object) -> None:
        key = self._key(labels, self.series)
        row = self.series.setdefault(key, [0.0] * (len(self.buckets) + 2))
        row[bisect.bisect_left(self.buckets, value)] += 1  # le is inclusive: value == bound counts there
        row[-1] += value

    def count(self, **labels: object) -> int:
        row = self.series.get(tuple((k, word(labels[k])) for k in self.labelnames))
        return int(sum(row[:-1])) if row else 0

    def lines(self) -> list[str]:
        out = []
        for key, row in sorted(self.series.items()):
            running = 0.0
            for bound, n in zip((*self.buckets, math.inf), row[:-1]):
                running += n
                out.append(f"{self.name}_bucket{_labels(key, (('le', _number(bound)),))} {_number(running)}")
            out.append(f"{self.name}_sum{_labels(key)} {_number(row[-1])}")
            out.append(f"{self.name}_count{_labels(key)} {_number(running)}")
        return out


class Metrics:
    """The process's metrics, in registration order."""

    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _add(self, metric: _Metric) -> _Metric:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered twice; register it once in its feature's setup")
        self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_: str, labelnames: tuple[str, ...] = ()) -> Counter:
        return self._add(Counter(name, help_, labelnames))  # type: ignore[return-value]

    def gauge(self, name: str, help_: str, read: Callable[[], float | dict[str, float]],
              labelnames: tuple[str, ...] = ()) -> Gauge:
        return self._add(Gauge(name, help_, read, labelnames))  # type: ignore[return-value]

    def counter_read(self, name: str, help_: str, read: Callable[[], float | dict[str, float]],
                     labelnames: tuple[str, ...] = ()) -> CounterRead:
        return self._add(CounterRead(name, help_, read, labelnames))  # type: ignore[return-value]

    def histogram(self, name: str, help_: str, buckets: tuple[float, ...], labelnames: tuple[str, ...] = ()) -> Histogram:
        return self._add(Histogram(name, help_, buckets, labelnames))  # type: ignore[return-value]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines += metric.header() + metric.lines()
        return "\n".join(lines) + "\n"
