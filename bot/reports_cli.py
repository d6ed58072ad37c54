"""``sahut report`` and ``sahut seed-demo``: supervisor reports and synthetic history."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.cli import EXIT_OK, CliError, _services
from bot.report_output import FORMATS, render

AddCommand = Callable[[Any, str, Callable[[argparse.Namespace], int], str],
                      argparse.ArgumentParser]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-11-23, got {value!r}") from exc


def default_period(today: date, days: int) -> tuple[date, date]:
    """The last ``days`` days up to and including today."""
    return today - timedelta(days=days - 1), today


def resolve_period(start: date | None, end: date | None, today: date,
                   days: int) -> tuple[date, date]:
    """--from/--to with the configured default length filling what is missing."""
    if end is None:
        end = today if start is None else max(start, min(today, start + timedelta(days - 1)))
    if start is None:
        start = end - timedelta(days=days - 1)
    if end < start:
        raise CliError(f"--to {end} is before --from {start}")
    return start, end


def make_report(services: Any, start: date, end: date, now: datetime | None = None, *,
                charts: bool = True) -> Any:
    """The report of the configured database for [start, end]."""
    from db.reports import make_report as report

    return report(services.engine, calendar=services.calendar, sla=services.config.sla,
                  settings=services.config.report.metrics, start=start, end=end,
                  now=now or services.clock(), charts=charts)


def cmd_report(args: argparse.Namespace) -> int:
    """Per-OPD responsiveness report."""
    services = _services(args)
    try:
        now = services.clock()
        today = now.astimezone(services.config.province.tz).date()
        start, end = resolve_period(args.start, args.end, today,
                                    services.config.report.period_days)
        report = make_report(services, start, end, now, charts=args.format == "html")
        if args.opd:
            code = args.opd.strip().upper()
            if not any(o.code == code for o in report.opds):
                raise CliError(f"unknown OPD {args.opd!r}")
            report = report.only(code)
        text = render(report, args.format, province=services.config.province.name,
                      generated_at=now.astimezone(services.config.province.tz))
    finally:
        services.dispose()
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        print(f"Report written to {path}.", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


class ProgressBar:
    """A one-line progress bar on stderr (redrawn in place)."""

    def __init__(self, label: str, out: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.out = out or sys.stderr
        self.width = width
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(self.width * share)
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        self.out.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                       f"{share:4.0%} {done:,}/{total:,} {elapsed:5.1f}s {rate:,.0f}/s")
        if done >= total:
            self.out.write("\n")
        self.out.flush()


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Fill the configured database with synthetic history."""
    from db.seed import seed_demo

    if args.tickets < 1:
        raise CliError("--tickets must be at least 1")
    if args.days < 1:
        raise CliError("--days must be at least 1")
    services = _services(args)
    try:
        result = seed_demo(services.engine, calendar=services.calendar,
                           sla=services.config.sla, ppid_code=services.config.ppid_utama.code,
                           tickets=args.tickets, days=args.days, now=services.clock(),
                           seed=args.seed, progress=ProgressBar("seeding"))
    finally:
        services.dispose()
    print(f"Added {result.tickets:,} demo tickets ({result.assignments:,} assignments, "
          f"{result.events:,} events) over the last {args.days} days.")
    return EXIT_OK


def register(sub: Any, add: AddCommand) -> None:
    """Add ``report`` and ``seed-demo`` to the ``sahut`` parser."""
    p = add(sub, "report", cmd_report,
            "per-OPD responsiveness report (working hours; default: the last 30 days)")
    p.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD",
                   help="first opening date (inclusive, province time)")
    p.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD",
                   help="last opening date (inclusive, province time)")
    p.add_argument("--opd", metavar="CODE", help="only this OPD (rank among all OPDs)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", metavar="PATH", help="write to a file instead of stdout")
    p = add(sub, "seed-demo", cmd_seed_demo,
            "fill the database with realistic synthetic ticket history (demos, benchmarks)")
    p.add_argument("--tickets", type=int, required=True, metavar="N")
    p.add_argument("--days", type=int, default=365, metavar="D",
                   help="spread the tickets over the last D days (default 365)")
    p.add_argument("--seed", type=int, default=20261122, help="random seed (reproducible)")
