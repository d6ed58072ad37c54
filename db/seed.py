"""``sahut seed-demo``: realistic synthetic ticket history, written with bulk inserts.

Every ticket is played through the real domain transitions (:class:`routing.tickets.Ticket`)
with instants computed on the working calendar, so stored durations, assignments and audit
events are exactly what the bot would have written, holidays and office hours included.
Rows are then written in large batches: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

from db.models import AssignmentRow, CitizenRow, OpdRow, StaffRow, TicketEventRow, TicketRow
from db.repositories import report_facts
from routing.sla import SlaConfig
from routing.tickets import Actor, ActorKind, Ticket, TicketKind
from routing.worktime import WorkingCalendar

CHUNK = 10_000
DEMO_CHANNEL = "demo"
DEMO_STAFF_BASE = -700_000  # demo staff telegram ids: never a real Telegram user
DEMO_TEXTS = (
    "Mohon informasi syarat dan biaya layanan ini.",
    "Jalan di depan rumah kami rusak parah sejak bulan lalu, mohon ditindaklanjuti.",
    "Kapan jadwal pelayanan dibuka kembali?",
    "Saya ingin menyampaikan saran agar antrean dibuat daring.",
    "Bantuan yang dijanjikan belum kami terima, mohon dicek.",
    "Mohon salinan dokumen anggaran kegiatan tahun ini.",
)
TICKET_COLUMNS = (
    "id", "reference", "kind", "tier", "state", "opd_code", "citizen_id", "channel", "text",
    "anonymous", "confidential", "created_at", "claimed_by", "claimed_at", "first_response_at",
    "last_answer_at", "closed_at", "waiting_since", "paused_seconds", "first_response_seconds",
    "resolution_seconds", "extension_reason", "rating", "reopen_count", "delivery_failed",
    "updated_at",
)
ASSIGNMENT_COLUMNS = ("id", "ticket_id", "seq", "opd_code", "entered_at", "left_at",
                      "first_response_at", "first_response_seconds", "held_seconds",
                      "paused_seconds", "opened_at", "kind", "response_seconds",
                      "first_hold", "first_answer")
EVENT_COLUMNS = ("id", "ticket_id", "type", "at", "actor_kind", "actor_id", "opd_code",
                 "from_state", "to_state", "data")


@dataclass(frozen=True)
class OpdProfile:
    """How an OPD behaves in the demo: share of tickets and speed (1 = typical)."""

    code: str
    weight: float
    speed: float
    staff_ids: tuple[int, ...]


@dataclass
class SeedResult:
    """What was written."""

    tickets: int = 0
    assignments: int = 0
    events: int = 0


class _Writer:
    """Bulk row writer for one open transaction (raw driver: no ORM overhead)."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.raw = connection.connection.dbapi_connection
        self.dialect = dialect

    @staticmethod
    def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
        # The storage format of SQLAlchemy's SQLite DATETIME: naive UTC with microseconds.
        return tuple(
            v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            if isinstance(v, datetime) else int(v) if isinstance(v, bool) else v
            for v in row)

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cursor = self.raw.cursor()
        try:
            if self.dialect == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    map(self._sqlite_row, rows))
        finally:
            cursor.close()


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


