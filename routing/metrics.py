"""Responsiveness metrics per OPD: pure arithmetic over durations stored at write time.

The working-time durations (an OPD's first response, its held time, a ticket's resolution
time) are computed by the ticket transitions when they happen and stored with the
assignments and tickets, so a report only adds, sorts and counts. The calendar is used here
only for tickets still open at report time (their clock is still running).

Charging rules (documented in docs/metrics.md):

- **First response** is charged per *stretch* (one assignment: from the moment the ticket
  reached an OPD's queue until it left it). Each OPD pays only for the time it held the
  ticket; the citizen-facing clock of the ticket keeps running from the original opening.
- A stretch that ends **without an answer** (a transfer "bukan wewenang", a rejection, a
  close without reply) is charged its whole held time as its response time and counts as
  the OPD's handling of the ticket, but never as *answered* (except for the PPID Utama
  triage desk, whose job is to forward). A dump therefore costs time and the answered share.
- **Resolution**, the **legal ceiling**, and the **rating** belong to the ticket's final
  owner (the OPD that closed it, or holds it now).
- Only staff answers stop a clock; bot/FAQ answers are not ticket answers at all.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from routing.sla import SlaConfig
from routing.tickets import TicketKind

HOUR = 3600.0

DEFAULT_WEIGHTS: dict[str, float] = {
    "first_response": 0.25,  # speed: median and p90 first response relative to the target
    "within_target": 0.25,  # share of tickets meeting first-response and resolution targets
    "legal": 0.15,  # share NOT breaching the legal ceiling
    "backlog": 0.10,  # share of open tickets that are not overdue
    "satisfaction": 0.15,  # citizen rating, 1..5 mapped to 0..1
    "answered": 0.10,  # share of handled tickets the OPD actually answered (anti-dump)
}
COMPONENTS = tuple(DEFAULT_WEIGHTS)

ACTIVE = frozenset({"open", "claimed", "answered", "waiting"})

# First-response distribution bins, upper edges in working hours.
DISTRIBUTION_EDGES_HOURS = (1.0, 4.0, 7.5, 22.5, 37.5)
DISTRIBUTION_LABELS = ("< 1 jam", "1–4 jam", "4–7,5 jam", "7,5–22,5 jam", "22,5–37,5 jam",
                       "> 37,5 jam")
# Backlog ageing bins, upper edges in working days.
BACKLOG_EDGES_DAYS = (1.0, 3.0, 5.0, 10.0, 20.0)
BACKLOG_LABELS = ("< 1 HK", "1–3 HK", "3–5 HK", "5–10 HK", "10–20 HK", "> 20 HK")


@dataclass(frozen=True)
class MetricSettings:
    """Index weights and the ranking rule (config ``[report]``)."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    min_tickets_for_rank: int = 20


class StretchFact(NamedTuple):
    """One assignment of a ticket opened in the period (what the OPD is charged for)."""

    ticket_id: int
    opd_code: str
    kind: str
    response_seconds: float | None  # first answer, or held time if it left unanswered
    answered: bool  # the OPD relayed a staff answer in this stretch


class TicketFact(NamedTuple):
    """A ticket opened in the period, as its final owner is charged for it."""

    ticket_id: int
    opd_code: str  # the final owner: the OPD that closed it or holds it now
    kind: str
    tier: str | None
    extended: bool  # an informasi extension reason was recorded
    resolution_seconds: float | None  # set exactly while the ticket is closed
    rating: int | None


class OpenTicket(NamedTuple):
    """A ticket still active at report time, with its running clocks (working seconds)."""

    ticket_id: int
    opd_code: str
    kind: str
    tier: str | None
    extended: bool
    answered: bool  # the ticket has had a first response (citizen-facing)
    age_seconds: float  # since opening, pauses excluded
    held_seconds: float  # current OPD's stretch so far, pauses excluded
    stretch_answered: bool  # the current OPD already answered in this stretch
    in_period: bool  # opened in the report period


def open_ticket_clocks(*, created_at: datetime, paused_seconds: float,
                       waiting_since: datetime | None, entered_at: datetime,
                       stretch_paused_seconds: float, now: datetime,
                       stopwatch: Any) -> tuple[float, float]:
    """(age, held) of an active ticket at ``now``: working seconds minus every pause."""
    running_pause = stopwatch(waiting_since, now) if waiting_since is not None else 0.0
    since_open = stopwatch(created_at, now)
    since_entry = since_open if entered_at == created_at else stopwatch(entered_at, now)
    age = since_open - paused_seconds - running_pause
    held = since_entry - stretch_paused_seconds - running_pause
    return max(0.0, age), max(0.0, held)


