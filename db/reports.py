"""Read side of the reports: the sums of :mod:`routing.metrics`, computed in SQL.

Every query reads one table through a covering index whose order matches its GROUP BY
(migration 0002), so a report over a million tickets is a few sequential index scans:

* ``ticket_assignments`` by OPD: handled and answered tickets, charged responses, targets
  met, the distribution bins (:func:`stretch_totals`), and the median/p90 of the charged
  responses (``percentile_cont`` on PostgreSQL; two neighbours by ``ORDER BY ... LIMIT 2
  OFFSET k`` on SQLite, interpolated by :func:`routing.metrics.interpolate`);
* ``tickets`` by final owner: resolution, legal ceiling, ratings, median resolution;
* ``tickets`` by opening day: the weekly trend;
* the tickets active now (few): their clocks still run, so the calendar measures them.

:func:`routing.metrics.totals_from_facts` is the plain-Python definition of the same sums;
tests pin both to each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    cast,
    create_engine,
    event,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.types import Integer

from db.models import AssignmentRow, OpdRow, TicketRow
from routing.metrics import (
    ACTIVE,
    DISTRIBUTION_EDGES_SECONDS,
    MetricSettings,
    OpdInfo,
    OpdTotals,
    OpenTicket,
    Report,
    TargetBook,
    WeekTrend,
    add_open_tickets,
    build_report,
    interpolate,
    open_ticket_clocks,
    quantile_position,
)
from routing.sla import SlaConfig
from routing.tickets import TicketKind
from routing.worktime import WorkingCalendar


def period_bounds(start: date, end: date,
                  calendar: WorkingCalendar) -> tuple[datetime, datetime]:
    """UTC instants of local midnight of ``start`` and of the day after ``end``."""
    tz = calendar.tz
    lo = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return lo, hi


def _count(condition: Any) -> Any:
    """Rows meeting a condition (booleans are 0/1 on both databases)."""
    return func.coalesce(func.sum(cast(condition, Integer)), 0)


def stretch_totals(conn: Connection, book: TargetBook, lo: datetime, hi: datetime,
                   triage: Sequence[str], totals: dict[str, OpdTotals],
                   bins: bool = True) -> None:
    """Handled/answered tickets, charged responses, targets met, distribution bins.

    One streaming pass per kind over ``ix_assignments_report`` (the kind's first-response
    target is a constant). A ticket an OPD held twice (a reopen, a transfer back) counts
    once, through the ``first_hold`` and ``first_answer`` facts stored at write time.
    """
    a = AssignmentRow
    response = a.response_seconds
    # Stored at write time: the OPD's first stretch on the ticket, its first answer on it.
    answered: Any = a.first_answer.is_(True)
    if triage:
        answered = or_(answered, and_(a.opd_code.in_(triage), a.first_hold.is_(True),
                                      response.is_not(None)))
    for kind in TicketKind:
        target = book.get(kind.value, None, False).first_response
        stmt = (
            select(a.opd_code, _count(a.first_hold.is_(True)), _count(answered),
                   func.count(response), _count(response <= target),
                   *(_count(response < edge) for edge in DISTRIBUTION_EDGES_SECONDS
                     if bins))
            .where(a.kind == kind.value, a.opened_at >= lo, a.opened_at < hi)
            .group_by(a.opd_code)
        )
        for code, held, answered_n, responses, met, *below in conn.execute(stmt):
            acc = totals.setdefault(code, OpdTotals())
            acc.tickets += held
            acc.answered += answered_n
            acc.responses += responses
            acc.target_sum += responses * target
            acc.fr_met += met
            acc.fr_missed += responses - met
            if bins:
                previous = 0
                for i, n in enumerate([*below, responses]):
                    acc.distribution[i] += n - previous
                    previous = n


def _quantiles_sqlite(conn: Connection, value: Any, opd: Any, when: Any, lo: datetime,
                      hi: datetime, counts: dict[str, int],
                      qs: Sequence[float]) -> dict[str, list[float | None]]:
    """Each quantile from its two neighbours, read by walking an ordered covering index
    from the nearer end."""
    out: dict[str, list[float | None]] = {}
    for code, n in counts.items():
        values: list[float | None] = []
        for q in qs:
            if n == 0:
                values.append(None)
                continue
            index, weight = quantile_position(n, q)
            stmt = select(value).where(opd == code, value.is_not(None), when >= lo, when < hi)
            if index > n // 2:  # walk from the top: ORDER BY value DESC
                rows = conn.execute(stmt.order_by(value.desc()).limit(2)
                                    .offset(max(0, n - index - 2))).scalars().all()
                pair = sorted(rows)[-2:] if index + 1 < n else [rows[0], rows[0]]
            else:
                pair = list(conn.execute(stmt.order_by(value).limit(2).offset(index))
                            .scalars().all())
            values.append(interpolate(pair[0], pair[-1], weight))
        out[code] = values
    return out


def _quantiles_postgres(conn: Connection, value: Any, opd: Any, when: Any, lo: datetime,
                        hi: datetime, qs: Sequence[float]) -> dict[str, list[float | None]]:
    stmt = (select(opd, *(func.percentile_cont(q).within_group(value) for q in qs))
            .where(value.is_not(None), when >= lo, when < hi).group_by(opd))
    return {row[0]: [float(v) if v is not None else None for v in row[1:]]
            for row in conn.execute(stmt)}


def _quantiles(conn: Connection, value: Any, opd: Any, when: Any, lo: datetime, hi: datetime,
               counts: dict[str, int], qs: Sequence[float]) -> dict[str, list[float | None]]:
    if conn.dialect.name == "postgresql":
        return _quantiles_postgres(conn, value, opd, when, lo, hi, qs)
    return _quantiles_sqlite(conn, value, opd, when, lo, hi, counts, qs)


def _ticket_shapes(book: TargetBook) -> list[tuple[Any, float, float | None]]:
    """(filter, resolution target, legal ceiling) for every kind/tier/extension shape."""
    t = TicketRow
    sla = book.sla
    shapes: list[tuple[Any, float, float | None]] = []
    for kind in TicketKind:
        of_kind = t.kind == kind.value
        if kind is TicketKind.PENGADUAN:
            tiers = list(sla.complaint_tiers)
            for tier in tiers:
                got = book.get(kind.value, tier, False)
                shapes.append((and_(of_kind, t.tier == tier), got.resolution, got.legal))
            got = book.get(kind.value, None, False)
            shapes.append((and_(of_kind, t.tier.is_(None)), got.resolution, got.legal))
            got = book.get(kind.value, "\x00unknown", False)
            shapes.append((and_(of_kind, t.tier.not_in(tiers)), got.resolution, got.legal))
            continue
        for extended in (False, True):
            got = book.get(kind.value, None, extended)
            condition = (t.extension_reason.is_not(None) if extended
                         else t.extension_reason.is_(None))
            shapes.append((and_(of_kind, condition), got.resolution, got.legal))
    return shapes


def ticket_totals(conn: Connection, book: TargetBook, lo: datetime, hi: datetime,
                  totals: dict[str, OpdTotals]) -> None:
    """Resolution, legal ceiling and ratings of the period's tickets, by final owner.

    One streaming pass over ``ix_tickets_report`` (in opd_code order); the targets of each
    ticket shape (kind, tier, extension) are constants in CASE expressions.
    """
    t = TicketRow
    resolution = t.resolution_seconds
    shapes = _ticket_shapes(book)
    target = case(*((condition, literal(res)) for condition, res, _ in shapes), else_=None)
    legal = case(*((condition, literal(ceiling)) for condition, _, ceiling in shapes
                   if ceiling is not None), else_=None)
    stmt = (
        select(t.opd_code, func.count(resolution), _count(resolution <= target),
               _count(and_(resolution.is_not(None), legal.is_not(None))),
               _count(resolution > legal), func.coalesce(func.sum(t.rating), 0),
               func.count(t.rating))
        .where(t.created_at >= lo, t.created_at < hi)
        .group_by(t.opd_code)
    )
    for code, resolutions, met, legal_n, breached, rating_sum, rating_n in conn.execute(stmt):
        acc = totals.setdefault(code, OpdTotals())
        acc.resolutions += resolutions
        acc.res_met += met
        acc.res_missed += resolutions - met
        acc.legal_total += legal_n
        acc.legal_breached += breached
        acc.rating_sum += int(rating_sum or 0)
        acc.rating_count += rating_n


def weekly_trend(conn: Connection, calendar: WorkingCalendar, book: TargetBook, lo: datetime,
                 hi: datetime) -> list[WeekTrend]:
    """Tickets opened per local week (Monday first), answered, answered within target.

    One range scan per week over ``ix_tickets_week`` (created_at, kind, first response).
    """
    t = TicketRow
    first = t.first_response_seconds
    tz = calendar.tz
    span = conn.execute(select(func.min(t.created_at), func.max(t.created_at))
                        .where(t.created_at >= lo, t.created_at < hi)).one()
    if span[0] is None:
        return []
    start = span[0].astimezone(tz).date()
    monday = start - timedelta(days=start.weekday())
    end_day = span[1].astimezone(tz).date()
    targets = {k.value: book.get(k.value, None, False).first_response for k in TicketKind}
    met_by_kind = [_count(and_(t.kind == kind, first <= target))
                   for kind, target in targets.items()]
    trend: list[WeekTrend] = []
    while monday <= end_day:
        week_lo = max(lo, datetime.combine(monday, time(0), tzinfo=tz).astimezone(UTC))
        week_hi = min(hi, datetime.combine(monday + timedelta(days=7), time(0),
                                           tzinfo=tz).astimezone(UTC))
        n, answered, *met = conn.execute(
            select(func.count(), func.count(first), *met_by_kind)
            .where(t.created_at >= week_lo, t.created_at < week_hi)).one()
        met_n = sum(int(m or 0) for m in met)
        if n:
            trend.append(WeekTrend(monday, n, answered,
                                   round(100 * met_n / answered, 1) if answered else None))
        monday += timedelta(days=7)
    return trend


def _epoch(conn: Connection, column: Any) -> Any:
    """Seconds since 1970 of a timestamp column (cheaper to read than a datetime)."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return func.extract("epoch", column)