class DemoHistory:
    """Plays synthetic tickets through the domain and turns them into rows."""

    def __init__(self, *, calendar: WorkingCalendar, sla: SlaConfig, profiles: list[OpdProfile],
                 ppid: OpdProfile, citizens: Sequence[int], now: datetime, days: int,
                 rng: random.Random) -> None:
        self.calendar = calendar
        self.sla = sla
        self.profiles = profiles
        self.weights = [p.weight for p in profiles]
        self.ppid = ppid
        self.citizens = citizens
        self.now = now
        self.start = now - timedelta(days=days)
        self.span = (now - self.start).total_seconds()
        self.rng = rng
        self.day = calendar.standard_day_seconds
        self.stopwatch = calendar.working_seconds
        self.tz = calendar.tz

    def _after(self, at: datetime, working_seconds: float) -> datetime:
        return self.calendar.add_working_seconds(at, max(60.0, working_seconds))

    def _staff(self, profile: OpdProfile) -> Actor:
        staff_id = self.rng.choice(profile.staff_ids) if profile.staff_ids else None
        return Actor(ActorKind.STAFF, staff_id)

    def _opened_at(self) -> datetime:
        rng = self.rng
        at = self.start + timedelta(seconds=rng.random() * self.span)
        if rng.random() < 0.7:  # most people write during the day, the rest at any hour
            local = at.astimezone(self.tz)
            at = local.replace(hour=rng.randint(7, 16), minute=rng.randint(0, 59))
            if at >= self.now:
                at = self.now - timedelta(minutes=rng.randint(1, 600))
        return at

    def ticket(self, reference: str) -> Ticket:
        """One synthetic ticket, played up to ``now`` (later steps have not happened yet)."""
        rng = self.rng
        now = self.now
        at = self._opened_at()
        roll = rng.random()
        kind = (TicketKind.INFORMASI if roll < 0.35 else
                TicketKind.PENGADUAN if roll < 0.85 else TicketKind.ASPIRASI)
        tier = None
        if kind is TicketKind.PENGADUAN:
            tier_roll = rng.random()
            tier = "ringan" if tier_roll < 0.4 else "sedang" if tier_roll < 0.85 else "berat"
        target = rng.choices(self.profiles, self.weights)[0]
        citizen = rng.choice(self.citizens) if self.citizens else None
        triage = rng.random() < 0.15
        first = self.ppid if triage else target
        if not triage and rng.random() < 0.06:  # routed to the wrong OPD first
            first = rng.choices(self.profiles, self.weights)[0]
            if first.code == target.code:
                first = self.ppid
        ticket = Ticket.open(reference=reference, kind=kind, opd_code=first.code,
                             text=rng.choice(DEMO_TEXTS), citizen_id=citizen, at=at,
                             actor=Actor(ActorKind.CITIZEN, citizen), tier=tier,
                             channel=DEMO_CHANNEL, anonymous=rng.random() < 0.05)
        sw = self.stopwatch
        if rng.random() < 0.01:  # spam
            when = self._after(at, _lognormal(rng, 3600, 1.0))
            if when < now:
                ticket.reject("spam", when, self._staff(first), sw)
            return ticket
        if rng.random() < 0.01:
            return ticket  # forgotten: never touched (backlog and overdue)
        holder = first
        if first.code != target.code:
            # Triage desk (or the wrong OPD) forwards it; sometimes after a first reply.
            when = self._after(at, _lognormal(rng, 1.5 * 3600 * holder.speed, 0.8))
            if when >= now:
                return ticket
            if holder is not self.ppid and rng.random() < 0.3:
                ticket.answer(when, self._staff(holder), sw)
                when = self._after(when, _lognormal(rng, 1800, 0.5))
                if when >= now:
                    return ticket
            ticket.transfer(target.code, "bukan wewenang", when, self._staff(holder), sw)
            holder = target
            at = when
        # First response of the holder.
        speed = holder.speed
        answer_at = self._after(at, _lognormal(rng, 4 * 3600 * speed, 1.1))
        staff = self._staff(holder)
        if rng.random() < 0.5 and staff.id is not None:
            claim_at = self._after(at, sw(at, answer_at) * rng.random())
            if claim_at < now and claim_at <= answer_at:
                ticket.claim(staff.id, claim_at, staff)
        if answer_at >= now:
            return ticket
        ticket.answer(answer_at, staff, sw)
        at = answer_at
        if rng.random() < 0.08:  # ask the citizen for missing documents
            ticket.wait_for_citizen(at, staff, "lengkapi dokumen")
            resume = at + timedelta(hours=_lognormal(rng, 20, 1.0))
            if resume >= now:
                return ticket
            ticket.resume(resume, Actor(ActorKind.CITIZEN, citizen), sw)
            at = self._after(resume, _lognormal(rng, 2 * 3600 * speed, 0.8))
            if at >= now:
                return ticket
            ticket.answer(at, self._staff(holder), sw)  # another colleague may answer
        if kind is TicketKind.INFORMASI and rng.random() < 0.08:
            ticket.extend("dokumen perlu dihimpun dari beberapa bidang", at, staff)
        close_at = self._after(at, _lognormal(rng, 1.5 * self.day * speed, 1.0))
        if close_at >= now:
            return ticket
        ticket.close(close_at, staff, sw)
        if rng.random() < 0.02:  # the citizen is not satisfied and reopens it
            again = close_at + timedelta(hours=_lognormal(rng, 30, 0.8))
            if again >= now or (again - close_at).days >= 14:
                return self._rate(ticket, close_at, speed, citizen)
            ticket.reopen(again, Actor(ActorKind.CITIZEN, citizen), 14, "belum selesai")
            answer2 = self._after(again, _lognormal(rng, 3 * 3600 * speed, 0.8))
            if answer2 >= now:
                return ticket
            ticket.answer(answer2, self._staff(holder), sw)
            close2 = self._after(answer2, _lognormal(rng, 0.5 * self.day, 0.6))
            if close2 >= now:
                return ticket
            ticket.close(close2, staff, sw)
            close_at = close2
        return self._rate(ticket, close_at, speed, citizen)

    def _rate(self, ticket: Ticket, closed_at: datetime, speed: float,
              citizen: int | None) -> Ticket:
        rng = self.rng
        when = closed_at + timedelta(minutes=rng.randint(1, 600))
        if rng.random() < 0.6 and when < self.now:
            base = 4.6 - 0.6 * math.log(max(speed, 0.2) * 2) + rng.gauss(0, 0.8)
            ticket.rate(min(5, max(1, round(base))), when, Actor(ActorKind.CITIZEN, citizen))
        return ticket


