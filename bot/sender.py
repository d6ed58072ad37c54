"""Deliver the outbox: render, send through a transport, record relay links, retry safely.

Ordering: within one chat messages go out in the order they were queued (only the head of a
chat's queue is ever claimed, and it stays claimed while in flight); across chats the
citizen's replies go before cards, reminders and digests (lower priority value first).

Pacing (:class:`Pacer`, per process): an overall rate, one message per ``interval`` to a
citizen, ``group_per_minute`` into a group, and 429 ``retry_after`` honoured for the chat
(and for everyone when several chats are flooded at once). 5xx answers and timeouts are
retried with exponential backoff; permanent errors are given up and recorded on the ticket.
A message confirmed by the platform is recorded as sent before anything else happens, and a
sent row is never claimed again, so a confirmed message is never delivered twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import SenderConfig
from bot.observability import Metrics
from bot.render import Renderer
from db.models import OutboxRow, state_is
from db.repositories import SqlUnitOfWork
from routing.people import MessageLink
from routing.ports import Clock
from routing.services import Helpdesk

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
#: Pacing off: what the console and most tests use.
UNPACED = SenderConfig(overall_per_second=1_000_000.0, group_per_minute=1_000_000,
                       private_chat_interval=0.0)


class PermanentFailure(Exception):
    """The message can never be delivered (blocked bot, chat gone, bad request)."""


class RetryLater(Exception):
    """A temporary failure; try again after ``delay`` seconds.

    ``flood`` marks the platform's flood control (HTTP 429): the delay is the platform's
    ``retry_after`` for that chat and the attempt does not count towards giving up.
    Otherwise (5xx, timeouts) the sender backs off exponentially, at least ``delay``.
    """

    def __init__(self, delay: float, reason: str = "", *, flood: bool = False) -> None:
        super().__init__(reason or f"retry after {delay}s")
        self.delay = delay
        self.flood = flood


class Pacer:
    """In-process pacing: overall rate, per-chat interval, per-group window, 429 blocks."""

    #: Flood answers for this many distinct chats within FLOOD_WINDOW pause everyone.
    FLOOD_CHATS = 2
    FLOOD_WINDOW = 2.0

    def __init__(self, settings: SenderConfig,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.now = monotonic
        self.interval = 1.0 / settings.overall_per_second
        self._next_slot = 0.0
        self._chat_next: dict[int, float] = {}
        self._group_sent: dict[int, deque[float]] = {}
        self._blocked: dict[int, float] = {}
        self._floods: deque[tuple[float, int]] = deque()
        self.paused_until = 0.0
        self.sent = 0

    def ready_in(self, chat_id: int) -> float:
        """Seconds until a message may go to this chat (0: now)."""
        now = self.now()
        ready = max(self._blocked.get(chat_id, 0.0), self._chat_next.get(chat_id, 0.0),
                    self.paused_until)
        window = self._group_sent.get(chat_id)
        if window is not None:
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= self.settings.group_per_minute:
                ready = max(ready, window[0] + 60.0)
        return max(0.0, ready - now)

    def chat_spacing(self, chat_id: int) -> float:
        """The minimum spacing between two messages to this chat (for queued followers)."""
        if chat_id < 0:
            per_minute = self.settings.group_per_minute
            return 60.0 / per_minute if per_minute < UNPACED.group_per_minute else 0.0
        return self.settings.private_chat_interval

    async def acquire(self, chat_id: int) -> None:
        """Wait until one message may be sent to ``chat_id``, then count it."""
        while True:
            wait = self.ready_in(chat_id)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        now = self.now()
        # One slot per 1/rate seconds; a little credit (0.1 s) absorbs scheduling jitter
        # without allowing a burst after an idle period.
        slot = max(self._next_slot, now - 0.1)
        self._next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
        sent_at = self.now()
        self.sent += 1
        if chat_id < 0:
            if self.settings.group_per_minute < UNPACED.group_per_minute:
                self._group_sent.setdefault(chat_id, deque()).append(sent_at)
        elif self.settings.private_chat_interval > 0:
            self._chat_next[chat_id] = sent_at + self.settings.private_chat_interval
        if len(self._chat_next) > 50_000:
            self._prune(sent_at)

    def flood(self, chat_id: int, seconds: float) -> None:
        """The platform said 429 for this chat: block it; pause all if it is widespread."""
        now = self.now()
        self._blocked[chat_id] = max(self._blocked.get(chat_id, 0.0), now + seconds)
        self._floods.append((now, chat_id))
        while self._floods and self._floods[0][0] < now - self.FLOOD_WINDOW:
            self._floods.popleft()
        if len({chat for _, chat in self._floods}) >= self.FLOOD_CHATS:
            self.paused_until = max(self.paused_until, now + seconds)

    def _prune(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        self._blocked = {c: t for c, t in self._blocked.items() if t > now}


@dataclass(frozen=True)
class RenderedMessage:
    """An outbox row made ready for a transport."""

    outbox_id: int
    channel: str
    chat_id: int
    text: str
    buttons: list[list[tuple[str, str]]]
    attachment: dict[str, Any] | None
    reply_to_message_id: int | None


class Transport(Protocol):
    """Something that can put a rendered message into a chat."""

    async def send(self, message: RenderedMessage) -> int:
        """Deliver; return the platform's message id, or raise PermanentFailure/RetryLater."""
        ...