def open_tickets(conn: Connection, calendar: WorkingCalendar, now: datetime,
                 lo: datetime, hi: datetime) -> list[OpenTicket]:
    """Every ticket active now, with its age and the current OPD's held time."""
    t, a = TicketRow, AssignmentRow
    stmt = (
        select(t.id, a.opd_code, t.kind, t.tier, t.extension_reason.is_not(None),
               t.first_response_at.is_not(None), _epoch(conn, t.created_at), t.paused_seconds,
               _epoch(conn, t.waiting_since), _epoch(conn, a.entered_at), a.paused_seconds,
               a.first_response_seconds.is_not(None))
        .join(a, and_(a.ticket_id == t.id, a.left_at.is_(None)))
        .where(t.state.in_(sorted(ACTIVE)))
    )
    out: list[OpenTicket] = []
    stopwatch = calendar.working_seconds
    lo_s, hi_s = lo.timestamp(), hi.timestamp()
    stamp = datetime.fromtimestamp
    for (tid, opd, kind, tier, extended, answered, created, paused, waiting, entered,
         stretch_paused, stretch_answered) in conn.execute(stmt):
        created_at = stamp(round(float(created), 6), UTC)
        entered_at = (created_at if abs(float(entered) - float(created)) < 1e-3
                      else stamp(round(float(entered), 6), UTC))
        age, held = open_ticket_clocks(
            created_at=created_at, paused_seconds=paused or 0.0,
            waiting_since=stamp(round(float(waiting), 6), UTC) if waiting is not None else None,
            entered_at=entered_at, stretch_paused_seconds=stretch_paused or 0.0, now=now,
            stopwatch=stopwatch)
        out.append(OpenTicket(tid, opd, kind, tier, bool(extended), bool(answered), age, held,
                              bool(stretch_answered), lo_s <= float(created) < hi_s))
    return out


