"""One Jinja2 environment for every chat text; Telegram HTML is autoescaped."""

from __future__ import annotations

import html
import re
import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)

DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")
ZONE_ABBREVIATIONS = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
                      "Asia/Jayapura": "WIT"}
_TAG = re.compile(r"<[^>]+>")


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class Renderer:
    """Renders templates and button labels in the province's timezone."""

    def __init__(self, timezone: str, province: str, extra_dir: Path | None = None) -> None:
        loaders: list[Any] = [PackageLoader("bot", "templates")]
        if extra_dir is not None:
            loaders.insert(0, FileSystemLoader(str(extra_dir)))  # an admin's edited copies win
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html.j2", "html")),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # Templates change with a deploy, not while running: no stat() per message.
            auto_reload=False,
        )
        self.tz = ZoneInfo(timezone)
        self.zone = ZONE_ABBREVIATIONS.get(timezone, timezone)
        self.env.globals["provinsi"] = province
        self.env.filters["waktu"] = self.format_datetime
        self.env.filters["tanggal"] = self.format_date
        self.env.filters["angka"] = self.format_number
        labels_text = resources.files("bot").joinpath("templates/labels.toml").read_text("utf-8")
        if extra_dir is not None and (extra_dir / "labels.toml").exists():
            labels_text = (extra_dir / "labels.toml").read_text("utf-8")
        tables = tomllib.loads(labels_text)
        self.labels: dict[str, str] = tables["labels"]
        self._label_templates: dict[str, Template] = {}
        states: dict[str, str] = tables.get("states", {})
        kinds: dict[str, str] = tables.get("kinds", {})
        self.env.filters["status"] = lambda value: states.get(str(value), str(value))
        self.env.filters["jenis"] = lambda value: kinds.get(str(value), str(value))

    def format_datetime(self, value: Any) -> str:
        """``Senin, 23 November 2026 10.00 WIB``."""
        moment = _as_datetime(value)
        if moment is None:
            return "-"
        local = moment.astimezone(self.tz)
        return (f"{DAYS[local.weekday()]}, {local.day} {MONTHS[local.month - 1]} {local.year} "
                f"{local:%H.%M} {self.zone}")

    def format_date(self, value: Any) -> str:
        """``23 November 2026``."""
        moment = _as_datetime(value)
        if moment is None:
            return "-"
        local = moment.astimezone(self.tz)
        return f"{local.day} {MONTHS[local.month - 1]} {local.year}"

    @staticmethod
    def format_number(value: Any, digits: int = 1) -> str:
        """Indonesian decimal comma: ``2,5``."""
        if value is None:
            return "-"
        if isinstance(value, int):
            return f"{value:,}".replace(",", ".")
        return f"{float(value):.{digits}f}".replace(".", ",")

    def render(self, template: str, context: dict[str, Any]) -> str:
        """Render ``template`` (e.g. ``citizen/start``) to Telegram HTML."""
        name = template if template.endswith(".j2") else f"{template}.html.j2"
        return self.env.get_template(name).render(**context).strip()

    def label(self, key: str, params: dict[str, Any] | None = None) -> str:
        """A button label from labels.toml, rendered with its parameters (plain text)."""
        compiled = self._label_templates.get(key)
        if compiled is None:  # compile each label once, not on every message
            compiled = self.env.from_string(self.labels.get(key, key))
            self._label_templates[key] = compiled
        return compiled.render(**(params or {})).strip()


def html_to_plain(text: str) -> str:
    """Telegram HTML to plain text for the terminal console and logs."""
    text = re.sub(r"<br\s*/?>", "\n", text)
    return html.unescape(_TAG.sub("", text))