def quantile_position(n: int, q: float) -> tuple[int, float]:
    """(index of the lower neighbour, weight of the upper one) for n sorted values."""
    pos = (n - 1) * q
    lo = int(pos)
    return lo, pos - lo


def interpolate(lower: float, upper: float, weight: float) -> float:
    """The quantile between two neighbours (PostgreSQL's percentile_cont does the same)."""
    return lower + (upper - lower) * weight


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated quantile of *sorted* values (numpy's default); None if empty."""
    n = len(values)
    if n == 0:
        return None
    lo, weight = quantile_position(n, q)
    return interpolate(values[lo], values[min(lo + 1, n - 1)], weight)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 2)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class _Targets:
    first_response: float
    resolution: float
    legal: float | None


class TargetBook:
    """SLA targets in working seconds per (kind, tier, extended), memoised."""

    def __init__(self, sla: SlaConfig, day_seconds: float) -> None:
        self.sla = sla
        self.day = day_seconds
        self._cache: dict[tuple[str, str | None, bool], _Targets] = {}

    def get(self, kind: str, tier: str | None, extended: bool) -> _Targets:
        """Targets of one ticket shape."""
        key = (kind, tier, bool(extended))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        k = TicketKind(kind)
        sla = self.sla.for_kind(k)
        resolution = sla.resolution_days
        legal = sla.legal_days
        if k is TicketKind.PENGADUAN:
            resolution = self.sla.complaint_tiers.get(tier or self.sla.default_complaint_tier,
                                                      resolution)
            legal = resolution  # complaints: the tier is the ceiling (SP4N-LAPOR! practice)
        elif legal is not None and extended:
            legal += sla.extension_days
        targets = _Targets(sla.first_response_days * self.day, resolution * self.day,
                           legal * self.day if legal is not None else None)
        self._cache[key] = targets
        return targets


@dataclass
class OpdTotals:
    """Everything the report needs of one OPD, as sums and counts (SQL can make these).

    Response times are *charged* per assignment; resolution, legal ceiling and rating per
    ticket, to its final owner. Quantiles (seconds) are filled in by whoever has the values.
    """

    tickets: int = 0  # distinct tickets of the period the OPD held
    answered: int = 0  # distinct tickets it answered (the triage desk: passed on)
    responses: int = 0  # charged responses (answers and unanswered departures)
    target_sum: float = 0.0  # sum of the first-response targets of those responses
    fr_met: int = 0
    fr_missed: int = 0
    distribution: list[int] = field(
        default_factory=lambda: [0] * (len(DISTRIBUTION_EDGES_HOURS) + 1))
    fr_median: float | None = None
    fr_p90: float | None = None
    resolutions: int = 0
    res_met: int = 0
    res_missed: int = 0
    res_median: float | None = None
    legal_total: int = 0
    legal_breached: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    open: int = 0
    overdue: int = 0
    backlog: list[int] = field(default_factory=lambda: [0] * (len(BACKLOG_EDGES_DAYS) + 1))


DISTRIBUTION_EDGES_SECONDS = tuple(h * HOUR for h in DISTRIBUTION_EDGES_HOURS)


def distribution_bin(seconds: float) -> int:
    """Index of the first-response distribution bin of a duration."""
    return bisect_right(DISTRIBUTION_EDGES_SECONDS, seconds)