def opd_infos(conn: Connection) -> list[OpdInfo]:
    """Every active OPD and the PPID Utama desk."""
    rows = conn.execute(select(OpdRow.code, OpdRow.name, OpdRow.is_ppid_utama)
                        .where(OpdRow.active.is_(True)).order_by(OpdRow.code))
    return [OpdInfo(code, name, bool(triage)) for code, name, triage in rows]


def _merge(into: dict[str, OpdTotals], part: dict[str, OpdTotals]) -> None:
    """Add the sums of one pass to another (the passes fill disjoint figures)."""
    for code, acc in part.items():
        target = into.setdefault(code, OpdTotals())
        for name, value in vars(acc).items():
            if isinstance(value, list):
                setattr(target, name, [x + y for x, y in zip(getattr(target, name), value,
                                                             strict=True)])
            elif isinstance(value, int | float) and not name.endswith(("median", "p90")):
                setattr(target, name, getattr(target, name) + value)
            elif value is not None:
                setattr(target, name, value)


def _stretch_pass(conn: Connection, book: TargetBook, lo: datetime, hi: datetime,
                  triage: Sequence[str], bins: bool) -> dict[str, OpdTotals]:
    totals: dict[str, OpdTotals] = {}
    stretch_totals(conn, book, lo, hi, triage, totals, bins)
    a = AssignmentRow
    quantiles = _quantiles(conn, a.response_seconds, a.opd_code, a.opened_at, lo, hi,
                           {c: acc.responses for c, acc in totals.items()}, (0.5, 0.9))
    for code, acc in totals.items():
        acc.fr_median, acc.fr_p90 = quantiles.get(code, [None, None])
    return totals


