"""Test builders: configuration dicts and files, a settable clock, aware time constants."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config, parse_config

WIB = ZoneInfo("Asia/Jakarta")
# Monday 23 November 2026, 09:00 WIB: an ordinary working week with no holidays.
MONDAY_9AM = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)

PPID_CHAT = -1000
BAPENDA_CHAT = -1001
DISHUB_CHAT = -1002
DINSOS_CHAT = -1003
OPD_CODES = ("BAPENDA", "DISHUB", "DINSOS")

BASE_CONFIG: dict[str, Any] = {
    "province": {"name": "Provinsi Uji", "timezone": "Asia/Jakarta"},
    "database": {"url": "sqlite://"},
    "opd": [
        {"code": "BAPENDA", "name": "Badan Pendapatan Daerah",
         "description": "Pajak kendaraan bermotor (PKB), bea balik nama, layanan Samsat.",
         "queue_chat_id": BAPENDA_CHAT},
        {"code": "DISHUB", "name": "Dinas Perhubungan",
         "description": "Angkutan antarkota, terminal, rambu dan lampu lalu lintas.",
         "queue_chat_id": DISHUB_CHAT},
        {"code": "DINSOS", "name": "Dinas Sosial",
         "description": "Bantuan sosial, penyandang disabilitas, lanjut usia.",
         "queue_chat_id": DINSOS_CHAT},
    ],
    "ppid_utama": {"code": "PPID", "name": "PPID Utama", "queue_chat_id": PPID_CHAT},
    # Only the years the tests touch: loading holidays for 16 years costs a quarter second.
    "calendar": {"first_year": 2025, "last_year": 2027},
}


def config_dict(database_url: str = "sqlite://", **sections: Any) -> dict[str, Any]:
    """A small valid configuration as a TOML-shaped dict; ``sections`` replace whole tables."""
    data = copy.deepcopy(BASE_CONFIG)
    data["database"] = {"url": database_url}
    data.update(copy.deepcopy(sections))
    return data


def build_config(database_url: str = "sqlite://", *, env: Mapping[str, str] | None = None,
                 **sections: Any) -> Config:
    """A Config built the way the application builds it (env={} unless given)."""
    return parse_config(config_dict(database_url, **sections), env={} if env is None else env)


class FixedClock:
    """A clock that stands still until told to move: callable, like the application's clock."""

    def __init__(self, start: datetime = MONDAY_9AM) -> None:
        self.now: datetime
        self.set(start)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> datetime:
        """Jump to an aware instant."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("the test clock only takes aware datetimes")
        self.now = moment
        return moment

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)``."""
        self.now = self.now + timedelta(**delta)
        return self.now


# -- TOML writing (tomllib only reads) ------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(data: Mapping[str, Any]) -> str:
    """Write a config dict as TOML: top-level tables, arrays of tables, inline sub-tables."""
    # Top-level keys first: after a [table] header they would belong to that table.
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items()
             if not isinstance(v, dict) and not _is_table_array(v)]
    for name, value in data.items():
        if _is_table_array(value):
            for item in value:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
                lines.append("")
        elif isinstance(value, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
            lines.append("")
    return "\n".join(lines) + "\n"


def write_config(path: Path, database_url: str = "sqlite://", **sections: Any) -> Path:
    """Write a small valid config.toml (see ``config_dict``) and return its path."""
    path.write_text(to_toml(config_dict(database_url, **sections)), encoding="utf-8")
    return path
