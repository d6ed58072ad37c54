"""Rules of the working-time clock (routing.worktime) and the Indonesian calendar builder."""

from __future__ import annotations

import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.worktime import DayHours, SpecialPeriod, WeekHours, WorkingCalendar

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")
H = 3600.0

# Hand-written so these tests do not depend on the holidays package (one test below
# checks build_calendar against it). Dates are the 2026 national ones.
HOLIDAYS_2026 = {
    date(2026, 1, 1): "Tahun Baru Masehi",
    date(2026, 3, 18): "Cuti Bersama Nyepi",
    date(2026, 3, 19): "Nyepi",
    date(2026, 3, 20): "Cuti Bersama Idul Fitri",
    date(2026, 3, 21): "Idul Fitri",
    date(2026, 3, 22): "Idul Fitri hari kedua",
    date(2026, 3, 23): "Cuti Bersama Idul Fitri",
    date(2026, 3, 24): "Cuti Bersama Idul Fitri",
    date(2026, 4, 3): "Wafat Yesus Kristus",
    date(2026, 5, 1): "Hari Buruh",
    date(2026, 8, 17): "Kemerdekaan",
    date(2026, 12, 24): "Cuti Bersama Natal",
    date(2026, 12, 25): "Natal",
}
RAMADAN_2026 = SpecialPeriod(
    date(2026, 2, 18), date(2026, 3, 19), WeekHours.ramadan_default(), "Ramadan 1447 H"
)
CAL = WorkingCalendar(WIB, WeekHours.default(), HOLIDAYS_2026, (RAMADAN_2026,))


def wib(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=WIB)


def reference_seconds(cal: WorkingCalendar, start: datetime, end: datetime) -> float:
    """Obvious day-by-day implementation, to check the indexed one against."""
    if end <= start:
        return 0.0
    total = 0.0
    d = start.astimezone(cal.tz).date()
    while d <= end.astimezone(cal.tz).date():
        hours = cal.hours_on(d)
        if hours is not None:
            opens = datetime.combine(d, hours.start, tzinfo=cal.tz)
            closes = datetime.combine(d, hours.end, tzinfo=cal.tz)
            total += max(0.0, (min(end, closes) - max(start, opens)).total_seconds())
        d += timedelta(days=1)
    return total


# ---- hours and days -------------------------------------------------------------------


def test_default_hours_follow_the_asn_week_with_a_longer_friday() -> None:
    week = WeekHours.default().days
    assert week[0] == DayHours(time(7, 30), time(16, 0))
    assert week[3] == DayHours(time(7, 30), time(16, 0))
    assert week[4] == DayHours(time(7, 30), time(16, 30))
    assert week[5] is None
    assert week[6] is None


def test_invalid_hours_are_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="before"):
        DayHours(time(16, 0), time(7, 30))
    with pytest.raises(ValueError, match="7 entries"):
        WeekHours((None,) * 6)
    with pytest.raises(ValueError, match="before"):
        SpecialPeriod(date(2026, 3, 2), date(2026, 3, 1), WeekHours.default())


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert CAL.is_working_day(date(2026, 8, 14))  # Friday
    assert not CAL.is_working_day(date(2026, 8, 15))  # Saturday
    assert not CAL.is_working_day(date(2026, 8, 16))  # Sunday
    assert not CAL.is_working_day(date(2026, 8, 17))  # Independence Day, a Monday
    assert CAL.hours_on(date(2026, 8, 17)) is None


def test_calendar_keeps_its_own_copy_of_the_holidays() -> None:
    mine = {date(2026, 8, 18): "Hari Jadi Provinsi"}
    cal = WorkingCalendar(WIB, WeekHours.default(), mine)
    mine[date(2026, 8, 19)] = "added after construction"
    assert not cal.is_working_day(date(2026, 8, 18))
    assert cal.is_working_day(date(2026, 8, 19))


# ---- measuring ------------------------------------------------------------------------


def test_a_full_monday_is_eight_and_a_half_office_hours_including_the_break() -> None:
    assert CAL.working_seconds(wib(2026, 8, 10), wib(2026, 8, 11)) == 8.5 * H


def test_time_before_opening_and_after_closing_does_not_count() -> None:
    assert CAL.working_seconds(wib(2026, 8, 10, 5), wib(2026, 8, 10, 7, 30)) == 0
    assert CAL.working_seconds(wib(2026, 8, 10, 16), wib(2026, 8, 10, 23)) == 0
    assert CAL.working_seconds(wib(2026, 8, 10, 6), wib(2026, 8, 10, 8, 30)) == 1 * H


