"""Per-user rate limits: a flood from one person is cut short before it costs a transaction."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float
    notified_at: float = -1e18


class RateLimiter:
    """Token buckets per key (channel + user): ``rate_per_minute`` sustained, ``burst`` at once."""

    def __init__(self, rate_per_minute: float, burst: int,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> tuple[bool, bool, int]:
        """(allowed, tell the user now, seconds until a message is allowed again)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._buckets.clear()  # memory bound: forgetting buckets only forgives
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True, False, 0
            wait = max(1, math.ceil((1.0 - bucket.tokens) / self.rate)) if self.rate > 0 else 60
            notify = now - bucket.notified_at >= 60.0
            if notify:
                bucket.notified_at = now
            return False, notify, wait
