"""Refused block calls, reported per kid per window: the first one as it is, the rest counted.

A kid (or a script with a kid's token) can send a thousand refused blocks a second: unknown, locked,
malformed or over the rate limit. Each still gets its own answer, but the request log and the teacher's
sockets get at most two reports per kid per window (``rate_limits.refusal_report_s``, 1 s): the first
refusal as it is, and when the window is over one summary that counts the rest by rule. So a flood
of 1,000/s for 20 s writes about 40 rows instead of 20,000 and never floods the console.

I/O-free, clock injected: :meth:`note` says whether to report a refusal now, :meth:`drain` hands out the
summaries of windows that are over (the classroom calls it from its periodic request-log flush).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class RefusalSummary:
    """The refusals of one kid in one window that were counted, not reported one by one."""

    kid_id: str
    car_id: str | None
    started: float  # clock() of the window's first refusal
    count: int
    rules: Counter[str] = field(default_factory=Counter)

    def detail(self, window_s: float) -> str:
        rules = ", ".join(f"{rule} ×{n}" for rule, n in self.rules.most_common(5))
        return f"{self.count} more refused block{'s' if self.count != 1 else ''} within {window_s:g} s ({rules})"


class RefusalDigest:
    def __init__(self, window_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self._clock = window_s, clock
        self._open: dict[str, RefusalSummary] = {}  # kid -> the window its first reported refusal opened
        self._closed: list[RefusalSummary] = []

    def note(self, kid_id: str, car_id: str | None, rule: str) -> bool:
        """A refusal for this kid: True to report it now (the first of a window), False when it is counted."""
        now = self._clock()
        window = self._open.get(kid_id)
        if window is not None and now - window.started < self.window_s:
            window.count += 1
            window.rules[rule or "refused"] += 1
            return False
        if window is not None and window.count:
            self._closed.append(window)
        self._open[kid_id] = RefusalSummary(kid_id, car_id, now, 0)
        return True

    def drain(self) -> list[RefusalSummary]:
        """Summaries of the windows that are over and counted something (each handed out once)."""
        now = self._clock()
        out, self._closed = self._closed, []
        for kid_id, window in list(self._open.items()):
            if now - window.started >= self.window_s:
                del self._open[kid_id]
                if window.count:
                    out.append(window)
        return out