def test_end_before_start_measures_zero() -> None:
    assert CAL.working_seconds(wib(2026, 8, 11, 12), wib(2026, 8, 10, 12)) == 0


def test_weekend_between_friday_afternoon_and_monday_morning_counts_nothing() -> None:
    assert CAL.working_seconds(wib(2026, 8, 8, 0), wib(2026, 8, 10, 0)) == 0
    # Friday 15:00-16:30, then Monday 07:30-08:30.
    assert CAL.working_seconds(wib(2026, 8, 7, 15), wib(2026, 8, 10, 8, 30)) == 2.5 * H


def test_holiday_in_the_middle_of_a_span_is_skipped() -> None:
    # Friday (9 h), weekend, Monday 17 August (holiday), Tuesday (8.5 h).
    span = CAL.working_seconds(wib(2026, 8, 14, 7, 30), wib(2026, 8, 18, 16))
    assert span == 9 * H + 8.5 * H


def test_ramadan_period_uses_shorter_hours() -> None:
    assert CAL.hours_on(date(2026, 3, 2)) == DayHours(time(8, 0), time(15, 0))
    assert CAL.working_seconds(wib(2026, 3, 2), wib(2026, 3, 3)) == 7 * H  # Monday
    assert CAL.working_seconds(wib(2026, 3, 6), wib(2026, 3, 7)) == 7.5 * H  # Friday
    # Arriving at 07:45 during Ramadan: the office only opens at 08:00.
    assert CAL.next_opening(wib(2026, 3, 2, 7, 45)) == wib(2026, 3, 2, 8)
    # The first Monday after the period is back to 07:30-16:00.
    assert CAL.hours_on(date(2026, 3, 30)) == DayHours(time(7, 30), time(16, 0))


def test_holiday_inside_a_special_period_is_still_closed() -> None:
    assert not CAL.is_working_day(date(2026, 3, 19))  # Nyepi, inside Ramadan 2026


def test_overlapping_pauses_are_subtracted_once() -> None:
    start, end = wib(2026, 8, 10, 7, 30), wib(2026, 8, 10, 16)
    pauses = [
        (wib(2026, 8, 10, 9), wib(2026, 8, 10, 11)),
        (wib(2026, 8, 10, 10), wib(2026, 8, 10, 12)),
        (wib(2026, 8, 10, 10, 30), wib(2026, 8, 10, 10, 45)),
    ]
    assert CAL.working_seconds(start, end, pauses) == 8.5 * H - 3 * H


def test_pauses_outside_office_hours_or_outside_the_range_subtract_nothing() -> None:
    start, end = wib(2026, 8, 10, 7, 30), wib(2026, 8, 10, 16)
    night = (wib(2026, 8, 10, 18), wib(2026, 8, 11, 7))
    weekend = (wib(2026, 8, 8, 0), wib(2026, 8, 10, 0))
    backwards = (wib(2026, 8, 10, 12), wib(2026, 8, 10, 9))
    assert CAL.working_seconds(start, end, [night, weekend, backwards]) == 8.5 * H


def test_pause_reaching_past_the_range_is_clipped_to_it() -> None:
    # Waiting for the citizen from Monday 15:00 to Wednesday; range ends Tuesday 09:30.
    pause = (wib(2026, 8, 10, 15), wib(2026, 8, 12, 12))
    got = CAL.working_seconds(wib(2026, 8, 10, 7, 30), wib(2026, 8, 11, 9, 30), [pause])
    assert got == 7.5 * H


def test_working_days_between_divides_by_the_standard_day_length() -> None:
    span = (wib(2026, 8, 10, 7, 30), wib(2026, 8, 10, 15))  # 7.5 office hours
    assert CAL.working_days_between(*span) == pytest.approx(1.0)
    two_hour_days = WorkingCalendar(WIB, WeekHours.default(), {}, standard_day_seconds=2 * H)
    assert two_hour_days.working_days_between(*span) == pytest.approx(3.75)
    with pytest.raises(ValueError, match="standard_day_seconds"):
        WorkingCalendar(WIB, WeekHours.default(), {}, standard_day_seconds=0)


