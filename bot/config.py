"""Load ``config.toml`` once into frozen, validated objects.

Every problem is reported with the dotted key it concerns, so an operator can fix the file
without reading code. Secrets never live in the file: they come from the environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from faq.matcher import MatchSettings
from routing.metrics import DEFAULT_WEIGHTS, MetricSettings
from routing.sla import KindSla, SlaConfig
from routing.tickets import TicketKind

DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_DATABASE_URL = "sqlite:///var/sahut.db"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")


class ConfigError(Exception):
    """The configuration file is missing, malformed or has a bad value."""


class _Table:
    """A TOML table being read; remembers which keys were used so leftovers are errors."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a table")
        self.data: dict[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, default: Any = None) -> Any:
        self.used.add(name)
        return self.data.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.get(name, default)
        if value is None and required:
            raise ConfigError(f"{self.key(name)}: required key is missing")
        if not isinstance(value, str) or (required and not value.strip()):
            raise ConfigError(f"{self.key(name)}: expected a non-empty string, got {value!r}")
        return value.strip()

    def opt_str(self, name: str) -> str | None:
        value = self.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{self.key(name)}: expected a string, got {value!r}")
        return value.strip()

    def integer(self, name: str, default: int, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key(name)}: expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{self.key(name)}: must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{self.key(name)}: must be at most {maximum}, got {value}")
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None,
               maximum: float | None = None) -> float:
        value = self.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.key(name)}: expected a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{self.key(name)}: must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{self.key(name)}: must be at most {maximum}, got {value}")
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.key(name)}: expected true or false, got {value!r}")
        return value

    def opt_chat_id(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.key(name)}: expected a Telegram chat id (integer), "
                              f"got {value!r}")
        return value

    def table(self, name: str) -> _Table:
        self.used.add(name)
        return _Table(self.data.get(name, {}), self.key(name))

    def finish(self) -> None:
        """Fail on keys nobody asked for: usually a typo the operator should know about."""
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key")