def _rows(ticket: Ticket, ticket_id: int, next_assignment: int, next_event: int
          ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    t = ticket
    last = max((a.left_at or a.entered_at) for a in t.assignments)
    events = t.pull_events()
    updated = max(last, events[-1].at if events else last)
    trow = (ticket_id, t.reference, t.kind.value, t.tier, t.state.value, t.opd_code,
            t.citizen_id, t.channel, t.text, t.anonymous, t.confidential, t.created_at,
            t.claimed_by, t.claimed_at, t.first_response_at, t.last_answer_at, t.closed_at,
            t.waiting_since, t.paused_seconds, t.first_response_seconds, t.resolution_seconds,
            t.extension_reason, t.rating, t.reopen_count, t.delivery_failed, updated)
    arows = []
    for i, a in enumerate(t.assignments):
        facts = report_facts(t, i)
        arows.append((next_assignment + i, ticket_id, i, a.opd_code, a.entered_at, a.left_at,
                      a.first_response_at, a.first_response_seconds, a.held_seconds,
                      a.paused_seconds, facts["opened_at"], facts["kind"],
                      facts["response_seconds"], facts["first_hold"],
                      facts["first_answer"]))
    erows = [(next_event + i, ticket_id, e.type.value, e.at, e.actor.kind.value, e.actor.id,
              e.opd_code, e.from_state.value if e.from_state else None, e.to_state.value,
              json.dumps(e.data, ensure_ascii=False) if e.data else "{}")
             for i, e in enumerate(events)]
    return trow, arows, erows


def _ensure_people(engine: Engine, codes: Sequence[str], now: datetime
                   ) -> tuple[dict[str, tuple[int, ...]], list[int]]:
    """One demo staff member per OPD and a pool of demo citizens (reused on later runs)."""
    with engine.begin() as conn:
        staff: dict[str, list[int]] = {}
        for index, code in enumerate(codes):
            telegram_id = DEMO_STAFF_BASE - index
            row = conn.execute(select(StaffRow.id).where(StaffRow.telegram_id == telegram_id)
                               ).first()
            if row is None:
                staff_id = conn.execute(insert(StaffRow).values(
                    telegram_id=telegram_id, name=f"Petugas Demo {code}", role="staff",
                    opd_code=code, created_at=now).returning(StaffRow.id)).scalar_one()
            else:
                staff_id = row[0]
            staff.setdefault(code, []).append(staff_id)
        citizens = list(conn.scalars(select(CitizenRow.id).where(
            CitizenRow.channel == DEMO_CHANNEL)).all())
        if not citizens:
            conn.execute(insert(CitizenRow), [
                {"channel": DEMO_CHANNEL, "external_id": f"demo-{i}",
                 "display_name": f"Warga Demo {i}", "created_at": now} for i in range(300)])
            citizens = list(conn.scalars(select(CitizenRow.id).where(
                CitizenRow.channel == DEMO_CHANNEL)).all())
    return {k: tuple(v) for k, v in staff.items()}, citizens


def _next_id(conn: Any, column: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(column), 0))).scalar_one()) + 1


