"""Process metrics in Prometheus text format, and structured JSON logs without personal data."""

from __future__ import annotations

import json
import logging
import threading
from bisect import bisect_left
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Counters, gauges and one latency histogram; thread-safe, no dependencies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self._gauges: dict[str, float] = {}
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Add to a counter."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counters[key] += value

    def set_gauge(self, name: str, value: float) -> None:
        """Set a gauge."""
        with self._lock:
            self._gauges[name] = value

    def observe_latency(self, seconds: float) -> None:
        """Record one handling latency."""
        with self._lock:
            self._buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds
            self._latency_count += 1

    def counter(self, name: str, **labels: str) -> float:
        """Current value of a counter (tests and health checks)."""
        with self._lock:
            return self._counters.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        """The Prometheus text exposition format."""
        lines: list[str] = []
        with self._lock:
            names = sorted({name for name, _ in self._counters})
            for name in names:
                lines.append(f"# TYPE sahut_{name} counter")
                for (metric, labels), value in sorted(self._counters.items()):
                    if metric != name:
                        continue
                    label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                    suffix = f"{{{label_text}}}" if label_text else ""
                    lines.append(f"sahut_{name}{suffix} {value:g}")
            for name, value in sorted(self._gauges.items()):
                lines.append(f"# TYPE sahut_{name} gauge")
                lines.append(f"sahut_{name} {value:g}")
            lines.append("# TYPE sahut_handler_latency_seconds histogram")
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, self._buckets, strict=False):
                cumulative += count
                lines.append(f'sahut_handler_latency_seconds_bucket{{le="{bound}"}} {cumulative}')
            cumulative += self._buckets[-1]
            lines.append(f'sahut_handler_latency_seconds_bucket{{le="+Inf"}} {cumulative}')
            lines.append(f"sahut_handler_latency_seconds_sum {self._latency_sum:.6f}")
            lines.append(f"sahut_handler_latency_seconds_count {self._latency_count}")
        return "\n".join(lines) + "\n"


class JsonFormatter(logging.Formatter):
    """One JSON object per log line; message arguments are kept out of INFO records' text."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("ticket", "update_id", "outbox_id", "decision"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(*, verbose: bool = False, json_logs: bool = False) -> None:
    """Set up logging once: human lines or JSON lines; never tokens (httpx URLs are quiet)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    # httpx logs every request URL, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
