"""Loading config.toml (bot.config): defaults, dotted-key errors, env overrides, file choice."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import (
    DEFAULT_DATABASE_URL,
    ConfigError,
    config_path,
    load_config,
    parse_config,
)
from routing.tickets import TicketKind
from tests.builders import config_dict, to_toml

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
CONTRACT_TABLES = ("province", "database", "telegram", "opd", "ppid_utama")

Mutation = Callable[[dict[str, Any]], None]


def contract_only() -> dict[str, Any]:
    """Only the tables an operator must write."""
    data = config_dict("sqlite:///var/test.db")
    data.pop("calendar")
    data["telegram"] = {}
    return data


def test_a_file_with_only_the_contract_tables_is_valid_and_gets_the_defaults() -> None:
    config = parse_config(contract_only(), env={})
    assert config.province.name == "Provinsi Uji"
    assert config.province.timezone == "Asia/Jakarta"
    assert config.database.url == "sqlite:///var/test.db"
    assert [o.code for o in config.opds] == ["BAPENDA", "DISHUB", "DINSOS"]
    assert config.all_codes == ("BAPENDA", "DISHUB", "DINSOS", "PPID")
    assert config.tickets.reference_prefix == "PPID"  # defaults to PPID Utama's code
    assert (config.tickets.reopen_days, config.tickets.max_text_chars) == (14, 4000)
    assert config.calendar.hours[0] == (time(7, 30), time(16, 0))
    assert config.calendar.hours[4] == (time(7, 30), time(16, 30))
    assert config.calendar.hours[5:] == (None, None)
    assert config.sla.for_kind(TicketKind.INFORMASI).legal_days == 10
    assert config.sla.for_kind(TicketKind.INFORMASI).extension_days == 7
    assert config.sla.for_kind(TicketKind.ASPIRASI).legal_days is None
    assert config.sla.complaint_tiers == {"ringan": 5.0, "sedang": 14.0, "berat": 60.0}
    assert config.sla.default_complaint_tier == "sedang"
    assert config.telegram.token is None


def test_without_a_database_table_the_embedded_sqlite_file_is_used() -> None:
    data = contract_only()
    data.pop("database")
    assert parse_config(data, env={}).database.url == DEFAULT_DATABASE_URL


def _set(path: str, value: Any) -> Mutation:
    """A mutation setting a dotted path (``opd[1].code``) in the config dict."""
    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[parts[-1]] = value
    return mutate


@pytest.mark.parametrize(("mutate", "key"), [
    (_set("province.nmae", "Provinsi Typo"), "province.nmae"),
    (_set("provinsi", {"name": "x"}), "provinsi"),
    (_set("database.uri", "sqlite://"), "database.uri"),
    (_set("opd[1].colour", "blue"), "opd[1].colour"),
    (_set("ppid_utama.chat", -1), "ppid_utama.chat"),
    (_set("calendar.hours.monday", ["08:00", "16:00"]), "calendar.hours.monday"),
    (_set("sla.informasi.legal_dayz", 10), "sla.informasi.legal_dayz"),
    (_set("sla.pengaduan.tiers.sedang", "lama"), "sla.pengaduan.tiers.sedang"),
    (_set("tickets.reopen_dayz", 3), "tickets.reopen_dayz"),
    (_set("faq.answer_treshold", 50), "faq.answer_treshold"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_unknown_keys_are_errors_naming_the_dotted_key(mutate: Mutation, key: str) -> None:
    data = config_dict()
    mutate(data)
    with pytest.raises(ConfigError) as raised:
        parse_config(data, env={})
    assert str(raised.value).startswith(f"{key}: ")


@pytest.mark.parametrize(("mutate", "key"), [
    (_set("opd[1].code", "dishub"), "opd[1].code"),
    (_set("opd[2].code", "BAPENDA"), "opd[2].code"),
    (_set("opd[0].name", ""), "opd[0].name"),
    (_set("opd[0].queue_chat_id", "-1001"), "opd[0].queue_chat_id"),
    (_set("opd[0].keywords", "pajak"), "opd[0].keywords"),
    (_set("province.timezone", "Asia/Atlantis"), "province.timezone"),
    (_set("province.name", 42), "province.name"),
    (_set("calendar.hours.mon", "07:30-16:00"), "calendar.hours.mon"),
    (_set("calendar.hours.tue", ["16:00", "07:30"]), "calendar.hours.tue"),
    (_set("calendar.hours.wed", ["25:00", "26:00"]), "calendar.hours.wed"),
    (_set("calendar.ramadan", [["2026-03-19", "2026-02-18"]]), "calendar.ramadan[0]"),
    (_set("calendar.extra_holidays", {"2026-13-01": "x"}), "calendar.extra_holidays.2026-13-01"),
    (_set("calendar.national_holidays", "yes"), "calendar.national_holidays"),
    (_set("ppid_utama.code", "BAPENDA"), "ppid_utama.code"),
    (_set("ppid_utama.code", "ppid"), "ppid_utama.code"),
    (_set("sla.pengaduan.default_tier", "kilat"), "sla.pengaduan.default_tier"),
    (_set("sla.informasi.first_response_days", 0), "sla.informasi.first_response_days"),
    (_set("tickets.reopen_days", -1), "tickets.reopen_days"),
    (_set("tickets.reference_prefix", "ppid-"), "tickets.reference_prefix"),
    (_set("tickets.max_attachments", True), "tickets.max_attachments"),
    (_set("privacy.deletion_hours", 100), "privacy.deletion_hours"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_values_are_errors_naming_the_dotted_key(mutate: Mutation, key: str) -> None:
    data = config_dict()
    mutate(data)
    with pytest.raises(ConfigError) as raised:
        parse_config(data, env={})
    assert str(raised.value).startswith(f"{key}: ")


@pytest.mark.parametrize(("missing", "key"), [("province", "province"), ("opd", "opd"),
                                              ("ppid_utama", "ppid_utama")])
def test_required_tables_are_named_when_missing(missing: str, key: str) -> None:
    data = config_dict()
    data.pop(missing)
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        parse_config(data, env={})


def test_a_missing_province_name_is_named() -> None:
    data = config_dict()
    data["province"] = {"timezone": "Asia/Jakarta"}
    with pytest.raises(ConfigError, match=r"^province\.name: required"):
        parse_config(data, env={})


def test_a_day_left_out_keeps_its_default_hours_and_closed_closes_it() -> None:
    data = config_dict()
    data["calendar"]["hours"] = {"mon": ["08:00", "15:00"], "fri": "closed",
                                 "sat": ["08:00", "12:00"]}
    hours = parse_config(data, env={}).calendar.hours
    assert hours[0] == (time(8), time(15))
    assert hours[1] == (time(7, 30), time(16, 0))  # tue left out: the default
    assert hours[4] is None
    assert hours[5] == (time(8), time(12))
    assert hours[6] is None  # sun left out: closed by default


def test_a_secret_token_in_the_file_is_refused() -> None:
    data = config_dict()
    data["telegram"] = {"token": "123:ABC"}
    with pytest.raises(ConfigError, match=r"^telegram\.token: .*TELEGRAM_BOT_TOKEN"):
        parse_config(data, env={})


def test_environment_overrides_the_file() -> None:
    data = config_dict("sqlite:///from-file.db")
    data["telegram"] = {"base_url": "http://file/bot", "base_file_url": "http://file/file/bot"}
    env = {
        "DATABASE_URL": "postgresql://sahut@db/sahut",
        "TELEGRAM_BOT_TOKEN": "123456:SECRET",
        "TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
        "TELEGRAM_BASE_FILE_URL": "http://127.0.0.1:8081/file/bot",
    }
    config = parse_config(data, env=env)
    assert config.database.url == "postgresql://sahut@db/sahut"
    assert config.telegram.token == "123456:SECRET"
    assert config.telegram.base_url == "http://127.0.0.1:8081/bot"
    assert config.telegram.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert "SECRET" not in repr(config)


def test_without_environment_the_file_values_are_used() -> None:
    data = config_dict("sqlite:///from-file.db")
    data["telegram"] = {"base_url": "http://file/bot", "base_file_url": ""}
    config = parse_config(data, env={"DATABASE_URL": "  ", "TELEGRAM_BASE_URL": ""})
    assert config.database.url == "sqlite:///from-file.db"
    assert config.telegram.base_url == "http://file/bot"
    assert config.telegram.base_file_url is None
    assert config.telegram.token is None


def test_the_process_environment_is_read_when_no_env_is_given(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")
    assert parse_config(config_dict()).database.url == "sqlite:///from-env.db"


def test_config_flag_wins_over_sahut_config_which_wins_over_the_default(tmp_path: Path) -> None:
    env = {"SAHUT_CONFIG": str(tmp_path / "env.toml")}
    assert config_path(tmp_path / "flag.toml", env) == tmp_path / "flag.toml"
    assert config_path(None, env) == tmp_path / "env.toml"
    assert config_path(None, {}) == Path("config.toml")


def test_sahut_config_selects_the_file_to_load(tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere.toml"
    chosen.write_text(to_toml(config_dict("sqlite:///chosen.db")), encoding="utf-8")
    config = load_config(None, env={"SAHUT_CONFIG": str(chosen)})
    assert config.database.url == "sqlite:///chosen.db"
    assert config.source == str(chosen)


def test_the_config_flag_selects_the_file_to_load(tmp_path: Path) -> None:
    flag = tmp_path / "flag.toml"
    flag.write_text(to_toml(config_dict("sqlite:///flag.db")), encoding="utf-8")
    env = {"SAHUT_CONFIG": str(tmp_path / "missing.toml")}
    assert load_config(flag, env=env).database.url == "sqlite:///flag.db"


def test_config_toml_in_the_working_directory_is_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(to_toml(config_dict("sqlite:///cwd.db")),
                                          encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_config(None, env={}).database.url == "sqlite:///cwd.db"


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[province\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml: invalid TOML"):
        load_config(path, env={})


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[province]\nname = "Provinsi Contoh é"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(path, env={})


def test_errors_from_a_file_name_the_file_and_the_key(tmp_path: Path) -> None:
    data = config_dict()
    data["opd"][1]["code"] = "dishub"
    path = tmp_path / "config.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    message = str(raised.value)
    assert message.startswith(f"{path}: opd[1].code: ")
    assert "\n" not in message


def test_the_shipped_config_loads() -> None:
    config = load_config(SHIPPED_CONFIG, env={})
    assert config.province.name == "Provinsi Contoh"
    assert len(config.opds) == 14
    assert config.ppid_utama.code == "PPID"
    assert all(o.queue_chat_id is not None for o in config.opds)
    assert config.telegram.base_url is None  # "" means api.telegram.org


def test_the_shipped_config_loads_with_every_override_set() -> None:
    env = {"DATABASE_URL": "sqlite:///x.db", "TELEGRAM_BOT_TOKEN": "1:x",
           "TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
           "TELEGRAM_BASE_FILE_URL": "http://127.0.0.1:8081/file/bot"}
    config = load_config(SHIPPED_CONFIG, env=env)
    assert config.database.url == "sqlite:///x.db"
    assert config.telegram.base_url == "http://127.0.0.1:8081/bot"


def test_the_optional_tables_of_the_shipped_config_show_the_defaults() -> None:
    """The file says every table after the contract ones shows its default: keep it true."""
    data = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    shipped = parse_config(data, env={})
    minimal = parse_config({k: v for k, v in data.items() if k in CONTRACT_TABLES}, env={})
    for section in ("calendar", "sla", "tickets", "privacy", "faq", "limits", "report"):
        assert getattr(shipped, section) == getattr(minimal, section), section