def totals_from_facts(stretches: Iterable[StretchFact], tickets: Iterable[TicketFact],
                      book: TargetBook, triage: frozenset[str] = frozenset()
                      ) -> dict[str, OpdTotals]:
    """The reference implementation of the period sums (db/reports.py does it in SQL).

    Stretches still running without an answer and tickets still active are left out here;
    :func:`add_open_tickets` charges them from their running clocks.
    """
    totals: dict[str, OpdTotals] = {}
    held: dict[str, set[int]] = {}
    answered: dict[str, set[int]] = {}
    values: dict[str, list[float]] = {}
    resolutions: dict[str, list[float]] = {}
    for s in stretches:
        acc = totals.setdefault(s.opd_code, OpdTotals())
        held.setdefault(s.opd_code, set()).add(s.ticket_id)
        if s.answered or (s.opd_code in triage and s.response_seconds is not None):
            answered.setdefault(s.opd_code, set()).add(s.ticket_id)
        if s.response_seconds is None:
            continue
        target = book.get(s.kind, None, False).first_response
        acc.responses += 1
        acc.target_sum += target
        if s.response_seconds <= target:
            acc.fr_met += 1
        else:
            acc.fr_missed += 1
        acc.distribution[distribution_bin(s.response_seconds)] += 1
        values.setdefault(s.opd_code, []).append(s.response_seconds)
    for t in tickets:
        acc = totals.setdefault(t.opd_code, OpdTotals())
        if t.rating is not None:
            acc.rating_sum += t.rating
            acc.rating_count += 1
        if t.resolution_seconds is None:
            continue  # only closed tickets have one (a reopen clears it)
        targets = book.get(t.kind, t.tier, t.extended)
        acc.resolutions += 1
        resolutions.setdefault(t.opd_code, []).append(t.resolution_seconds)
        if t.resolution_seconds <= targets.resolution:
            acc.res_met += 1
        else:
            acc.res_missed += 1
        if targets.legal is not None:
            acc.legal_total += 1
            acc.legal_breached += t.resolution_seconds > targets.legal
    for code, acc in totals.items():
        acc.tickets = len(held.get(code, ()))
        acc.answered = len(answered.get(code, ()))
        ordered = sorted(values.get(code, ()))
        acc.fr_median, acc.fr_p90 = quantile(ordered, 0.5), quantile(ordered, 0.9)
        acc.res_median = quantile(sorted(resolutions.get(code, ())), 0.5)
    return totals


def add_open_tickets(totals: dict[str, OpdTotals], open_tickets: Iterable[OpenTicket],
                     book: TargetBook, day_seconds: float) -> None:
    """Charge the running clocks: backlog and overdue (all), pending checks (period only)."""
    for t in open_tickets:
        acc = totals.setdefault(t.opd_code, OpdTotals())
        targets = book.get(t.kind, t.tier, t.extended)
        acc.open += 1
        if t.age_seconds > targets.resolution or (
                not t.answered and t.age_seconds > targets.first_response):
            acc.overdue += 1
        acc.backlog[bisect_right(BACKLOG_EDGES_DAYS, t.age_seconds / day_seconds)] += 1
        if not t.in_period:
            continue
        # Undecided checks stay out until they are decided; a clock past its target is a miss.
        if not t.stretch_answered and t.held_seconds > targets.first_response:
            acc.fr_missed += 1
        if t.age_seconds > targets.resolution:
            acc.res_missed += 1
        if targets.legal is not None:
            acc.legal_total += 1
            acc.legal_breached += t.age_seconds > targets.legal


@dataclass(frozen=True)
class OpdInfo:
    """An OPD as the report lists it."""

    code: str
    name: str
    is_triage: bool = False  # the PPID Utama desk: forwarding is its answer; never ranked


@dataclass
class OpdReport:
    """One line of the report (the JSON contract) plus what the charts and index need."""

    code: str
    name: str
    tickets: int
    answered: int
    first_response_median_hours: float | None
    first_response_p90_hours: float | None
    resolution_median_hours: float | None
    within_target_pct: float | None
    breached_legal_pct: float | None
    open: int
    overdue: int
    rating_avg: float | None
    rating_count: int
    index: float | None
    rank: int | None
    components: dict[str, float | None] = field(default_factory=dict)
    distribution: list[int] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    is_triage: bool = False

    JSON_KEYS = ("code", "name", "tickets", "answered", "first_response_median_hours",
                 "first_response_p90_hours", "resolution_median_hours", "within_target_pct",
                 "breached_legal_pct", "open", "overdue", "rating_avg", "rating_count", "index",
                 "rank")

    def to_json(self) -> dict[str, Any]:
        """Exactly the keys of the report contract, in order."""
        return {key: getattr(self, key) for key in self.JSON_KEYS}


@dataclass(frozen=True)
class WeekTrend:
    """Tickets opened in one week (Monday first) and how they were handled."""

    start: date
    tickets: int
    answered: int
    within_target_pct: float | None  # share of answered tickets answered within target