def render_row(row: OutboxRow, renderer: Renderer) -> RenderedMessage:
    """Render an outbox row's template and button labels."""
    text = renderer.render(row.template, dict(row.context or {}))
    rows: list[list[tuple[str, str]]] = []
    for button_row in (row.keyboard or {}).get("rows", []):
        rows.append([(renderer.label(b["label"], b.get("params")), b["data"])
                     for b in button_row])
    return RenderedMessage(row.id, row.channel, row.chat_id, text, rows, row.attachment,
                           row.reply_to_message_id)


def database_unavailable(exc: BaseException) -> bool:
    """Whether an exception means the database is unreachable (worth waiting for)."""
    if isinstance(exc, OperationalError | InterfaceError | OSError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _outbox_statements() -> tuple[Any, Any, Any, Any, Any]:
    """The sender's statements, built once with bound parameters (they run for every send)."""
    outbox: Any = OutboxRow.__table__
    c = outbox.c

    def oldest_open(alias: str, channel: Any, chat_id: Any) -> Any:
        """The id of a chat's oldest pending or in-flight row: one seek in ix_outbox_open."""
        row = outbox.alias(alias)
        return (select(func.min(row.c.id))
                .where(row.c.channel == channel, row.c.chat_id == chat_id,
                       state_is(row.c.state, "pending", "sending"))
                .scalar_subquery())

    # Only the head of a chat's queue may go: no older message of the chat waits or flies,
    # i.e. the row is the oldest open row of its chat. A scalar subquery, not NOT EXISTS:
    # PostgreSQL turns NOT EXISTS into an anti join, and with statistics that lag behind a
    # burst it joined on the channel alone, walking the whole backlog per candidate. A
    # scalar subquery runs per candidate as one seek.
    is_head = c.id == oldest_open("earlier", c.channel, c.chat_id)
    # Walks ix_outbox_ready in the claim's order and stops at the limit.
    claim = (select(outbox)
             .where(state_is(c.state, "pending"), c.channel == bindparam("b_channel"),
                    c.available_at <= bindparam("b_now"), is_head)
             .order_by(c.priority, c.available_at, c.id)
             .limit(bindparam("b_limit")))
    # Sends whose process died mid-flight come back when their lease runs out.
    expired = (select(outbox)
               .where(state_is(c.state, "sending"), c.channel == bindparam("b_channel"),
                      c.lease_until < bindparam("b_now"), is_head)
               .order_by(c.priority, c.id)
               .limit(bindparam("b_limit")))
    lease = (update(outbox).where(c.id == bindparam("b_id"))
             .values(state="sending", lease_until=bindparam("b_lease"),
                     attempts=c.attempts + 1))
    mark_sent = (update(outbox).where(c.id == bindparam("b_id"))
                 .values(state="sent", sent_at=bindparam("b_now"),
                         message_id=bindparam("b_message"), lease_until=None))
    # Only the chat's next message is held back: it is the only one that can be claimed,
    # and moving every queued row of a busy group cost hundreds of row writes per send.
    next_id = oldest_open("following", bindparam("b_channel"), bindparam("b_chat"))
    space_chat = (update(outbox)
                  .where(c.id == next_id, state_is(c.state, "pending"),
                         c.available_at < bindparam("b_later"))
                  .values(available_at=bindparam("b_later")))
    return claim, expired, lease, mark_sent, space_chat


_CLAIM, _EXPIRED, _LEASE, _MARK_SENT, _SPACE_CHAT = _outbox_statements()


class OutboxSender:
    """Claims pending outbox rows for one channel and delivers them."""

    def __init__(self, *, session_factory: sessionmaker[Session], renderer: Renderer,
                 transport: Transport, channel: str, helpdesk: Helpdesk, clock: Clock,
                 batch: int | None = None, lease_seconds: float | None = None,
                 metrics: Metrics | None = None, settings: SenderConfig | None = None,
                 pacer: Pacer | None = None) -> None:
        self.session_factory = session_factory
        self.renderer = renderer
        self.transport = transport
        self.channel = channel
        self.helpdesk = helpdesk
        self.clock = clock
        self.settings = settings or UNPACED
        self.pacer = pacer or Pacer(self.settings)
        self.batch = batch or max(self.settings.max_in_flight, 1)
        self.lease = timedelta(seconds=lease_seconds or self.settings.lease_seconds)
        self.wakeup = asyncio.Event()
        self.sent = 0
        self.failed = 0
        #: Rounds of the delivery loop (it must sleep, not spin, while its pipeline is full).
        self.rounds = 0
        self.metrics = metrics or Metrics()
        self._in_flight: set[asyncio.Task[None]] = set()
        #: Rows this process is sending: never re-leased here, even if a slow send outlives
        #: the lease (another process may, which is what the lease is for after a crash).
        self._sending: set[int] = set()

    # -- database steps (run in a thread) ------------------------------------------------

    def _claim(self, limit: int | None = None) -> list[OutboxRow]:
        """Take the head of each chat's queue, citizens' replies first."""
        now = self.clock()
        self.metrics.inc("outbox_claims_total")
        with self.session_factory() as session, session.begin():
            conn = session.connection()
            limit = limit or self.batch
            skip_locked = conn.dialect.name == "postgresql"
            found: list[Any] = []
            for stmt in (_EXPIRED, _CLAIM):
                if skip_locked:
                    stmt = stmt.with_for_update(skip_locked=True)
                found += [r for r in conn.execute(stmt, {
                    "b_channel": self.channel, "b_now": now, "b_limit": limit - len(found),
                }).all() if r.id not in self._sending]
                if len(found) >= limit:
                    break
            if not found:
                return []
            lease_until = now + self.lease
            conn.execute(_LEASE, [{"b_id": r.id, "b_lease": lease_until} for r in found])
            # Detached rows carrying what was just written (the caller only reads them).
            return [OutboxRow(**{**r._mapping, "state": "sending", "lease_until": lease_until,
                                 "attempts": r.attempts + 1}) for r in found]

    def _finish(self, row: OutboxRow, message_id: int) -> None:
        now = self.clock()
        with SqlUnitOfWork(self.session_factory) as uow:
            assert uow.session is not None
            conn = uow.session.connection()
            conn.execute(_MARK_SENT, {"b_id": row.id, "b_now": now, "b_message": message_id})
            spacing = self.pacer.chat_spacing(row.chat_id)
            if spacing > 0:
                # Whichever process sends the chat's next message keeps the spacing.
                conn.execute(_SPACE_CHAT, {"b_channel": row.channel, "b_chat": row.chat_id,
                                           "b_later": now + timedelta(seconds=spacing)})
            if row.ticket_id is not None and row.link_purpose:
                self.helpdesk.record_delivery(uow, MessageLink(
                    row.channel, row.chat_id, message_id, row.ticket_id, row.link_purpose))
            uow.commit()

    def _fail(self, row: OutboxRow, reason: str, *, permanent: bool, delay: float = 0,
              count: bool = True) -> None:
        now = self.clock()
        with SqlUnitOfWork(self.session_factory) as uow:
            assert uow.session is not None
            attempts = row.attempts if count else max(0, row.attempts - 1)
            dead = permanent or attempts >= self.settings.max_attempts
            uow.session.execute(update(OutboxRow).where(OutboxRow.id == row.id).values(
                state="failed" if dead else "pending", error=reason[:300] or None,
                lease_until=None, attempts=attempts,
                available_at=now + timedelta(seconds=delay)))
            if dead and row.ticket_id is not None and row.link_purpose == "relay":
                self.helpdesk.record_delivery_failure(uow, row.ticket_id, reason[:200])
            uow.commit()

    async def _persist(self, step: Callable[[], None], what: str) -> None:
        """Run a database step, waiting out an outage: an unrecorded send would repeat."""
        pause = 0.2
        deadline = time.monotonic() + self.lease.total_seconds()
        while True:
            try:
                await asyncio.to_thread(step)
                return
            except Exception as exc:
                if not database_unavailable(exc) or time.monotonic() > deadline:
                    raise
                log.warning("database unavailable while recording %s; retrying in %.1fs",
                            what, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    # -- delivery ----------------------------------------------------------------------------

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with a little jitter, capped."""
        base = self.settings.retry_base_seconds * (2.0 ** max(0, attempts - 1))
        return min(self.settings.retry_max_seconds, base) * random.uniform(0.9, 1.1)

    async def _deliver(self, row: OutboxRow) -> None:
        """Send one claimed row and record the outcome."""
        wait = self.pacer.ready_in(row.chat_id)
        if wait > 0.05:
            # The chat is paced or flood-blocked: give the row back instead of holding it.
            self.metrics.inc("outbox_deferrals_total")
            await self._persist(partial(self._fail, row, row.error or "", permanent=False,
                                        delay=wait, count=False), "a deferral")
            self._wake_in(wait)
            return
        try:
            message = render_row(row, self.renderer)
            await self.pacer.acquire(row.chat_id)
            message_id = await self.transport.send(message)
        except PermanentFailure as exc:
            self.failed += 1
            self.metrics.inc("send_failures_total", kind="permanent")
            log.warning("outbox %s to chat failed permanently: %s", row.id, exc)
            await self._persist(partial(self._fail, row, str(exc), permanent=True), "a failure")
        except RetryLater as exc:
            if exc.flood:
                self.pacer.flood(row.chat_id, exc.delay)
                self.metrics.inc("send_failures_total", kind="flood")
                delay, count = exc.delay, False
            else:
                self.metrics.inc("send_failures_total", kind="retry")
                delay, count = max(exc.delay, self.backoff(row.attempts)), True
            log.info("outbox %s retry in %.1fs: %s", row.id, delay, exc)
            await self._persist(partial(self._fail, row, str(exc), permanent=False,
                                        delay=delay, count=count), "a retry")
            self._wake_in(delay)
        except Exception as exc:  # a bug or an unexpected platform answer: back off
            log.exception("outbox %s failed", row.id)
            self.metrics.inc("send_failures_total", kind="error")
            delay = self.backoff(row.attempts)
            await self._persist(partial(self._fail, row, f"{type(exc).__name__}: {exc}",
                                        permanent=False, delay=delay), "a retry")
        else:
            self.sent += 1
            self.metrics.inc("messages_sent_total", channel=self.channel)
            await self._persist(partial(self._finish, row, message_id), "a delivery")
            # The chat's next message is ready after its spacing: look again then.
            self._wake_in(self.pacer.chat_spacing(row.chat_id))

    def _wake_in(self, seconds: float) -> None:
        """Wake the delivery loop when a row made ready ``seconds`` from now is due."""
        if seconds > 0:
            asyncio.get_running_loop().call_later(seconds + 0.002, self.wakeup.set)

    async def deliver_once(self) -> int:
        """Deliver one batch (concurrently, across chats); return how many rows were handled."""
        rows = await asyncio.to_thread(self._claim)
        if rows:
            limit = asyncio.Semaphore(max(1, self.settings.max_in_flight))

            async def one(row: OutboxRow) -> None:
                async with limit:
                    await self._deliver(row)

            await asyncio.gather(*(one(row) for row in rows))
        return len(rows)

    async def drain(self, max_rounds: int = 100) -> None:
        """Deliver until nothing is ready (used by the console and tests)."""
        for _ in range(max_rounds):
            if await self.deliver_once() == 0:
                return

    async def run(self, stop: asyncio.Event, idle_seconds: float = 0.5,
                  drain_seconds: float = 30.0) -> None:
        """Deliver until ``stop``: a pipeline of up to ``max_in_flight`` sends.

        Woken at once after a commit, else polling every ``idle_seconds``. A database outage
        is logged and waited out with backoff. On ``stop`` the messages in flight finish
        (within ``drain_seconds``); unstarted work stays in the outbox for the next start.
        """
        capacity = max(1, self.settings.max_in_flight)
        refill = max(1, capacity // 4)
        pause = 0.0
        while not stop.is_set():
            self.rounds += 1
            # Cleared before claiming (a commit during the claim wakes the next round) and on
            # every round: with the pipeline full a set flag would make the wait below spin.
            self.wakeup.clear()
            free = capacity - len(self._in_flight)
            claimed = 0
            if free >= refill or not self._in_flight:
                try:
                    rows = await asyncio.to_thread(self._claim, free)
                    pause = 0.0
                except Exception as exc:
                    rows = []
                    pause = min(max(pause * 2, 0.2), 5.0)
                    if database_unavailable(exc):
                        log.warning("outbox: database unavailable (%s); retrying in %.1fs",
                                    type(exc).__name__, pause)
                    else:
                        log.exception("outbox sender loop error")
                for row in rows:
                    task = asyncio.create_task(self._deliver_logged(row))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                claimed = len(rows)
            if claimed and len(self._in_flight) < capacity and not pause:
                continue
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self.wakeup.wait()),
                                                asyncio.ensure_future(stop.wait())]
            timeout = pause or (idle_seconds if claimed == 0 else None)
            if self._in_flight and not pause:
                waits.append(asyncio.ensure_future(asyncio.wait(
                    set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)))
            try:
                await asyncio.wait(waits, timeout=timeout,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits:
                    waiter.cancel()
        if self._in_flight:
            log.info("draining %d message(s) in flight", len(self._in_flight))
            await asyncio.wait(set(self._in_flight), timeout=drain_seconds)

    async def _deliver_logged(self, row: OutboxRow) -> None:
        self._sending.add(row.id)
        try:
            await self._deliver(row)
        except Exception:  # the lease brings the row back after a crash here
            log.exception("outbox %s: could not record the outcome", row.id)
        finally:
            self._sending.discard(row.id)

    def pending(self) -> int:
        """How many messages wait to be delivered on this channel."""
        with self.session_factory() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.channel == self.channel,
                OutboxRow.state.in_(("pending", "sending")))) or 0)
