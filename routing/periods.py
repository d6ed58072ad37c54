"""Reporting periods in the province's local calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

PERIODS = ("hari", "minggu", "bulan", "tahun")


def period_bounds(period: str, now: datetime, tz: tzinfo) -> tuple[datetime, datetime, str]:
    """Start and end of ``hari|minggu|bulan|tahun`` up to now; unknown names mean a week."""
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "hari":
        start = midnight
    elif period == "bulan":
        start = midnight.replace(day=1)
    elif period == "tahun":
        start = midnight.replace(month=1, day=1)
    else:
        period = "minggu"
        start = midnight - timedelta(days=midnight.weekday())
    return start.astimezone(UTC), now, period
