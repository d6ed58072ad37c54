"""One thread per process writes the incoming updates to the database, in batches under load.

Why one thread and not a pool: on SQLite there is a single writer anyway, and on PostgreSQL a
worker's throughput is bounded by commits. Threads queueing for one lock only added GIL
hand-offs (measured: fewer updates per second with more threads). The queue keeps arrival
order, so one chat's messages are handled in the order they came.

Batching is natural, never timed: whatever queued while a transaction was running becomes
the next batch (at most ``max_batch``), so a lone message is handled at once and a burst
shares one commit per batch (group commit). See :meth:`Dispatcher.handle_batch` for what
happens when a message in a batch fails.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from handlers.inbound import Inbound

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Inbound]], list[list[int] | Exception]]
_Item = tuple[Inbound, "asyncio.Future[list[int]]", asyncio.AbstractEventLoop]


def _settle(done: list[tuple[asyncio.Future[list[int]], list[int] | Exception]]) -> None:
    for future, result in done:
        if future.cancelled():
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


class Intake:
    """Hands inbound messages to a batch handler on one dedicated thread."""

    def __init__(self, handle_batch: BatchHandler, *, max_batch: int = 32) -> None:
        self._handle = handle_batch
        self._max = max(1, max_batch)
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Sizes of the batches handled so far (for the benchmark and /metrics).
        self.batches = 0
        self.handled = 0

    def submit(self, inbound: Inbound) -> asyncio.Future[list[int]]:
        """Queue a message now (queue order is handling order); the future gives its replies."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()
        self._start()
        self._queue.put((inbound, future, loop))
        return future

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sahut-intake",
                                                daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Handle what is queued, then end the thread."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._process(batch)

    def _process(self, batch: list[_Item]) -> None:
        try:
            results = self._handle([inbound for inbound, _, _ in batch])
        except Exception as exc:  # handle_batch reports per message; this is a last resort
            log.exception("intake batch failed")
            results = [exc] * len(batch)
        self.batches += 1
        self.handled += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for (_, future, loop), result in zip(batch, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, done in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, done)
            except RuntimeError:  # the loop closed while we worked: nobody is waiting
                log.debug("intake result dropped: event loop closed")