@dataclass(frozen=True)
class ProvinceConfig:
    """The province the bot speaks for."""

    name: str
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        """The province's timezone object."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class DatabaseConfig:
    """Where tickets live."""

    url: str
    #: Threads per worker that write incoming updates (one chat always uses the same one).
    #: 0: automatic (1 on SQLite, which has one writer; 2 on PostgreSQL).
    intake_lanes: int = 0

    def lanes(self) -> int:
        """The number of intake threads to run."""
        if self.url.startswith("sqlite"):
            return 1
        return self.intake_lanes or 2


@dataclass(frozen=True)
class TelegramConfig:
    """Telegram connection; the token only ever comes from the environment."""

    token: str | None = field(default=None, repr=False)
    base_url: str | None = None
    base_file_url: str | None = None
    ops_chat_id: int | None = None
    webhook_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OpdConfig:
    """One agency (OPD) and the Telegram group of its PPID Pembantu."""

    code: str
    name: str
    description: str = ""
    queue_chat_id: int | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class PpidUtamaConfig:
    """The central triage desk (PPID Utama)."""

    code: str
    name: str
    queue_chat_id: int | None = None


@dataclass(frozen=True)
class CalendarConfig:
    """Office hours, Ramadan hours and extra non-working days of the province."""

    hours: tuple[tuple[time, time] | None, ...]
    ramadan_hours: tuple[tuple[time, time] | None, ...]
    ramadan: tuple[tuple[date, date], ...]
    extra_holidays: Mapping[date, str]
    working_days_override: tuple[date, ...]
    national_holidays: bool = True
    first_year: int = 2020
    last_year: int = 2035


DEFAULT_MIME_TYPES = (
    "application/pdf", "image/jpeg", "image/png", "image/webp", "image/heic",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "video/mp4", "audio/ogg", "audio/mpeg",
)


@dataclass(frozen=True)
class TicketsConfig:
    """Ticket references and citizen-side rules."""

    reference_prefix: str
    reopen_days: int = 14
    max_text_chars: int = 4000
    max_attachments: int = 10
    max_attachment_mb: int = 20
    allowed_mime_types: tuple[str, ...] = DEFAULT_MIME_TYPES


@dataclass(frozen=True)
class PrivacyConfig:
    """Retention of personal data (UU 27/2022)."""

    retention_days: int = 730
    deletion_hours: int = 72
    #: Delivered messages (their text) are deleted after this many days.
    sent_messages_days: int = 30
    #: Update ids kept to recognise redeliveries (Telegram retries for up to 24 hours).
    processed_updates_hours: int = 48
    #: An unfinished complaint left this long is dropped.
    idle_drafts_days: int = 30


@dataclass(frozen=True)
class LimitsConfig:
    """Per-user flood protection."""

    messages_per_minute: int = 20
    burst: int = 8


@dataclass(frozen=True)
class SenderConfig:
    """Outbox delivery pacing and retries ([sender]); Telegram's limits by default.

    The limits are per sending process: with several processes, give each its share of
    ``overall_per_second`` (``sahut send --senders N`` divides it by itself).
    """

    overall_per_second: float = 30.0
    group_per_minute: int = 20
    private_chat_interval: float = 1.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    max_attempts: int = 8
    lease_seconds: float = 60.0
    max_in_flight: int = 16


@dataclass(frozen=True)
class ReportConfig:
    """Reports, the responsiveness index and SLA escalation ([report])."""

    metrics: MetricSettings = field(default_factory=MetricSettings)
    period_days: int = 30
    reminder_share: float = 0.75
    digest_time: time | None = time(7, 0)
    reports_dir: str = "var/reports"
    escalation_interval_seconds: int = 60


@dataclass(frozen=True)
class Config:
    """The whole configuration; built once at startup and passed down."""

    province: ProvinceConfig
    database: DatabaseConfig
    telegram: TelegramConfig
    opds: tuple[OpdConfig, ...]
    ppid_utama: PpidUtamaConfig
    calendar: CalendarConfig
    sla: SlaConfig
    faq: MatchSettings
    tickets: TicketsConfig
    privacy: PrivacyConfig
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    source: str = "<defaults>"
    report: ReportConfig = field(default_factory=ReportConfig)
    sender: SenderConfig = field(default_factory=SenderConfig)

    def opd(self, code: str) -> OpdConfig | None:
        """The configured OPD with this code, if any."""
        for opd in self.opds:
            if opd.code == code:
                return opd
        return None

    @property
    def all_codes(self) -> tuple[str, ...]:
        """Codes of every queue: the OPDs and PPID Utama."""
        return (*(o.code for o in self.opds), self.ppid_utama.code)


def _parse_hhmm(value: Any, key: str) -> time:
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ConfigError(f"{key}: expected a time like \"07:30\", got {value!r}")
    hours, minutes = (int(p) for p in value.strip().split(":"))
    if hours > 23 or minutes > 59:
        raise ConfigError(f"{key}: invalid time {value!r}")
    return time(hours, minutes)


def _parse_week(table: _Table, defaults: dict[str, tuple[str, str] | None]
                ) -> tuple[tuple[time, time] | None, ...]:
    days: list[tuple[time, time] | None] = []
    for day in WEEKDAYS:
        raw = table.get(day, defaults.get(day))
        key = table.key(day)
        if raw is None or raw == [] or raw == "closed":
            days.append(None)
            continue
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            raise ConfigError(f"{key}: expected [\"HH:MM\", \"HH:MM\"] or \"closed\", got {raw!r}")
        start, end = _parse_hhmm(raw[0], key), _parse_hhmm(raw[1], key)
        if end <= start:
            raise ConfigError(f"{key}: closing time must be after opening time")
        days.append((start, end))
    table.finish()
    return tuple(days)


def _parse_date(value: Any, key: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{key}: expected a date like 2026-03-20, got {value!r}")


DEFAULT_HOURS: dict[str, tuple[str, str] | None] = {
    "mon": ("07:30", "16:00"), "tue": ("07:30", "16:00"), "wed": ("07:30", "16:00"),
    "thu": ("07:30", "16:00"), "fri": ("07:30", "16:30"), "sat": None, "sun": None,
}
DEFAULT_RAMADAN_HOURS: dict[str, tuple[str, str] | None] = {
    "mon": ("08:00", "15:00"), "tue": ("08:00", "15:00"), "wed": ("08:00", "15:00"),
    "thu": ("08:00", "15:00"), "fri": ("08:00", "15:30"), "sat": None, "sun": None,
}
# Ramadan dates as announced for recent and coming years; operators extend the list.
DEFAULT_RAMADAN = (
    ("2025-03-01", "2025-03-30"),
    ("2026-02-18", "2026-03-19"),
    ("2027-02-08", "2027-03-09"),
)


def _parse_calendar(table: _Table) -> CalendarConfig:
    hours = _parse_week(table.table("hours"), DEFAULT_HOURS)
    ramadan_hours = _parse_week(table.table("ramadan_hours"), DEFAULT_RAMADAN_HOURS)
    periods: list[tuple[date, date]] = []
    raw_periods = table.get("ramadan", [list(p) for p in DEFAULT_RAMADAN])
    if not isinstance(raw_periods, list):
        raise ConfigError(f"{table.key('ramadan')}: expected a list of [start, end] dates")
    for index, item in enumerate(raw_periods):
        key = f"{table.key('ramadan')}[{index}]"
        if not isinstance(item, list) or len(item) != 2:
            raise ConfigError(f"{key}: expected [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]")
        start, end = _parse_date(item[0], key), _parse_date(item[1], key)
        if end < start:
            raise ConfigError(f"{key}: end date is before start date")
        periods.append((start, end))
    extra: dict[date, str] = {}
    raw_extra = table.get("extra_holidays", {})
    if isinstance(raw_extra, list):
        raw_extra = {str(d): "Libur daerah" for d in raw_extra}
    if not isinstance(raw_extra, dict):
        raise ConfigError(f"{table.key('extra_holidays')}: expected a table of date = \"name\"")
    for raw_day, name in raw_extra.items():
        key = f"{table.key('extra_holidays')}.{raw_day}"
        extra[_parse_date(raw_day, key)] = str(name)
    override = table.get("working_days", [])
    if not isinstance(override, list):
        raise ConfigError(f"{table.key('working_days')}: expected a list of dates")
    working = tuple(_parse_date(d, table.key("working_days")) for d in override)
    national = table.flag("national_holidays", True)
    first_year = table.integer("first_year", 2020, minimum=1990, maximum=2100)
    last_year = table.integer("last_year", 2035, minimum=first_year, maximum=2100)
    table.finish()
    return CalendarConfig(hours, ramadan_hours, tuple(periods), extra, working, national,
                          first_year, last_year)


DEFAULT_SLA = {
    TicketKind.INFORMASI: KindSla(first_response_days=3, resolution_days=10, legal_days=10,
                                  extension_days=7),
    TicketKind.PENGADUAN: KindSla(first_response_days=3, resolution_days=14, legal_days=60),
    TicketKind.ASPIRASI: KindSla(first_response_days=3, resolution_days=14, legal_days=None),
}
DEFAULT_TIERS = {"ringan": 5.0, "sedang": 14.0, "berat": 60.0}


def _parse_sla(table: _Table) -> SlaConfig:
    kinds: dict[TicketKind, KindSla] = {}
    for kind in TicketKind:
        default = DEFAULT_SLA[kind]
        sub = table.table(kind.value)
        legal_default = default.legal_days if default.legal_days is not None else 0
        legal = sub.number("legal_days", legal_default, minimum=0)
        kinds[kind] = KindSla(
            first_response_days=sub.number("first_response_days", default.first_response_days,
                                           minimum=0.1),
            resolution_days=sub.number("resolution_days", default.resolution_days, minimum=0.1),
            legal_days=legal or None,
            extension_days=sub.number("extension_days", default.extension_days, minimum=0),
        )
        if kind is TicketKind.PENGADUAN:
            tiers_table = sub.table("tiers")
            tiers = {name: tiers_table.number(name, days, minimum=0.1)
                     for name, days in DEFAULT_TIERS.items()}
            for extra_name in list(tiers_table.data):
                tiers[extra_name] = tiers_table.number(extra_name, 0, minimum=0.1)
            tiers_table.finish()
            default_tier = sub.text("default_tier", "sedang")
            if default_tier not in tiers:
                raise ConfigError(f"{sub.key('default_tier')}: unknown tier {default_tier!r}; "
                                  f"known: {', '.join(tiers)}")
        sub.finish()
    table.finish()
    return SlaConfig(kinds, tiers, default_tier)


def _parse_faq(table: _Table) -> MatchSettings:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(MatchSettings):
        if not table.has(f.name):
            continue
        default = getattr(MatchSettings(), f.name)
        if isinstance(default, bool):
            values[f.name] = table.flag(f.name, default)
        elif isinstance(default, int):
            values[f.name] = table.integer(f.name, default, minimum=0)
        elif isinstance(default, float):
            values[f.name] = table.number(f.name, default, minimum=0)
        else:
            values[f.name] = table.get(f.name)
    table.finish()
    try:
        return MatchSettings(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"faq: {exc}") from exc


def _parse_report(table: _Table) -> ReportConfig:
    weights_t = table.table("weights")
    weights = {name: weights_t.number(name, default, minimum=0, maximum=100)
               for name, default in DEFAULT_WEIGHTS.items()}
    weights_t.finish()
    if sum(weights.values()) <= 0:
        raise ConfigError(f"{weights_t.path}: at least one weight must be above 0")
    raw_digest = table.get("digest_time", "07:00")
    digest: time | None = None
    if raw_digest not in ("", "off", False):
        digest = _parse_hhmm(raw_digest, table.key("digest_time"))
    report = ReportConfig(
        metrics=MetricSettings(
            weights=weights,
            min_tickets_for_rank=table.integer("min_tickets_for_rank", 20, minimum=1),
        ),
        period_days=table.integer("period_days", 30, minimum=1, maximum=3660),
        reminder_share=table.number("reminder_share", 0.75, minimum=0.05, maximum=0.99),
        digest_time=digest,
        reports_dir=table.text("reports_dir", "var/reports"),
        escalation_interval_seconds=table.integer("escalation_interval_seconds", 60,
                                                  minimum=5, maximum=3600),
    )
    table.finish()
    return report


def _parse_opds(raw: Any) -> tuple[OpdConfig, ...]:
    if raw is None:
        raise ConfigError("opd: at least one [[opd]] table is required")
    if not isinstance(raw, list) or not raw:
        raise ConfigError("opd: expected one or more [[opd]] tables")
    out: list[OpdConfig] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        table = _Table(item, f"opd[{index}]")
        code = table.text("code", required=True)
        if not _CODE_RE.match(code):
            raise ConfigError(f"{table.key('code')}: OPD codes are upper-case letters and digits, "
                              f"got {code!r}")
        if code in seen:
            raise ConfigError(f"{table.key('code')}: duplicate OPD code {code!r}")
        seen.add(code)
        keywords = table.get("keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ConfigError(f"{table.key('keywords')}: expected a list of strings")
        out.append(OpdConfig(
            code=code,
            name=table.text("name", required=True),
            description=table.opt_str("description") or "",
            queue_chat_id=table.opt_chat_id("queue_chat_id"),
            keywords=tuple(keywords),
        ))
        table.finish()
    return tuple(out)


def _string_list(table: _Table, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get(name, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{table.key(name)}: expected a list of strings")
    return tuple(v.strip().lower() for v in value)


def _env(name: str, env: Mapping[str, str]) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def parse_config(data: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                 source: str = "<memory>") -> Config:
    """Validate a parsed TOML document and apply environment overrides."""
    env = os.environ if env is None else env
    root = _Table(dict(data), "")

    province_t = root.table("province")
    if not province_t.data:
        raise ConfigError("province: the [province] table is required (name, timezone)")
    timezone = province_t.text("timezone", "Asia/Jakarta")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"province.timezone: unknown timezone {timezone!r} "
                          "(use e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)") from exc
    province = ProvinceConfig(name=province_t.text("name", required=True), timezone=timezone)
    province_t.finish()

    db_t = root.table("database")
    file_url = db_t.opt_str("url")  # read first: an env override must not make it "unknown"
    url = _env("DATABASE_URL", env) or file_url or DEFAULT_DATABASE_URL
    lanes = db_t.integer("intake_lanes", 0, minimum=0, maximum=64)
    db_t.finish()

    tg_t = root.table("telegram")
    if tg_t.has("token"):
        raise ConfigError("telegram.token: secrets never live in the file; "
                          "set the TELEGRAM_BOT_TOKEN environment variable instead")
    # Read the file values first: an env override must not make them "unknown".
    file_base_url, file_base_file_url = tg_t.opt_str("base_url"), tg_t.opt_str("base_file_url")
    telegram = TelegramConfig(
        token=_env("TELEGRAM_BOT_TOKEN", env),
        base_url=_env("TELEGRAM_BASE_URL", env) or file_base_url,
        base_file_url=_env("TELEGRAM_BASE_FILE_URL", env) or file_base_file_url,
        ops_chat_id=tg_t.opt_chat_id("ops_chat_id"),
        webhook_secret=_env("TELEGRAM_WEBHOOK_SECRET", env),
    )
    tg_t.finish()

    root.used.add("opd")
    opds = _parse_opds(data.get("opd"))

    ppid_t = root.table("ppid_utama")
    if not ppid_t.data:
        raise ConfigError("ppid_utama: the [ppid_utama] table is required (code, name, "
                          "queue_chat_id)")
    ppid_code = ppid_t.text("code", "PPID")
    if not _CODE_RE.match(ppid_code):
        raise ConfigError(f"ppid_utama.code: expected upper-case letters and digits, "
                          f"got {ppid_code!r}")
    if ppid_code in {o.code for o in opds}:
        raise ConfigError(f"ppid_utama.code: {ppid_code!r} is also an OPD code; "
                          "PPID Utama needs its own code")
    ppid = PpidUtamaConfig(code=ppid_code, name=ppid_t.text("name", "PPID Utama"),
                           queue_chat_id=ppid_t.opt_chat_id("queue_chat_id"))
    ppid_t.finish()

    calendar = _parse_calendar(root.table("calendar"))
    sla = _parse_sla(root.table("sla"))
    faq = _parse_faq(root.table("faq"))

    tickets_t = root.table("tickets")
    prefix = tickets_t.text("reference_prefix", ppid.code)
    if not re.fullmatch(r"[A-Z][A-Z0-9]{0,11}", prefix):
        raise ConfigError(f"tickets.reference_prefix: expected 1-12 upper-case letters/digits, "
                          f"got {prefix!r}")
    tickets = TicketsConfig(
        reference_prefix=prefix,
        reopen_days=tickets_t.integer("reopen_days", 14, minimum=0, maximum=365),
        max_text_chars=tickets_t.integer("max_text_chars", 4000, minimum=100, maximum=100_000),
        max_attachments=tickets_t.integer("max_attachments", 10, minimum=0, maximum=100),
        max_attachment_mb=tickets_t.integer("max_attachment_mb", 20, minimum=1, maximum=2000),
        allowed_mime_types=_string_list(tickets_t, "allowed_mime_types", DEFAULT_MIME_TYPES),
    )
    tickets_t.finish()

    privacy_t = root.table("privacy")
    privacy = PrivacyConfig(
        retention_days=privacy_t.integer("retention_days", 730, minimum=1),
        deletion_hours=privacy_t.integer("deletion_hours", 72, minimum=1, maximum=72),
        sent_messages_days=privacy_t.integer("sent_messages_days", 30, minimum=1),
        # Shorter than Telegram's redelivery window would let a retried update act twice.
        processed_updates_hours=privacy_t.integer("processed_updates_hours", 48, minimum=25),
        idle_drafts_days=privacy_t.integer("idle_drafts_days", 30, minimum=1),
    )
    privacy_t.finish()

    report = _parse_report(root.table("report"))

    limits_t = root.table("limits")
    limits = LimitsConfig(
        messages_per_minute=limits_t.integer("messages_per_minute", 20, minimum=1),
        burst=limits_t.integer("burst", 8, minimum=1),
    )
    limits_t.finish()

    sender = _parse_sender(root.table("sender"))

    root.finish()
    return Config(province, DatabaseConfig(url, lanes), telegram, opds, ppid, calendar, sla, faq,
                  tickets, privacy, limits, source, report, sender)


def _parse_sender(table: _Table) -> SenderConfig:
    sender = SenderConfig(
        overall_per_second=table.number("overall_per_second", 30.0, minimum=0.1,
                                        maximum=10_000),
        group_per_minute=table.integer("group_per_minute", 20, minimum=1, maximum=10_000),
        private_chat_interval=table.number("private_chat_interval", 1.0, minimum=0.0,
                                           maximum=60.0),
        retry_base_seconds=table.number("retry_base_seconds", 1.0, minimum=0.0,
                                        maximum=3600.0),
        retry_max_seconds=table.number("retry_max_seconds", 300.0, minimum=0.0,
                                       maximum=86_400.0),
        max_attempts=table.integer("max_attempts", 8, minimum=1, maximum=100),
        lease_seconds=table.number("lease_seconds", 60.0, minimum=1.0, maximum=3600.0),
        max_in_flight=table.integer("max_in_flight", 16, minimum=1, maximum=1000),
    )
    if sender.retry_max_seconds < sender.retry_base_seconds:
        raise ConfigError(f"{table.key('retry_max_seconds')}: must be at least "
                          f"retry_base_seconds ({sender.retry_base_seconds})")
    table.finish()
    return sender


def config_path(explicit: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> Path:
    """Which file to load: --config, then SAHUT_CONFIG, then ./config.toml."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("SAHUT_CONFIG"):
        return Path(env["SAHUT_CONFIG"])
    return Path(DEFAULT_CONFIG_NAME)


def load_config(path: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration file; raise ConfigError with a clear message."""
    file = config_path(path, env)
    try:
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: configuration file not found "
                          "(use --config PATH or SAHUT_CONFIG)") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read configuration: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: configuration is not valid UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from exc
    try:
        return parse_config(data, env=env, source=str(file))
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