def _ticket_pass(conn: Connection, book: TargetBook, lo: datetime,
                 hi: datetime) -> dict[str, OpdTotals]:
    totals: dict[str, OpdTotals] = {}
    ticket_totals(conn, book, lo, hi, totals)
    t = TicketRow
    quantiles = _quantiles(conn, t.resolution_seconds, t.opd_code, t.created_at, lo, hi,
                           {c: acc.resolutions for c, acc in totals.items()}, (0.5,))
    for code, acc in totals.items():
        acc.res_median = quantiles.get(code, [None])[0]
    return totals


def report_on(conn: Connection, *, calendar: WorkingCalendar, sla: SlaConfig,
              settings: MetricSettings, start: date, end: date, now: datetime,
              opds: Sequence[OpdInfo] | None = None,
              connections: Callable[[], AbstractContextManager[Connection]] | None = None,
              charts: bool = True) -> Report:
    """The report for tickets opened in [start, end] (local dates, inclusive).

    ``charts=False`` skips what only the charts show (first-response distribution bins and
    the weekly trend). With ``connections`` (a factory of read connections) the independent
    passes run in parallel threads; otherwise one after the other on ``conn``.
    """
    lo, hi = period_bounds(start, end, calendar)
    book = TargetBook(sla, calendar.standard_day_seconds)
    infos = list(opds) if opds is not None else opd_infos(conn)
    triage = [o.code for o in infos if o.is_triage]
    passes: list[Callable[[Connection], Any]] = [
        lambda c: _stretch_pass(c, book, lo, hi, triage, charts),
        lambda c: _ticket_pass(c, book, lo, hi),
        lambda c: open_tickets(c, calendar, now, lo, hi),
        lambda c: weekly_trend(c, calendar, book, lo, hi) if charts else [],
    ]
    if connections is None:
        results = [run(conn) for run in passes]
    else:
        factory = connections

        def in_thread(run: Callable[[Connection], Any]) -> Any:
            with factory() as own:
                return run(own)

        with ThreadPoolExecutor(max_workers=len(passes)) as pool:
            results = list(pool.map(in_thread, passes))
    stretches, tickets, running, weeks = results
    totals: dict[str, OpdTotals] = {}
    _merge(totals, stretches)
    _merge(totals, tickets)
    add_open_tickets(totals, running, book, calendar.standard_day_seconds)
    return build_report(totals, infos, settings, start=start, end=end, weeks=weeks)


def make_report(engine: Engine, **kwargs: Any) -> Report:
    """:func:`report_on` with its passes in parallel on read-only connections.

    On SQLite the application's engine starts every transaction with BEGIN IMMEDIATE (the
    write lock); the report reads through a plain engine on the same file instead, so it
    never blocks the bot's writers (WAL readers do not wait) and its passes run at once.
    """
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn:
            return report_on(conn, connections=engine.connect, **kwargs)
    reader = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(reader, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only = ON")
        cursor.execute("PRAGMA cache_size = -65536")
        cursor.execute("PRAGMA mmap_size = 1073741824")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    try:
        with reader.connect() as conn:
            return report_on(conn, connections=reader.connect, **kwargs)
    finally:
        reader.dispose()
