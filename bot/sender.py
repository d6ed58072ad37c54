"""Deliver the outbox: render, send through a transport, record relay links, retry safely.

Ordering: within one chat messages go out in the order they were queued; across chats the
citizen's replies go before cards, reminders and digests (lower priority value first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.observability import Metrics
from bot.render import Renderer
from db.models import OutboxRow
from db.repositories import SqlUnitOfWork
from routing.people import MessageLink
from routing.ports import Clock
from routing.services import Helpdesk

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class PermanentFailure(Exception):
    """The message can never be delivered (blocked bot, chat gone, bad request)."""


class RetryLater(Exception):
    """A temporary failure; try again after ``delay`` seconds."""

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {delay}s")
        self.delay = delay


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


class OutboxSender:
    """Claims pending outbox rows for one channel and delivers them."""

    def __init__(self, *, session_factory: sessionmaker[Session], renderer: Renderer,
                 transport: Transport, channel: str, helpdesk: Helpdesk, clock: Clock,
                 batch: int = 50, lease_seconds: float = 60.0,
                 metrics: Metrics | None = None) -> None:
        self.session_factory = session_factory
        self.renderer = renderer
        self.transport = transport
        self.channel = channel
        self.helpdesk = helpdesk
        self.clock = clock
        self.batch = batch
        self.lease = timedelta(seconds=lease_seconds)
        self.wakeup = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.metrics = metrics or Metrics()

    def _claim(self) -> list[OutboxRow]:
        """Take the head of each chat's queue, citizens' replies first."""
        now = self.clock()
        with self.session_factory() as session, session.begin():
            heads = (
                select(func.min(OutboxRow.id))
                .where(OutboxRow.channel == self.channel,
                       OutboxRow.state.in_(("pending", "sending")))
                .group_by(OutboxRow.chat_id)
            )
            stmt = (
                select(OutboxRow)
                .where(OutboxRow.id.in_(heads), OutboxRow.available_at <= now,
                       (OutboxRow.state == "pending")
                       | and_(OutboxRow.state == "sending", OutboxRow.lease_until < now))
                .order_by(OutboxRow.priority, OutboxRow.id)
                .limit(self.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(session.scalars(stmt).all())
            for row in rows:
                row.state = "sending"
                row.lease_until = now + self.lease
                row.attempts += 1
            session.flush()
            session.expunge_all()
            return rows

    def _finish(self, row: OutboxRow, message_id: int) -> None:
        now = self.clock()
        with SqlUnitOfWork(self.session_factory) as uow:
            assert uow.session is not None
            uow.session.execute(update(OutboxRow).where(OutboxRow.id == row.id).values(
                state="sent", sent_at=now, message_id=message_id, lease_until=None))
            if row.ticket_id is not None and row.link_purpose:
                self.helpdesk.record_delivery(uow, MessageLink(
                    row.channel, row.chat_id, message_id, row.ticket_id, row.link_purpose))
            uow.commit()

    def _fail(self, row: OutboxRow, reason: str, *, permanent: bool, delay: float = 0) -> None:
        now = self.clock()
        with SqlUnitOfWork(self.session_factory) as uow:
            assert uow.session is not None
            dead = permanent or row.attempts >= MAX_ATTEMPTS
            uow.session.execute(update(OutboxRow).where(OutboxRow.id == row.id).values(
                state="failed" if dead else "pending", error=reason[:300], lease_until=None,
                available_at=now + timedelta(seconds=delay)))
            if dead and row.ticket_id is not None and row.link_purpose == "relay":
                self.helpdesk.record_delivery_failure(uow, row.ticket_id, reason[:200])
            uow.commit()

    async def deliver_once(self) -> int:
        """Deliver one batch; return how many rows were handled."""
        rows = await asyncio.to_thread(self._claim)
        for row in rows:
            try:
                message = render_row(row, self.renderer)
                message_id = await self.transport.send(message)
            except PermanentFailure as exc:
                self.failed += 1
                self.metrics.inc("send_failures_total", kind="permanent")
                log.warning("outbox %s to chat failed permanently: %s", row.id, exc)
                await asyncio.to_thread(self._fail, row, str(exc), permanent=True)
            except RetryLater as exc:
                self.metrics.inc("send_failures_total", kind="retry")
                log.info("outbox %s retry in %.1fs: %s", row.id, exc.delay, exc)
                await asyncio.to_thread(self._fail, row, str(exc), permanent=False,
                                        delay=exc.delay)
            except Exception as exc:  # a bug or an unexpected platform answer: back off
                log.exception("outbox %s failed", row.id)
                backoff = min(300.0, 2.0 ** row.attempts)
                await asyncio.to_thread(self._fail, row, f"{type(exc).__name__}: {exc}",
                                        permanent=False, delay=backoff)
            else:
                self.sent += 1
                self.metrics.inc("messages_sent_total", channel=self.channel)
                await asyncio.to_thread(self._finish, row, message_id)
        return len(rows)

    async def drain(self, max_rounds: int = 100) -> None:
        """Deliver until nothing is ready (used by the console and tests)."""
        for _ in range(max_rounds):
            if await self.deliver_once() == 0:
                return

    async def run(self, stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
        """Deliver forever: woken at once after a commit, else polling every idle_seconds."""
        while not stop.is_set():
            try:
                handled = await self.deliver_once()
            except Exception:
                log.exception("outbox sender loop error")
                handled = 0
            if handled:
                continue
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=idle_seconds)

    def pending(self) -> int:
        """How many messages wait to be delivered on this channel."""
        with self.session_factory() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.channel == self.channel,
                OutboxRow.state.in_(("pending", "sending")))) or 0)