@dataclass
class Report:
    """The whole report for a period (both dates inclusive, local)."""

    start: date
    end: date
    opds: list[OpdReport]
    weeks: list[WeekTrend]
    weights: dict[str, float]
    min_tickets_for_rank: int

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of ``sahut report --format json``."""
        return {"period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
                "opd": [o.to_json() for o in self.opds]}

    def only(self, code: str) -> Report:
        """The same report restricted to one OPD (ranks stay those among all OPDs)."""
        return Report(self.start, self.end, [o for o in self.opds if o.code == code],
                      self.weeks, self.weights, self.min_tickets_for_rank)


def build_report(totals: Mapping[str, OpdTotals], opds: Sequence[OpdInfo],
                 settings: MetricSettings, *, start: date, end: date,
                 weeks: Sequence[WeekTrend] = ()) -> Report:
    """Per-OPD lines with index components, index and rank, best first."""
    infos = {o.code: o for o in opds}
    codes = [o.code for o in opds] + sorted(set(totals) - set(infos))
    reports = [_opd_report(infos.get(code, OpdInfo(code, code)),
                           totals.get(code, OpdTotals()), settings) for code in codes]
    _rank(reports, settings.min_tickets_for_rank)
    reports.sort(key=lambda r: (r.rank is None, r.rank or 0, -r.tickets, r.code))
    return Report(start, end, reports, list(weeks), dict(settings.weights),
                  settings.min_tickets_for_rank)


def _clamp(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


def _opd_report(info: OpdInfo, acc: OpdTotals, settings: MetricSettings) -> OpdReport:
    checks = acc.fr_met + acc.fr_missed + acc.res_met + acc.res_missed
    within = _pct(acc.fr_met + acc.res_met, checks)
    legal = _pct(acc.legal_breached, acc.legal_total)
    rating_avg = round(acc.rating_sum / acc.rating_count, 2) if acc.rating_count else None
    speed = None
    if acc.fr_median is not None and acc.fr_p90 is not None and acc.responses:
        reference = acc.target_sum / acc.responses  # the mean first-response target
        speed = round(_clamp(1 - (acc.fr_median + acc.fr_p90) / (2 * reference)), 4)
    components: dict[str, float | None] = {
        "first_response": speed,
        "within_target": None if within is None else round(within / 100, 4),
        "legal": None if legal is None else round(1 - legal / 100, 4),
        "backlog": round(1 - acc.overdue / acc.open, 4) if acc.open else None,
        "satisfaction": (None if rating_avg is None
                         else round((acc.rating_sum / acc.rating_count - 1) / 4, 4)),
        "answered": round(acc.answered / acc.tickets, 4) if acc.tickets else None,
    }
    index = index_value(components, settings.weights) if acc.tickets else None
    return OpdReport(
        code=info.code, name=info.name, tickets=acc.tickets, answered=acc.answered,
        first_response_median_hours=_hours(acc.fr_median),
        first_response_p90_hours=_hours(acc.fr_p90),
        resolution_median_hours=_hours(acc.res_median),
        within_target_pct=within, breached_legal_pct=legal, open=acc.open,
        overdue=acc.overdue, rating_avg=rating_avg, rating_count=acc.rating_count,
        index=index, rank=None, components=components, distribution=list(acc.distribution),
        backlog=list(acc.backlog), is_triage=info.is_triage,
    )


def index_value(components: Mapping[str, float | None],
                weights: Mapping[str, float]) -> float | None:
    """0–100: weighted mean of the available components (missing ones drop out)."""
    total = sum(weights.get(name, 0.0) for name, value in components.items()
                if value is not None)
    if total <= 0:
        return None
    score = sum(weights.get(name, 0.0) * value for name, value in components.items()
                if value is not None)
    return round(100 * score / total, 1)


def _rank(reports: list[OpdReport], min_tickets: int) -> None:
    """Competition ranking (1, 2, 2, 4) by index among OPDs with enough tickets."""
    eligible = sorted((r for r in reports if not r.is_triage and r.index is not None
                       and r.tickets >= min_tickets),
                      key=lambda r: -(r.index or 0.0))
    previous: float | None = None
    rank = 0
    for position, report in enumerate(eligible, start=1):
        if report.index != previous:
            rank = position
            previous = report.index
        report.rank = rank

