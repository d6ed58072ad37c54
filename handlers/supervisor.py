"""Supervisors in private chat: /ringkasan and /terlambat."""

from __future__ import annotations

from dataclasses import asdict

from handlers.context import HandlerContext
from routing.periods import period_bounds

PERIOD_LABELS = {"hari": "hari ini", "minggu": "minggu ini", "bulan": "bulan ini",
                 "tahun": "tahun ini"}


def summary(ctx: HandlerContext) -> None:
    """/ringkasan [hari|minggu|bulan|tahun]: per-OPD figures for the period."""
    period = ctx.inbound.args[0].lower() if ctx.inbound.args else "minggu"
    now = ctx.services.clock()
    start, end, period = period_bounds(period, now, ctx.services.config.province.tz)
    rows = ctx.helpdesk.summary(ctx.uow, ctx.principal(), start, end)
    ctx.reply("supervisor/summary", {
        "period_label": PERIOD_LABELS[period], "start": start.isoformat(),
        "end": end.isoformat(), "rows": [asdict(r) for r in rows],
    })


def overdue(ctx: HandlerContext) -> None:
    """/terlambat: every overdue ticket."""
    views = ctx.helpdesk.overdue(ctx.uow, ctx.principal())
    ctx.reply("supervisor/overdue", {"tickets": [v.context(for_staff=True) for v in views[:50]]})