def test_five_year_span_matches_day_by_day_reference_and_is_fast() -> None:
    cal = WorkingCalendar(WIB, WeekHours.default(), HOLIDAYS_2026, (RAMADAN_2026,))
    start, end = datetime(2024, 1, 1, 3, tzinfo=UTC), datetime(2029, 1, 1, 5, tzinfo=UTC)
    began = time_module.perf_counter()
    got = cal.working_seconds(start, end)
    cold = time_module.perf_counter() - began
    assert got == pytest.approx(reference_seconds(cal, start, end))
    began = time_module.perf_counter()
    for _ in range(1000):
        cal.working_seconds(start, end)
    warm = (time_module.perf_counter() - began) / 1000
    assert cold < 0.5
    assert warm < 0.001


# ---- moving forward -------------------------------------------------------------------


def test_question_sent_friday_night_is_due_after_the_monday_holiday() -> None:
    # Friday 14 Aug 2026 20:00, Monday 17 Aug is Independence Day: one hour lands Tuesday.
    due = CAL.add_working_seconds(wib(2026, 8, 14, 20), 1 * H)
    assert due == wib(2026, 8, 18, 8, 30)


def test_after_hours_start_snaps_to_next_opening() -> None:
    assert CAL.next_opening(wib(2026, 8, 11, 18)) == wib(2026, 8, 12, 7, 30)
    assert CAL.next_opening(wib(2026, 8, 11, 6)) == wib(2026, 8, 11, 7, 30)
    assert CAL.add_working_seconds(wib(2026, 8, 11, 18), 0) == wib(2026, 8, 12, 7, 30)
    # Closing time itself is outside office hours (the window is half-open).
    assert CAL.next_opening(wib(2026, 8, 11, 16)) == wib(2026, 8, 12, 7, 30)


def test_start_inside_office_hours_with_zero_seconds_stays_put() -> None:
    at = wib(2026, 8, 11, 10, 17)
    assert CAL.next_opening(at) == at
    assert CAL.add_working_seconds(at, 0) == at


def test_time_running_out_exactly_at_closing_is_due_at_closing_not_next_morning() -> None:
    due = CAL.add_working_seconds(wib(2026, 8, 10, 7, 30), 8.5 * H)
    assert due == wib(2026, 8, 10, 16)
    one_second_more = CAL.add_working_seconds(wib(2026, 8, 10, 7, 30), 8.5 * H + 1)
    assert one_second_more == wib(2026, 8, 11, 7, 30) + timedelta(seconds=1)


def test_eid_2026_closure_week_is_skipped_in_one_jump() -> None:
    # Tuesday 17 March 15:00 (Ramadan hours, closes 15:00): everything up to Wednesday
    # 25 March is Nyepi, cuti bersama, Idul Fitri or weekend.
    assert CAL.add_working_seconds(wib(2026, 3, 17, 15), 1 * H) == wib(2026, 3, 25, 8, 30)


def test_negative_or_non_finite_seconds_are_rejected() -> None:
    with pytest.raises(ValueError, match="seconds"):
        CAL.add_working_seconds(wib(2026, 8, 10, 9), -1)
    with pytest.raises(ValueError, match="seconds"):
        CAL.add_working_seconds(wib(2026, 8, 10, 9), float("nan"))


def test_calendar_with_no_open_day_fails_loudly_instead_of_looping() -> None:
    closed = WorkingCalendar(WIB, WeekHours((None,) * 7), {})
    with pytest.raises(ValueError, match="no office hours"):
        closed.next_opening(wib(2026, 8, 10, 9))


# ---- legal deadlines in working days ---------------------------------------------------


def test_ten_working_day_deadline_does_not_count_the_receipt_day_and_ends_at_closing() -> None:
    # Received Monday 10 Aug 2026 10:00. Counting starts Tuesday; 17 Aug is a holiday:
    # 11,12,13,14 / 18,19,20,21 / 24,25 -> Tuesday 25 Aug at closing time.
    assert CAL.add_working_days(wib(2026, 8, 10, 10), 10) == wib(2026, 8, 25, 16)


def test_receipt_hour_does_not_matter_only_the_local_receipt_date() -> None:
    early = CAL.add_working_days(wib(2026, 8, 10, 0, 1), 10)
    late = CAL.add_working_days(wib(2026, 8, 10, 23, 59), 10)
    assert early == late == wib(2026, 8, 25, 16)


def test_request_received_on_saturday_counts_from_monday() -> None:
    assert CAL.add_working_days(wib(2026, 8, 8, 11), 1) == wib(2026, 8, 10, 16)
    assert CAL.add_working_days(wib(2026, 8, 7, 11), 1) == wib(2026, 8, 10, 16)  # Friday


