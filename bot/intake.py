"""One thread per process writes the incoming updates to the database, in batches under load.

Why not a thread pool: on SQLite there is a single writer anyway, and threads queueing for
one lock only added GIL hand-offs (measured: fewer updates per second with more threads).
On PostgreSQL a few *lanes* (a thread and a queue each) overlap their waits for the server;
a chat always goes to the same lane, whose queue keeps arrival order, so one chat's
messages are handled in the order they came.

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


class _Lane:
    """One queue and the thread that drains it."""

    def __init__(self, process: Callable[[list[_Item]], None], max_batch: int,
                 name: str) -> None:
        self.queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._process = process
        self._max = max_batch
        self._name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, item: _Item) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name=self._name,
                                                    daemon=True)
                    self._thread.start()
        self.queue.put(item)

    def stop(self, timeout: float) -> None:
        thread = self._thread
        if thread is None:
            return
        self.queue.put(None)
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._process(batch)


class Intake:
    """Hands inbound messages to a batch handler on dedicated threads (``lanes``)."""

    def __init__(self, handle_batch: BatchHandler, *, max_batch: int = 32,
                 lanes: int = 1) -> None:
        self._handle = handle_batch
        size = max(1, max_batch)
        self._lanes = [_Lane(self._process, size, f"sahut-intake-{n}")
                       for n in range(max(1, lanes))]

    def submit(self, inbound: Inbound) -> asyncio.Future[list[int]]:
        """Queue a message now (queue order is handling order); the future gives its replies."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[int]] = loop.create_future()
        self._lanes[inbound.chat_id % len(self._lanes)].put((inbound, future, loop))
        return future

    def stop(self, timeout: float = 30.0) -> None:
        """Handle what is queued, then end the threads."""
        for lane in self._lanes:
            lane.stop(timeout)

    def _process(self, batch: list[_Item]) -> None:
        try:
            results = self._handle([inbound for inbound, _, _ in batch])
        except Exception as exc:  # handle_batch reports per message; this is a last resort
            log.exception("intake batch failed")
            results = [exc] * len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for (_, future, loop), result in zip(batch, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, done in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, done)
            except RuntimeError:  # the loop closed while we worked: nobody is waiting
                log.debug("intake result dropped: event loop closed")
