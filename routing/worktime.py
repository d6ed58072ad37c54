"""Working-time clock: office hours, holidays and special periods in a local time zone.

Pure stdlib and deterministic: nothing here reads the current time, so every result is a
function of its arguments and the calendar.

Internally every instant is an integer count of microseconds since the Unix epoch (UTC).
Integers make the arithmetic exact (additivity over splits, add/measure round trips) and
measure real elapsed time even in zones with DST; Indonesian zones have none, but the
calendar accepts any IANA zone.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

__all__ = [
    "STANDARD_DAY_SECONDS",
    "DayHours",
    "SpecialPeriod",
    "WeekHours",
    "WorkingCalendar",
]

STANDARD_DAY_SECONDS: float = 7.5 * 3600
"""Perpres 21/2023: 37 h 30 min a week over 5 days, breaks excluded."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_US_PER_S = 1_000_000
# Days computed per extension of the per-day index; a year keeps rebuilds rare.
_CHUNK_DAYS = 366
# A forward search that finds no office time within this many days is a configuration
# error (e.g. every weekday closed), not a reason to loop until date.max.
_MAX_SEARCH_DAYS = 366 * 50


@dataclass(frozen=True)
class DayHours:
    """One working window of a weekday, in local wall-clock time."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("DayHours takes naive local times; the zone is the calendar's")
        if not self.start < self.end:
            raise ValueError(f"DayHours start {self.start} must be before end {self.end}")


@dataclass(frozen=True)
class WeekHours:
    """Working window per weekday (0=Mon..6=Sun); None means closed that day."""

    days: tuple[DayHours | None, ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"WeekHours needs 7 entries (Mon..Sun), got {len(self.days)}")

    @classmethod
    def default(cls) -> WeekHours:
        """ASN hours (Perpres 21/2023): Mon–Thu 07:30–16:00, Fri 07:30–16:30, weekend closed."""
        mon_thu = DayHours(time(7, 30), time(16, 0))
        fri = DayHours(time(7, 30), time(16, 30))
        return cls((mon_thu, mon_thu, mon_thu, mon_thu, fri, None, None))

    @classmethod
    def ramadan_default(cls) -> WeekHours:
        """Ramadan hours (SE MenPANRB): Mon–Thu 08:00–15:00, Fri 08:00–15:30, weekend closed."""
        mon_thu = DayHours(time(8, 0), time(15, 0))
        fri = DayHours(time(8, 0), time(15, 30))
        return cls((mon_thu, mon_thu, mon_thu, mon_thu, fri, None, None))


@dataclass(frozen=True)
class SpecialPeriod:
    """Inclusive date range (e.g. Ramadan) that uses its own WeekHours."""

    start: date
    end: date
    hours: WeekHours
    name: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"SpecialPeriod {self.name!r}: end {self.end} before {self.start}")


@dataclass(frozen=True)
class _DayIndex:
    """Per-day office windows and prefix sums for the days [origin, origin + len(opens))."""

    origin: int  # proleptic ordinal of the first indexed date
    opens: list[int]  # epoch µs of opening; equals closes[i] on a closed day
    closes: list[int]
    cum_us: list[int]  # cum_us[i] = office µs in days [origin, origin + i); len n + 1
    cum_days: list[int]  # cum_days[i] = working days in [origin, origin + i); len n + 1

    @property
    def end(self) -> int:
        """Ordinal one past the last indexed date."""
        return self.origin + len(self.opens)


def _to_us(dt: datetime, what: str = "datetime") -> int:
    """Epoch microseconds of an aware datetime; naive input is a ValueError."""
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {dt!r}")
    return (dt - _EPOCH) // _US


def _seconds_to_us(seconds: float) -> int:
    """Non-negative finite seconds to whole microseconds (the resolution of datetime)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be finite and >= 0, got {seconds!r}")
    return round(seconds * _US_PER_S)