def test_working_day_deadline_ends_at_friday_closing_time_on_a_friday() -> None:
    assert CAL.add_working_days(wib(2026, 8, 12, 9), 2) == wib(2026, 8, 14, 16, 30)


def test_zero_working_days_means_close_of_the_receipt_day_or_next_working_day() -> None:
    assert CAL.add_working_days(wib(2026, 8, 10, 10), 0) == wib(2026, 8, 10, 16)
    assert CAL.add_working_days(wib(2026, 8, 15, 10), 0) == wib(2026, 8, 18, 16)
    with pytest.raises(ValueError, match="days"):
        CAL.add_working_days(wib(2026, 8, 10, 10), -1)


def test_seventeen_working_day_deadline_spans_eid_2026_closures() -> None:
    # Received Friday 13 March 2026. Working days after it: 16, 17 (Ramadan), then
    # closed 18-24 March, then 25, 26, 27, 30, 31 Mar, 1, 2 Apr; 3 Apr is Good Friday;
    # 6, 7, 8, 9, 10, 13, 14, 15 Apr -> the 17th is Wednesday 15 April.
    assert CAL.add_working_days(wib(2026, 3, 13, 9), 17) == wib(2026, 4, 15, 16)


# ---- time zones -----------------------------------------------------------------------


def test_same_utc_span_measures_in_each_provinces_local_hours() -> None:
    # Monday 10 Aug 2026, 00:30-09:00 UTC: 07:30-16:00 WIB, 08:30-17:00 WITA, 09:30-18:00 WIT.
    start = datetime(2026, 8, 10, 0, 30, tzinfo=UTC)
    end = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)
    for tz, hours in ((WIB, 8.5), (WITA, 7.5), (WIT, 6.5)):
        cal = WorkingCalendar(tz, WeekHours.default(), HOLIDAYS_2026)
        assert cal.working_seconds(start, end) == hours * H, tz


def test_utc_sunday_evening_is_monday_morning_in_jayapura() -> None:
    cal = WorkingCalendar(WIT, WeekHours.default(), HOLIDAYS_2026)
    sunday_utc = datetime(2026, 8, 9, 23, 0, tzinfo=UTC)  # Monday 08:00 WIT
    assert cal.next_opening(sunday_utc) == sunday_utc
    assert cal.next_opening(sunday_utc).tzinfo == WIT
    # Its local receipt date is Monday, so one working day is Tuesday's closing.
    assert cal.add_working_days(sunday_utc, 1) == datetime(2026, 8, 11, 16, tzinfo=WIT)


def test_results_are_returned_in_the_calendar_zone_whatever_the_input_zone() -> None:
    cal = WorkingCalendar(WITA, WeekHours.default(), HOLIDAYS_2026)
    due = cal.add_working_seconds(datetime(2026, 8, 10, 1, 0, tzinfo=UTC), 2 * H)
    assert due.tzinfo == WITA
    assert due == datetime(2026, 8, 10, 11, 0, tzinfo=WITA)
    assert due.utcoffset() == timedelta(hours=8)


