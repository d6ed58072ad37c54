"""Indonesian non-working dates (public holidays + cuti bersama) and calendar construction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from zoneinfo import ZoneInfo

from routing.worktime import STANDARD_DAY_SECONDS, SpecialPeriod, WeekHours, WorkingCalendar

__all__ = ["build_calendar", "indonesian_holidays"]


def indonesian_holidays(
    years: Iterable[int],
    extra: Mapping[date, str] | None = None,
    removed: Iterable[date] = (),
    *,
    language: str = "id",
) -> dict[date, str]:
    """Public holidays and cuti bersama for `years`, plus `extra` dates, minus `removed`.

    `extra` carries provincial holidays and operator-declared closures; `removed` undoes
    dates the SKB 3 Menteri revised away mid-year. Removal is applied after `extra`, so
    removing a date always wins.
    """
    # Imported lazily: the package is large and only needed when a calendar is built.
    import holidays

    # "government" is where the package keeps cuti bersama; "public" alone misses them.
    found = holidays.country_holidays(
        "ID", years=sorted(set(years)), categories=("public", "government"), language=language
    )
    result: dict[date, str] = dict(sorted(found.items()))
    if extra:
        for d, name in extra.items():
            # Keep the national name too when a provincial holiday lands on the same date.
            result[d] = f"{result[d]}; {name}" if d in result and result[d] != name else name
    for d in removed:
        result.pop(d, None)
    return result


def build_calendar(
    tz_name: str,
    years: Iterable[int],
    hours: WeekHours | None = None,
    extra_holidays: Mapping[date, str] | None = None,
    special_periods: Iterable[SpecialPeriod] = (),
    removed_holidays: Iterable[date] = (),
    standard_day_seconds: float = STANDARD_DAY_SECONDS,
) -> WorkingCalendar:
    """WorkingCalendar for an IANA zone with Indonesian holidays of `years` (default ASN hours).

    Holidays are only known for `years`: dates outside them count as ordinary weekdays,
    so pass every year that tickets can span (e.g. last, current and next year).
    """
    return WorkingCalendar(
        tz=ZoneInfo(tz_name),
        hours=hours if hours is not None else WeekHours.default(),
        holidays=indonesian_holidays(years, extra_holidays, removed_holidays),
        special_periods=tuple(special_periods),
        standard_day_seconds=standard_day_seconds,
    )
