"""The link watchdog: no heartbeat from the server for WATCHDOG_S -> the car is stopped.

It does not stop the car by itself: it gives the supervisor a throttle *envelope* that shrinks
linearly to zero at the deadline, at the supervisor's decel rate. Following the envelope is a
controlled stop (never harder than the decel limit) that still reaches zero throttle exactly when
the watchdog time runs out. With heartbeats every 0.1 s and a decel of 8/s the envelope stays
above full throttle while the link is healthy, so it costs nothing in normal driving.
"""

from __future__ import annotations

import math

from robot_runtime.protocol import WATCHDOG_S


class LinkWatchdog:
    def __init__(self, timeout_s: float = WATCHDOG_S, *, enabled: bool = True) -> None:
        if timeout_s <= 0:
            raise ValueError(f"watchdog timeout must be > 0 s (got {timeout_s})")
        self.timeout_s = timeout_s
        self.enabled = enabled
        # No heartbeat yet: a car that never heard from its server does not move.
        self.last_heartbeat: float = -math.inf

    def feed(self, now: float) -> None:
        self.last_heartbeat = max(self.last_heartbeat, now)

    def time_left(self, now: float) -> float:
        """Seconds until the deadline (negative once expired; +inf when disabled)."""
        if not self.enabled:
            return math.inf
        return self.last_heartbeat + self.timeout_s - now

    def expired(self, now: float) -> bool:
        return self.time_left(now) <= 0.0

    def throttle_cap(self, now: float, decel_per_s: float) -> float:
        """Largest |throttle| from which a ramp at `decel_per_s` still reaches 0 by the deadline."""
        left = self.time_left(now)
        if left == math.inf:
            return math.inf
        return max(0.0, decel_per_s * left)
