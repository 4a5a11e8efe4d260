"""How often POST /api/join may be asked: per computer, per class, and per computer for unknown class codes.

A class of 30 joins in a minute, mostly from 30 computers; a script joining 1,000 times puts phantom
kids on every car, and one guessing codes finds classes. So (``rate_limits`` in the server config):

- each address (the asking computer) may join ``join_burst_per_address`` times at once, then
  ``joins_per_address_per_min``;
- each class takes ``join_burst_per_class`` joins at once, then ``joins_per_class_per_min``;
- each address may name ``unknown_code_burst`` class codes that do not exist, then
  ``unknown_codes_per_address_per_min``: guessing one of 33 million codes takes years.

An answer over a limit is 429 naming the limit and when to try again (Retry-After). Buckets are kept
for at most MAX_KEYS addresses/classes (the least recently used go first), so a flood of made-up
addresses or codes cannot fill the memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Callable

from curriculum.gate import TokenBucket
from server.core.config import RateLimits

MAX_KEYS = 10_000  # buckets kept per kind; far more computers and classes than one school has


class JoinLimited(Exception):
    """Over a join limit: the rule, the sentence and seconds until the next try may pass."""

    def __init__(self, rule: str, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.rule, self.message, self.retry_after_s = rule, message, retry_after_s


class _Buckets:
    def __init__(self, per_min: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self._clock = per_min / 60.0, burst, clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def take(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
            while len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(key)
        return bucket.take()

    def has_token(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        return bucket is None or bucket.available() >= 1.0

    def wait_s(self) -> float:
        return 1.0 / self.rate


class JoinLimits:
    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_address = _Buckets(limits.joins_per_address_per_min, limits.join_burst_per_address, clock)
        self.per_class = _Buckets(limits.joins_per_class_per_min, limits.join_burst_per_class, clock)
        self.unknown_codes = _Buckets(limits.unknown_codes_per_address_per_min, limits.unknown_code_burst, clock)
        self.refused = 0  # joins answered 429, for tests and /api/health readers

    def check_address(self, address: str) -> None:
        if not self.per_address.take(address):
            self._refuse("join_rate", f"too many joins from this computer (more than {self.per_address.burst} at "
                                      f"once, then one every {self.per_address.wait_s():g} s)", self.per_address)

    def check_class(self, code: str) -> None:
        if not self.per_class.take(code):
            self._refuse("class_join_rate", f"too many joins to class {code} (more than {self.per_class.burst} at "
                                            f"once, then one every {self.per_class.wait_s():g} s)", self.per_class)

    def check_code_tries(self, address: str) -> None:
        """Before the code is looked at: an address whose unknown-code tries are used up learns nothing
        (every code, right or wrong, gets the same 429 until a try comes back)."""
        if not self.unknown_codes.has_token(address):
            self._refuse("class_code_tries", f"too many class codes that do not exist from this computer (more than "
                                             f"{self.unknown_codes.burst}, then one every "
                                             f"{self.unknown_codes.wait_s():g} s)", self.unknown_codes)

    def unknown_code(self, address: str) -> None:
        """A code that names no class costs one try (check_code_tries refuses once they are used up)."""
        self.unknown_codes.take(address)

    def _refuse(self, rule: str, message: str, buckets: _Buckets) -> None:
        self.refused += 1
        raise JoinLimited(rule, message, math.ceil(buckets.wait_s()))