@dataclass(frozen=True)
class WorkingCalendar:
    """Office hours of one province/OPD: zone, weekly hours, holidays and special periods."""

    tz: ZoneInfo
    hours: WeekHours
    # Non-working dates (public holidays, cuti bersama, provincial extras) -> name.
    holidays: Mapping[date, str]
    special_periods: tuple[SpecialPeriod, ...] = ()
    # Length of one "working day" for ages expressed in days; see working_days_between.
    standard_day_seconds: float = STANDARD_DAY_SECONDS
    _index: _DayIndex | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        # The per-day index caches results derived from these fields, so take private
        # read-only copies: a caller mutating its dict later must not desync the cache.
        object.__setattr__(self, "holidays", MappingProxyType(dict(self.holidays)))
        object.__setattr__(self, "special_periods", tuple(self.special_periods))
        if not (math.isfinite(self.standard_day_seconds) and self.standard_day_seconds > 0):
            raise ValueError("standard_day_seconds must be a positive number")

    # ---- days -------------------------------------------------------------------------

    def hours_on(self, d: date) -> DayHours | None:
        """Office window on local date d, or None if closed (holiday or closed weekday)."""
        if d in self.holidays:
            return None
        # The first matching special period wins, so callers can layer overrides.
        for period in self.special_periods:
            if period.start <= d <= period.end:
                return period.hours.days[d.weekday()]
        return self.hours.days[d.weekday()]

    def is_working_day(self, d: date) -> bool:
        """True if local date d has office hours."""
        return self.hours_on(d) is not None

    def _window_us(self, d: date) -> tuple[int, int]:
        """(open, close) of date d in epoch µs; open == close when closed."""
        hours = self.hours_on(d)
        if hours is None:
            # Any equal pair works: every overlap formula below clamps it to zero.
            midnight = _to_us(datetime.combine(d, time(0), tzinfo=self.tz))
            return midnight, midnight
        open_us = _to_us(datetime.combine(d, hours.start, tzinfo=self.tz))
        close_us = _to_us(datetime.combine(d, hours.end, tzinfo=self.tz))
        # Guard against a DST gap swallowing the window; never let it go negative.
        return open_us, max(open_us, close_us)

    def _build(self, lo: int, hi: int) -> _DayIndex:
        """Index for ordinals [lo, hi)."""
        opens: list[int] = []
        closes: list[int] = []
        cum_us = [0]
        cum_days = [0]
        for ordinal in range(lo, hi):
            o, c = self._window_us(date.fromordinal(ordinal))
            opens.append(o)
            closes.append(c)
            cum_us.append(cum_us[-1] + (c - o))
            cum_days.append(cum_days[-1] + (1 if c > o else 0))
        return _DayIndex(lo, opens, closes, cum_us, cum_days)

    def _covering(self, lo: int, hi: int) -> _DayIndex:
        """An index covering ordinals [lo, hi], extended (amortised doubling) if needed."""
        index = self._index
        if index is not None and index.origin <= lo and hi < index.end:
            return index
        if index is None:
            new_lo, new_hi = lo - _CHUNK_DAYS // 2, hi + 1 + _CHUNK_DAYS
        else:
            grow = max(_CHUNK_DAYS, len(index.opens))
            new_lo = min(index.origin, lo - (grow if lo < index.origin else 0))
            new_hi = max(index.end, hi + 1 + (grow if hi >= index.end else 0))
        new_lo = max(new_lo, 1)
        new_hi = min(new_hi, date.max.toordinal() + 1)
        if index is not None and index.origin == new_lo and index.end == new_hi:
            return index
        # Build fresh lists and publish with one assignment: a concurrent reader keeps its
        # consistent snapshot, and racing builders each publish a valid index (one wins),
        # so no lock is needed and the calendar stays picklable and copyable.
        if index is None:
            index = self._build(new_lo, new_hi)
        else:
            before = self._build(new_lo, index.origin)
            after = self._build(index.end, new_hi)
            base_us = before.cum_us[-1]
            base_days = before.cum_days[-1]
            mid_us = base_us + index.cum_us[-1]
            mid_days = base_days + index.cum_days[-1]
            index = _DayIndex(
                new_lo,
                before.opens + index.opens + after.opens,
                before.closes + index.closes + after.closes,
                before.cum_us
                + [base_us + v for v in index.cum_us[1:]]
                + [mid_us + v for v in after.cum_us[1:]],
                before.cum_days
                + [base_days + v for v in index.cum_days[1:]]
                + [mid_days + v for v in after.cum_days[1:]],
            )
        object.__setattr__(self, "_index", index)
        return index

    def _local_ordinal(self, dt: datetime) -> int:
        return dt.astimezone(self.tz).toordinal()

    def _from_us(self, us: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=us)).astimezone(self.tz)

    # ---- measuring --------------------------------------------------------------------

    def _office_us(self, a_dt: datetime, a: int, b_dt: datetime, b: int) -> int:
        """Office µs in [a, b); the datetimes give the local dates of the endpoints."""
        if b <= a:
            return 0
        da, db = self._local_ordinal(a_dt), self._local_ordinal(b_dt)
        ix = self._covering(da, db)
        ia, ib = da - ix.origin, db - ix.origin
        if ia == ib:
            return max(0, min(b, ix.closes[ia]) - max(a, ix.opens[ia]))
        first = max(0, ix.closes[ia] - max(a, ix.opens[ia]))
        last = max(0, min(b, ix.closes[ib]) - ix.opens[ib])
        return first + (ix.cum_us[ib] - ix.cum_us[ia + 1]) + last

    def working_seconds(
        self,
        start: datetime,
        end: datetime,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> float:
        """Office seconds in [start, end) minus those inside the pauses; 0 if end <= start.

        Pauses are clipped to [start, end) and merged, so overlapping pauses, pauses
        reaching outside the range and pauses outside office hours are each counted once
        at most. A pause whose end is not after its start covers nothing.
        """
        a, b = _to_us(start, "start"), _to_us(end, "end")
        if b <= a:
            return 0.0
        total = self._office_us(start, a, end, b)
        clipped: list[tuple[int, int, datetime, datetime]] = []
        for p_start, p_end in pauses:
            ps, pe = _to_us(p_start, "pause start"), _to_us(p_end, "pause end")
            lo_dt, lo = (p_start, ps) if ps > a else (start, a)
            hi_dt, hi = (p_end, pe) if pe < b else (end, b)
            if lo < hi:
                clipped.append((lo, hi, lo_dt, hi_dt))
        clipped.sort(key=lambda p: p[0])
        merged: list[tuple[int, int, datetime, datetime]] = []
        for p in clipped:
            if merged and p[0] <= merged[-1][1]:
                if p[1] > merged[-1][1]:
                    merged[-1] = (merged[-1][0], p[1], merged[-1][2], p[3])
            else:
                merged.append(p)
        for lo, hi, lo_dt, hi_dt in merged:
            total -= self._office_us(lo_dt, lo, hi_dt, hi)
        return total / _US_PER_S

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Office time in [start, end) in units of standard_day_seconds (default 7.5 h)."""
        return self.working_seconds(start, end) / self.standard_day_seconds

    # ---- moving forward ---------------------------------------------------------------

    def _search_forward(
        self, ordinal: int, cum: str, offset: int, amount: int, *, strict: bool
    ) -> tuple[_DayIndex, int]:
        """First later day k where cum rises `amount` (strictly more if strict) above base.

        base is cum[i + offset] for the day i of `ordinal`. Values are read back relative
        to base from one index snapshot, because an extension (possibly by another
        thread) moves the origin and shifts every cumulative value by a constant.
        Returns that snapshot and k relative to it; the index is extended as needed.
        """
        last = date.max.toordinal()
        hi = ordinal + _CHUNK_DAYS
        while True:
            ix = self._covering(ordinal, min(hi, last))
            values: list[int] = getattr(ix, cum)
            i = ordinal - ix.origin
            target = values[i + offset] + amount
            find = bisect_right if strict else bisect_left
            pos = find(values, target, lo=i + offset)
            if pos < len(values):
                return ix, pos - 1
            if ix.end - ordinal > _MAX_SEARCH_DAYS or ix.end > last:
                raise ValueError("no office hours found within 50 years; check the calendar")
            hi = ix.end + len(ix.opens)

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """Instant (calendar tz) when `seconds` of office time have elapsed after start.

        seconds == 0 gives start itself when the office is open then, else the next
        opening. Time that runs out exactly at closing returns the closing instant.
        """
        s = _to_us(start, "start")
        need = _seconds_to_us(seconds)
        d0 = self._local_ordinal(start)
        ix = self._covering(d0, d0)
        i0 = d0 - ix.origin
        open_us, close_us = ix.opens[i0], ix.closes[i0]
        available = max(0, close_us - max(s, open_us))
        if available > 0 and need <= available:
            return self._from_us(max(s, open_us) + need)
        # Continue on later days, locating the rest on the cumulative office-time axis.
        # Zero remaining time means "the next moment the office is open": the opening of
        # the first later day whose cumulative total rises strictly above today's.
        rest = need - available
        ix, k = self._search_forward(d0, "cum_us", 1, rest, strict=rest == 0)
        target = ix.cum_us[d0 - ix.origin + 1] + rest
        return self._from_us(ix.opens[k] + (target - ix.cum_us[k]))

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself (in calendar tz) if the office is open then, else the next opening."""
        return self.add_working_seconds(at, 0)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Deadline for "N hari kerja sejak diterimanya": close of office on the N-th working day.

        Convention: the receipt day (local date of `start` in the calendar tz) is not
        counted, whatever the hour of receipt; counting starts the next date, and only
        working days count. Received Monday with N=1 -> Tuesday closing time. days=0
        means the close of the receipt day if it is a working day, else of the next one.
        """
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        _to_us(start, "start")
        d0 = self._local_ordinal(start)
        if days == 0:
            ix, k = self._search_forward(d0, "cum_days", 0, 1, strict=False)
        else:
            ix, k = self._search_forward(d0, "cum_days", 1, days, strict=False)
        return self._from_us(ix.closes[k])
