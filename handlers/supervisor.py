"""Supervisors in private chat: /ringkasan, /terlambat and /laporan."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import Path

from handlers.context import HandlerContext
from routing.periods import period_bounds
from routing.policy import Action, authorize

PERIOD_LABELS = {"hari": "hari ini", "minggu": "minggu ini", "bulan": "bulan ini",
                 "tahun": "tahun ini"}


def _period(ctx: HandlerContext, default: str) -> tuple[datetime, datetime, str]:
    period = ctx.inbound.args[0].lower() if ctx.inbound.args else default
    return period_bounds(period, ctx.services.clock(), ctx.services.config.province.tz)


def summary(ctx: HandlerContext) -> None:
    """/ringkasan [hari|minggu|bulan|tahun]: per-OPD figures, index and rank for the period."""
    start, end, period = _period(ctx, "minggu")
    tz = ctx.services.config.province.tz
    principal = ctx.principal()
    authorize(principal, Action.VIEW_SUMMARY)
    report = ctx.services.report(ctx.uow, start.astimezone(tz).date(),
                                 end.astimezone(tz).date(), charts=False)
    rows = [o.to_json() for o in report.opds]
    ctx.reply("supervisor/summary", {
        "period_label": PERIOD_LABELS[period], "start": start.isoformat(),
        "end": end.isoformat(), "rows": rows,
    })


def report(ctx: HandlerContext) -> None:
    """/laporan [hari|minggu|bulan|tahun]: the chart as a picture, the HTML and CSV files.

    Without an argument: the configured default period (the last 30 days).
    """
    from bot.report_output import to_csv, to_html, to_png

    authorize(ctx.principal(), Action.VIEW_REPORT)
    services = ctx.services
    tz = services.config.province.tz
    now = services.clock()
    today = now.astimezone(tz).date()
    if ctx.inbound.args:
        lo, _, _ = _period(ctx, "bulan")
        start = lo.astimezone(tz).date()
    else:
        start = today - timedelta(days=services.config.report.period_days - 1)
    built = ctx.services.report(ctx.uow, start, today, charts=True)
    folder = (Path(services.config.report.reports_dir).resolve()
              / f"{now.astimezone(tz):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"laporan-{start.isoformat()}-{today.isoformat()}"
    png = to_png(built, folder / f"{stem}.png")
    html_path = folder / f"{stem}.html"
    html_path.write_text(to_html(built, province=services.config.province.name,
                                 generated_at=now.astimezone(tz)), encoding="utf-8")
    csv_path = folder / f"{stem}.csv"
    csv_path.write_text(to_csv(built), encoding="utf-8")
    period = {"start": start.isoformat(), "end": today.isoformat()}
    top = [o.to_json() for o in built.opds if o.rank is not None][:5]
    ctx.reply("supervisor/report_chart", {**period, "top": top},
              attachment={"kind": "photo", "path": str(png), "file_name": png.name})
    for path, label in ((html_path, "HTML"), (csv_path, "CSV")):
        ctx.reply("supervisor/report_file", {**period, "format": label},
                  attachment={"kind": "document", "path": str(path), "file_name": path.name})


def overdue(ctx: HandlerContext) -> None:
    """/terlambat: every overdue ticket."""
    views = ctx.helpdesk.overdue(ctx.uow, ctx.principal())
    ctx.reply("supervisor/overdue", {"tickets": [v.context(for_staff=True) for v in views[:50]]})