def seed_demo(engine: Engine, *, calendar: WorkingCalendar, sla: SlaConfig, ppid_code: str,
              tickets: int, days: int, now: datetime, seed: int = 20261122,
              progress: Callable[[int, int], None] | None = None) -> SeedResult:
    """Add ``tickets`` synthetic tickets opened over the last ``days`` days before ``now``."""
    rng = random.Random(seed + tickets + days)
    with engine.connect() as conn:
        codes = [r[0] for r in conn.execute(select(OpdRow.code).where(
            OpdRow.active.is_(True), OpdRow.is_ppid_utama.is_(False)).order_by(OpdRow.code))]
    if not codes:
        raise ValueError("no OPDs in the database; run `sahut db upgrade` first")
    staff, citizens = _ensure_people(engine, [*codes, ppid_code], now)
    profile_rng = random.Random(seed)  # the same OPDs are fast or slow on every run
    speeds = [0.35 * (8.0 ** (i / max(1, len(codes) - 1))) for i in range(len(codes))]
    profile_rng.shuffle(speeds)
    profiles = [OpdProfile(code, profile_rng.uniform(0.4, 3.0), speed, staff.get(code, ()))
                for code, speed in zip(codes, speeds, strict=True)]
    ppid = OpdProfile(ppid_code, 0.0, 0.5, staff.get(ppid_code, ()))
    history = DemoHistory(calendar=calendar, sla=sla, profiles=profiles, ppid=ppid,
                          citizens=citizens, now=now, days=days, rng=rng)
    result = SeedResult()
    dialect = engine.dialect.name
    done = 0
    while done < tickets:
        size = min(CHUNK, tickets - done)
        with engine.begin() as conn:
            ticket_id = _next_id(conn, TicketRow.id)
            assignment_id = _next_id(conn, AssignmentRow.id)
            event_id = _next_id(conn, TicketEventRow.id)
            trows: list[tuple[Any, ...]] = []
            arows: list[tuple[Any, ...]] = []
            erows: list[tuple[Any, ...]] = []
            made = 0
            while made < size:
                ticket = history.ticket(f"DEMO-{ticket_id:09d}")
                trow, a, e = _rows(ticket, ticket_id, assignment_id, event_id)
                trows.append(trow)
                arows.extend(a)
                erows.extend(e)
                ticket_id += 1
                assignment_id += len(a)
                event_id += len(e)
                made += 1
            writer = _Writer(conn, dialect)
            writer.insert("tickets", TICKET_COLUMNS, trows)
            writer.insert("ticket_assignments", ASSIGNMENT_COLUMNS, arows)
            writer.insert("ticket_events", EVENT_COLUMNS, erows)
            if dialect == "postgresql":
                for table in ("tickets", "ticket_assignments", "ticket_events"):
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"))
        result.tickets += len(trows)
        result.assignments += len(arows)
        result.events += len(erows)
        done += size
        if progress is not None:
            progress(done, tickets)
    # Fresh planner statistics; on PostgreSQL also the visibility map that index-only scans
    # need (autovacuum would get there later on its own).
    if dialect == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("tickets", "ticket_assignments", "ticket_events"):
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
    return result
