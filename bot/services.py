"""Composition root: turn a Config into the services the channels and the CLI use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config
from bot.faqsource import FaqSource
from bot.observability import Metrics
from bot.render import Renderer
from db.engine import make_engine, make_session_factory
from db.migrate import check_current
from db.repositories import SqlUnitOfWork
from routing.holidays_id import indonesian_holidays
from routing.metrics import Report
from routing.people import Opd
from routing.ports import Clock, UnitOfWork
from routing.services import Helpdesk, HelpdeskSettings
from routing.worktime import DayHours, SpecialPeriod, WeekHours, WorkingCalendar


def system_clock() -> datetime:
    """Aware UTC now: the only place the running bot reads the wall clock."""
    return datetime.now(UTC)


def _week(days: tuple[tuple[time, time] | None, ...]) -> WeekHours:
    return WeekHours(tuple(DayHours(d[0], d[1]) if d else None for d in days))


def build_calendar(config: Config) -> WorkingCalendar:
    """The province's working calendar: office hours, Ramadan hours, holidays, cuti bersama."""
    cal = config.calendar
    years = range(cal.first_year, cal.last_year + 1)
    holidays: dict[date, str] = (
        indonesian_holidays(years, extra=cal.extra_holidays, removed=cal.working_days_override)
        if cal.national_holidays else
        {d: n for d, n in cal.extra_holidays.items() if d not in cal.working_days_override}
    )
    hours = _week(cal.hours)
    ramadan = _week(cal.ramadan_hours)
    periods = tuple(SpecialPeriod(start, end, ramadan, "Ramadan") for start, end in cal.ramadan)
    working = [(datetime.combine(date.min, d.end)
                - datetime.combine(date.min, d.start)).total_seconds()
               for d in hours.days if d is not None]
    # One "working day" is the average office day of the configured week, so N working days
    # of SLA mean N typical office days whatever the weekly pattern.
    day_seconds = sum(working) / len(working) if working else 7.5 * 3600
    return WorkingCalendar(tz=config.province.tz, hours=hours, holidays=holidays,
                           special_periods=periods, standard_day_seconds=day_seconds)


@dataclass
class Services:
    """Everything a channel or a CLI command may use; built once per process."""

    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    uow: Callable[[], UnitOfWork]
    helpdesk: Helpdesk
    faq: FaqSource
    renderer: Renderer
    calendar: WorkingCalendar
    clock: Clock
    metrics: Metrics = field(default_factory=Metrics)

    def dispose(self) -> None:
        """Close database connections."""
        self.engine.dispose()

    def report(self, uow: UnitOfWork, start: date, end: date, *, charts: bool) -> Report:
        """The metrics report for tickets opened in [start, end], read in ``uow``'s transaction."""
        from db.reports import report_on

        session = getattr(uow, "session", None)
        if session is None:
            raise TypeError("reports are read from the SQL database")
        return report_on(session.connection(), calendar=self.calendar, sla=self.config.sla,
                         settings=self.config.report.metrics, start=start, end=end,
                         now=self.clock(), charts=charts)


PPID_UTAMA_DESCRIPTION = ("Meja layanan pusat PPID Utama: menelaah dan menyalurkan permohonan "
                          "ke OPD yang berwenang.")


def sync_opds(uow: UnitOfWork, config: Config, now: datetime) -> None:
    """Mirror the configured OPDs and PPID Utama into the database.

    The config wins for name and queue chat. The description is config.toml's unless one was
    imported with ``sahut faq import`` (an explicit admin action): that one stays, with its
    flag, until another import changes it.
    """
    for opd in config.opds:
        existing = uow.opds.get(opd.code)
        description = _imported_description(existing)
        imported = description is not None
        if description is None:
            description = opd.description or (existing.description if existing else "")
        _upsert_if_changed(uow, existing, Opd(
            code=opd.code, name=opd.name, description=description,
            description_imported=imported, queue_chat_id=opd.queue_chat_id,
            # Keywords imported with an opd.toml stay unless the config names its own.
            keywords=opd.keywords or (existing.keywords if existing else ())), now)
    ppid = config.ppid_utama
    existing = uow.opds.get(ppid.code)
    description = _imported_description(existing)
    _upsert_if_changed(uow, existing, Opd(
        code=ppid.code, name=ppid.name, queue_chat_id=ppid.queue_chat_id, is_ppid_utama=True,
        description=description or PPID_UTAMA_DESCRIPTION,
        description_imported=description is not None,
        keywords=existing.keywords if existing else ()), now)


def _imported_description(existing: Opd | None) -> str | None:
    """The description an OPD import gave this OPD, which start-up keeps (None: none)."""
    if existing is not None and existing.description_imported and existing.description:
        return existing.description
    return None


def _upsert_if_changed(uow: UnitOfWork, existing: Opd | None, wanted: Opd,
                       now: datetime) -> None:
    # Every process start syncs: an unchanged row keeps its updated_at, so running bots do
    # not see a "changed" OPD table and rebuild their FAQ index after each CLI command.
    if existing != wanted:
        uow.opds.upsert(wanted, now)


def build_services(config: Config, *, clock: Clock | None = None, engine: Engine | None = None,
                   check_schema: bool = True, staff_channel: str = "telegram",
                   templates_dir: Path | None = None) -> Services:
    """Wire config, database, calendar, helpdesk, FAQ matcher and templates together."""
    clock = clock or system_clock
    engine = engine or make_engine(config.database.url)
    if check_schema:
        check_current(engine)
    factory = make_session_factory(engine)

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(factory)

    with uow() as u:
        sync_opds(u, config, clock())
        u.commit()
    calendar = build_calendar(config)
    helpdesk = Helpdesk(
        clock=clock, calendar=calendar, sla=config.sla,
        settings=HelpdeskSettings(
            reference_prefix=config.tickets.reference_prefix, ppid_code=config.ppid_utama.code,
            reopen_days=config.tickets.reopen_days, max_text_chars=config.tickets.max_text_chars,
            max_attachments=config.tickets.max_attachments, staff_channel=staff_channel,
        ),
    )
    renderer = Renderer(config.province.timezone, config.province.name, templates_dir)
    return Services(config=config, engine=engine, session_factory=factory, uow=uow,
                    helpdesk=helpdesk, faq=FaqSource(uow, config.faq), renderer=renderer,
                    calendar=calendar, clock=clock)