def test_naive_datetimes_are_rejected_everywhere() -> None:
    naive = datetime(2026, 8, 10, 9, 0)  # noqa: DTZ001 - deliberately naive
    aware = wib(2026, 8, 10, 12)
    calls = [
        lambda: CAL.working_seconds(naive, aware),
        lambda: CAL.working_seconds(aware, naive),
        lambda: CAL.working_seconds(wib(2026, 8, 10, 8), aware, [(naive, aware)]),
        lambda: CAL.working_days_between(naive, aware),
        lambda: CAL.add_working_seconds(naive, 60),
        lambda: CAL.add_working_days(naive, 1),
        lambda: CAL.next_opening(naive),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


# ---- Indonesian holidays (the one place the holidays package is used) -------------------


def test_build_calendar_closes_cuti_bersama_2026_and_applies_overrides() -> None:
    from routing.holidays_id import build_calendar, indonesian_holidays

    cal = build_calendar(
        "Asia/Makassar",
        [2026],
        extra_holidays={date(2026, 8, 18): "Hari Jadi Provinsi"},
        removed_holidays=[date(2026, 12, 24)],
    )
    assert cal.tz == WITA
    assert not cal.is_working_day(date(2026, 3, 20))  # cuti bersama Idul Fitri (Friday)
    assert not cal.is_working_day(date(2026, 3, 23))  # cuti bersama Idul Fitri (Monday)
    assert cal.is_working_day(date(2026, 3, 25))
    assert "Cuti Bersama" in cal.holidays[date(2026, 3, 20)]
    assert not cal.is_working_day(date(2026, 8, 18))  # provincial extra
    assert cal.is_working_day(date(2026, 12, 24))  # removed cuti bersama
    assert date(2026, 3, 23) in indonesian_holidays([2026])


# ---- properties -----------------------------------------------------------------------

instants = st.datetimes(
    # Hypothesis wants naive bounds; timezones= makes the generated values aware.
    min_value=datetime(2025, 12, 20),  # noqa: DTZ001
    max_value=datetime(2027, 1, 10),  # noqa: DTZ001
    timezones=st.just(UTC),
)
# Up to ~3 working weeks, whole microseconds (datetime's resolution).
durations = st.integers(min_value=0, max_value=3 * 43 * 3600 * 10**6).map(lambda us: us / 1e6)
TOLERANCE = 1e-6


@settings(deadline=None)
@given(instants, instants)
def test_working_seconds_is_never_negative_and_matches_the_reference(
    a: datetime, b: datetime
) -> None:
    got = CAL.working_seconds(a, b)
    assert got >= 0
    assert got == pytest.approx(reference_seconds(CAL, a, b), abs=TOLERANCE)


@settings(deadline=None)
@given(instants, instants, instants)
def test_working_seconds_is_additive_over_splits(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    whole = CAL.working_seconds(a, c)
    assert whole == pytest.approx(CAL.working_seconds(a, b) + CAL.working_seconds(b, c), abs=1e-6)


@settings(deadline=None)
@given(instants, instants, instants)
def test_working_seconds_is_monotonic_in_end(a: datetime, b: datetime, c: datetime) -> None:
    b, c = sorted((b, c))
    assert CAL.working_seconds(a, b) <= CAL.working_seconds(a, c)


@settings(deadline=None)
@given(
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(0, 86_399_999_999),
    st.integers(0, 86_399_999_999),
)
def test_no_working_time_accrues_within_a_holiday(day: date, us1: int, us2: int) -> None:
    cal = WorkingCalendar(WIB, WeekHours.default(), {**HOLIDAYS_2026, day: "Libur"})
    midnight = datetime.combine(day, time(0), tzinfo=WIB)
    a, b = sorted((midnight + timedelta(microseconds=us1), midnight + timedelta(microseconds=us2)))
    assert cal.working_seconds(a, b) == 0


def test_no_working_time_accrues_across_the_eid_2026_closure() -> None:
    # From Tuesday 17 March closing to Wednesday 25 March opening (Ramadan hours end
    # 15:00; regular hours resume on the 25th).
    assert CAL.working_seconds(wib(2026, 3, 17, 15), wib(2026, 3, 25, 7, 30)) == 0


@settings(deadline=None)
@given(instants, durations)
def test_add_working_seconds_is_the_inverse_of_working_seconds(
    start: datetime, seconds: float
) -> None:
    due = CAL.add_working_seconds(start, seconds)
    assert due >= start
    assert due.tzinfo == WIB
    assert CAL.working_seconds(start, due) == pytest.approx(seconds, abs=TOLERANCE)
    # And it is the earliest such instant: the office is open just before it.
    if seconds > 0:
        assert CAL.working_seconds(start, due - timedelta(microseconds=1)) < seconds


@settings(deadline=None)
@given(instants, instants, st.lists(st.tuples(instants, instants), max_size=4))
def test_pauses_only_ever_remove_time(
    a: datetime, b: datetime, pauses: list[tuple[datetime, datetime]]
) -> None:
    a, b = sorted((a, b))
    ordered = [(min(p), max(p)) for p in pauses]
    paused = CAL.working_seconds(a, b, ordered)
    assert 0 <= paused <= CAL.working_seconds(a, b)
    assert CAL.working_seconds(a, b, [*ordered, (a, b)]) == 0


@settings(deadline=None)
@given(instants, st.integers(min_value=0, max_value=40))
def test_working_day_deadline_lands_on_a_working_day_closing(start: datetime, days: int) -> None:
    due = CAL.add_working_days(start, days)
    due_date = due.date()
    hours = CAL.hours_on(due_date)
    assert hours is not None
    assert due.timetz().replace(tzinfo=None) == hours.end
    received = start.astimezone(WIB).date()
    after = [received + timedelta(days=i) for i in range(1, (due_date - received).days + 1)]
    counted = sum(CAL.is_working_day(d) for d in after)
    if days > 0:
        assert counted == days
    elif CAL.is_working_day(received):
        assert due_date == received
    else:
        assert counted == 1
