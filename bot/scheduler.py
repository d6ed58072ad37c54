"""The escalation runner: reminders, breach notices and the daily supervisor digest.

All state lives in the database (``notifications``), so a restart forgets nothing, and each
notice is claimed in the same transaction as the outbox message it queues, so several bot
processes on one PostgreSQL database send it exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.housekeeping import Pruned, Retention, prune
from db.models import TicketRow
from db.notifications import claim
from db.repositories import SqlUnitOfWork
from routing.escalation import Notice, digest_due, digest_key, due_notices
from routing.outbox import Outgoing, Priority
from routing.people import Role
from routing.tickets import ACTIVE_STATES, Ticket, TicketKind, TicketState

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def active_tickets(session: Session, opened_before: datetime) -> list[Ticket]:
    """Active tickets opened before an instant, with just what the deadlines need."""
    t = TicketRow
    rows = session.execute(
        select(t.id, t.reference, t.kind, t.tier, t.state, t.opd_code, t.created_at,
               t.first_response_at, t.paused_seconds, t.extension_reason, t.reopen_count)
        .where(t.state.in_(sorted(s.value for s in ACTIVE_STATES)),
               t.created_at <= opened_before))
    return [Ticket(reference=reference, kind=TicketKind(kind), opd_code=opd, text="",
                   created_at=created, citizen_id=None, state=TicketState(state), tier=tier,
                   first_response_at=first, paused_seconds=paused or 0.0,
                   extension_reason=extension, reopen_count=reopens or 0, id=tid)
            for (tid, reference, kind, tier, state, opd, created, first, paused, extension,
                 reopens) in rows]


def _notice_context(notice: Notice, opd_name: str) -> dict[str, Any]:
    return {"reference": notice.reference, "opd_code": notice.opd_code, "opd_name": opd_name,
            "deadline": notice.deadline, "due_at": notice.due_at.isoformat(),
            "percent": round(notice.elapsed_share * 100)}


def escalate_once(services: Services, now: datetime | None = None) -> int:
    """Queue every reminder, breach notice and digest due now; return how many messages."""
    now = now or services.clock()
    config = services.config
    channel = services.helpdesk.settings.staff_channel
    queued = 0
    with SqlUnitOfWork(services.session_factory) as uow:
        assert uow.session is not None
        session = uow.session
        opds = {o.code: o for o in uow.opds.all(include_inactive=True)}
        supervisors = [s for s in uow.staff.all() if s.role is Role.SUPERVISOR]
        # Nothing younger (in calendar time) than the smallest reminder threshold can be due.
        shortest = min(min(k.first_response_days for k in config.sla.kinds.values()),
                       min(config.sla.complaint_tiers.values(), default=1.0))
        horizon = now - timedelta(
            seconds=config.report.reminder_share * shortest * services.calendar
            .standard_day_seconds)
        tickets = active_tickets(session, horizon)
        notices = due_notices(tickets, now=now, sla=config.sla, calendar=services.calendar,
                              reminder_share=config.report.reminder_share)
        for notice in notices:
            target = (f"opd:{notice.opd_code}" if notice.audience == "opd" else "supervisors")
            if not claim(session, key=notice.key, kind=notice.kind, target=target, at=now,
                         ticket_id=notice.ticket_id):
                continue
            opd = opds.get(notice.opd_code)
            context = _notice_context(notice, opd.name if opd else notice.opd_code)
            if notice.audience == "opd":
                if opd is None or opd.queue_chat_id is None:
                    continue
                uow.outbox.add(Outgoing(
                    channel=channel, chat_id=opd.queue_chat_id,
                    template=f"staff/sla_{notice.kind}", context=context,
                    ticket_id=notice.ticket_id, link_purpose="card",
                    priority=Priority.REMINDER), now)
                queued += 1
            else:
                for person in supervisors:
                    uow.outbox.add(Outgoing(
                        channel=channel, chat_id=person.telegram_id,
                        template="supervisor/sla_breach", context=context,
                        priority=Priority.REMINDER), now)
                    queued += 1
        day = digest_due(now, config.province.tz, config.report.digest_time)
        if day is not None and supervisors and claim(
                session, key=digest_key(day), kind="digest", target="supervisors", at=now):
            context = digest_context(services, uow, now)
            for person in supervisors:
                uow.outbox.add(Outgoing(channel=channel, chat_id=person.telegram_id,
                                        template="supervisor/digest", context=context,
                                        priority=Priority.DIGEST), now)
                queued += 1
        uow.commit()
    return queued


def digest_context(services: Services, uow: SqlUnitOfWork, now: datetime) -> dict[str, Any]:
    """Open and overdue tickets now, and the OPDs with the most overdue tickets."""
    from db.reports import report_on

    assert uow.session is not None
    tz = services.config.province.tz
    today = now.astimezone(tz).date()
    report = report_on(uow.session.connection(), calendar=services.calendar,
                       sla=services.config.sla, settings=services.config.report.metrics,
                       start=today - timedelta(days=services.config.report.period_days - 1),
                       end=today, now=now, charts=False)
    worst = sorted((o for o in report.opds if o.overdue),
                   key=lambda o: (-o.overdue, -o.open, o.code))[:3]
    return {"date": now.isoformat(), "open": sum(o.open for o in report.opds),
            "overdue": sum(o.overdue for o in report.opds),
            "worst": [{"code": o.code, "name": o.name, "open": o.open, "overdue": o.overdue}
                      for o in worst]}


#: Housekeeping runs this often (on the escalation loop's next turn).
PRUNE_EVERY_SECONDS = 3600.0


def retention_of(services: Services) -> Retention:
    """The retention periods from ``[privacy]``."""
    privacy = services.config.privacy
    return Retention(sent_messages=timedelta(days=privacy.sent_messages_days),
                     processed_updates=timedelta(hours=privacy.processed_updates_hours),
                     idle_drafts=timedelta(days=privacy.idle_drafts_days))


def prune_once(services: Services, now: datetime | None = None) -> Pruned:
    """Delete delivered messages, old update ids and idle drafts past their retention."""
    pruned = prune(services.engine, now or services.clock(), retention_of(services))
    if pruned.messages or pruned.processed_updates or pruned.drafts:
        log.info("housekeeping deleted %d delivered message(s), %d update id(s), "
                 "%d idle draft(s)", pruned.messages, pruned.processed_updates, pruned.drafts)
    return pruned


async def run_escalation(services: Services, stop_event: asyncio.Event,
                         interval: float | None = None) -> None:
    """Run :func:`escalate_once` every ``interval`` seconds until ``stop_event`` is set.

    Housekeeping (:func:`prune_once`) runs on the same loop, at most once an hour.
    """
    every = interval if interval is not None else (
        services.config.report.escalation_interval_seconds)
    pruned_at: float | None = None
    # The first run comes one interval after start: a restart loop cannot flood the chats,
    # and nothing is lost by waiting (the notices are decided from the database).
    while not stop_event.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=every)
        if stop_event.is_set():
            return
        try:
            queued = await asyncio.to_thread(escalate_once, services)
            if queued:
                log.info("escalation queued %d message(s)", queued)
        except Exception:
            log.exception("escalation run failed")
        if pruned_at is None or time.monotonic() - pruned_at >= PRUNE_EVERY_SECONDS:
            pruned_at = time.monotonic()
            try:
                await asyncio.to_thread(prune_once, services)
            except Exception:
                log.exception("housekeeping run failed")
