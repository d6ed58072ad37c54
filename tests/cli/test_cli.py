"""The ``sahut`` command line (bot.cli): exit codes, one-line errors, database effects."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.services import Services, build_services
from db.engine import make_engine
from db.migrate import head_revision
from db.models import FaqRow, OpdRow
from routing.people import Citizen, Role
from routing.policy import Principal, PrincipalKind
from routing.tickets import TicketKind
from tests.builders import (
    BAPENDA_CHAT,
    DISHUB_CHAT,
    build_config,
    config_dict,
    to_toml,
    write_config,
)

pytestmark = pytest.mark.db

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "config.toml"
SHARED = Path("/work/shared/faq-eval")
needs_shared = pytest.mark.skipif(not (SHARED / "faq.csv").exists(),
                                  reason="shared evaluation data absent")


@dataclass
class Result:
    """What one CLI run left behind."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Cli:
    """Runs ``sahut --config PATH ...`` in-process and checks it never shows a traceback."""

    def __init__(self, capsys: pytest.CaptureFixture[str], config: Path) -> None:
        self.capsys = capsys
        self.config = config

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.err
        return Result(code, captured.out, captured.err)


def one_line_error(result: Result) -> str:
    """The single stderr line of a failed command."""
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(autouse=True)
def _no_stray_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the process environment: tests decide what is in it."""
    for name in ("DATABASE_URL", "SAHUT_CONFIG", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, engine: object, db_url: str) -> Cli:
    """The CLI with the small test config on the (migrated) test database."""
    return Cli(capsys, write_config(tmp_path / "config.toml", db_url))


@pytest.fixture
def shipped_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                engine: object, db_url: str) -> Cli:
    """The CLI with the repository's own config.toml, DATABASE_URL pointing at the test db."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    return Cli(capsys, SHIPPED_CONFIG)


def faq_count(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(FaqRow)) or 0)
    finally:
        engine.dispose()


def faq_answer(db_url: str, faq_id: str) -> str | None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(FaqRow.answer).where(FaqRow.id == faq_id))
    finally:
        engine.dispose()


# -- help --------------------------------------------------------------------------------------

def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    for command in ("db", "faq", "staff", "ticket", "chat", "run", "config"):
        assert f"\n    {command} " in out


@pytest.mark.parametrize(("group", "actions"), [
    ("db", ("upgrade", "current")), ("faq", ("import", "list", "match", "eval")),
    ("staff", ("add", "list", "remove")), ("ticket", ("list", "show")),
])
def test_each_command_group_lists_its_actions(capsys: pytest.CaptureFixture[str], group: str,
                                              actions: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as raised:
        main([group, "--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    for action in actions:
        assert action in out


def test_python_dash_m_bot_shows_the_same_help() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: sahut")
    assert "staff" in done.stdout
    assert "ticket" in done.stdout


# -- db ----------------------------------------------------------------------------------------

def test_db_upgrade_creates_the_schema_and_a_second_run_changes_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_db_url: str) -> None:
    cli = Cli(capsys, write_config(tmp_path / "config.toml", empty_db_url))
    first = cli("db", "upgrade")
    assert (first.code, first.out.strip()) == (
        0, f"Database upgraded from empty to {head_revision()}.")
    second = cli("db", "upgrade")
    assert (second.code, second.out.strip()) == (
        0, f"Database already at revision {head_revision()}.")
    current = cli("db", "current")
    assert "up to date" in current.out


def test_commands_refuse_a_database_that_was_never_upgraded(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_db_url: str) -> None:
    cli = Cli(capsys, write_config(tmp_path / "config.toml", empty_db_url))
    error = one_line_error(cli("staff", "list"))
    assert "sahut db upgrade" in error


# -- faq import ------------------------------------------------------------------------------

@needs_shared
def test_the_shared_faq_and_opd_files_import_cleanly(shipped_cli: Cli, db_url: str) -> None:
    files = (str(SHARED / "faq.csv"), str(SHARED / "opd.toml"))
    first = shipped_cli("faq", "import", *files)
    assert first.code == 0, first.err
    assert first.out.strip() == "Imported 156 FAQ entries (156 new, 0 updated) and 14 OPDs."
    assert faq_count(db_url) == 156
    again = shipped_cli("faq", "import", *files)
    assert again.out.strip() == "Imported 156 FAQ entries (0 new, 156 updated) and 14 OPDs."
    listed = shipped_cli("faq", "list", "--opd", "bpbd")
    assert listed.lines[-1] == "10 entries"
    assert all(line.split()[1] == "BPBD" for line in listed.lines[:-1])


def corrupt(path: Path, how: str) -> tuple[str, int]:
    """Write a corrupted copy of the shared faq.csv; return the expected reason and line."""
    text = (SHARED / "faq.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == len(text.splitlines())  # one line per record: line = row index + 1
    header = rows[0]
    if how == "unknown OPD":
        rows[9][header.index("opd")] = "DISBUD"
        expected = ("unknown OPD 'DISBUD'", 10)
    elif how == "missing column":
        keep = [i for i, name in enumerate(header) if name != "keywords"]
        rows = [[row[i] for i in keep] for row in rows]
        expected = ("missing column(s) keywords", 1)
    else:
        rows.append(list(rows[1]))
        expected = (f"duplicate id '{rows[1][0]}' (first at {path}:2)", len(rows))
    # A changed answer that must not reach the database either.
    if how != "missing column":
        rows[2][header.index("answer")] = "JAWABAN YANG TIDAK BOLEH MASUK"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return expected


@needs_shared
@pytest.mark.parametrize("how", ["unknown OPD", "missing column", "duplicate id"])
def test_a_corrupted_faq_file_is_rejected_whole_with_file_and_line(
        shipped_cli: Cli, db_url: str, tmp_path: Path, how: str) -> None:
    opd_file = str(SHARED / "opd.toml")
    assert shipped_cli("faq", "import", str(SHARED / "faq.csv"), opd_file).code == 0
    before = faq_count(db_url)
    answer_before = faq_answer(db_url, "bapenda-002")
    bad = tmp_path / "faq.csv"
    reason, line = corrupt(bad, how)
    result = shipped_cli("faq", "import", str(bad), opd_file)
    assert result.code == 2
    problem, summary = result.err.splitlines()
    assert problem.startswith(f"{bad}:{line}: {reason}")  # a missing column adds the header
    assert summary == "error: import rejected (1 problem(s)); nothing was changed"
    assert faq_count(db_url) == before
    assert faq_answer(db_url, "bapenda-002") == answer_before


def test_a_yaml_faq_file_imports(cli: Cli, db_url: str, tmp_path: Path) -> None:
    faq = tmp_path / "faq.yaml"
    faq.write_text("""\
- id: bapenda-001
  opd: BAPENDA
  question: Bagaimana cara membayar pajak kendaraan bermotor tahunan?
  answer: Di Samsat atau lewat e-Samsat.
  variants: ["Bayar pajak motor online?"]
  keywords: PKB | pajak kendaraan
- id: dishub-001
  opd: dishub
  question: Di mana terminal bus antarkota?
  answer: Terminal Tipe B Kota Contoh.
""", encoding="utf-8")
    result = cli("faq", "import", str(faq))
    assert (result.code, result.out.strip()) == (
        0, "Imported 2 FAQ entries (2 new, 0 updated).")
    assert faq_count(db_url) == 2
    listed = cli("faq", "list", "--opd", "DISHUB")
    assert listed.lines == [f"{'dishub-001':<20} {'DISHUB':<14} Di mana terminal bus antarkota?",
                            "1 entries"]
    as_json = cli("faq", "list", "--json")
    assert as_json.lines[0] == ('{"id": "bapenda-001", "opd": "BAPENDA", "question": '
                                '"Bagaimana cara membayar pajak kendaraan bermotor tahunan?"}')


def test_a_malformed_yaml_file_is_rejected_with_its_line(cli: Cli, db_url: str,
                                                         tmp_path: Path) -> None:
    faq = tmp_path / "faq.yaml"
    faq.write_text("- id: a-1\n  opd: BAPENDA\n  question: [oops\n  answer: A.\n",
                   encoding="utf-8")
    result = cli("faq", "import", str(faq))
    assert result.code == 2
    assert result.err.startswith(f"{faq}:")
    assert "malformed YAML" in result.err
    assert faq_count(db_url) == 0


IMPORTED_BAPENDA = ("Memungut pajak daerah provinsi: Pajak Kendaraan Bermotor (PKB), BBNKB, "
                    "pajak alat berat; layanan Samsat bersama Kepolisian dan Jasa Raharja.")


def stored_opd(db_url: str, code: str) -> tuple[str, str, bool, int | None]:
    """(name, description, description_imported, queue_chat_id) of one OPD row."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(OpdRow.name, OpdRow.description,
                                      OpdRow.description_imported, OpdRow.queue_chat_id)
                               .where(OpdRow.code == code)).one()
            return row[0], row[1], bool(row[2]), row[3]
    finally:
        engine.dispose()


def test_an_imported_opd_description_is_still_in_the_database_after_the_next_command(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, empty_db_url: str) -> None:
    config = write_config(tmp_path / "config.toml", empty_db_url)
    cli = Cli(capsys, config)
    assert cli("db", "upgrade").code == 0
    faq = tmp_path / "faq.csv"
    faq.write_text("id,opd,question,answer,variants,keywords\n"
                   "bapenda-001,BAPENDA,Bagaimana cara membayar pajak kendaraan?,"
                   "Di Samsat atau lewat e-Samsat.,,PKB\n", encoding="utf-8")
    opds = tmp_path / "opd.toml"
    opds.write_text(to_toml({"opd": [
        {"code": "BAPENDA", "name": "Bapenda (nama dari impor)", "description": IMPORTED_BAPENDA},
        {"code": "DISHUB", "name": "Dinas Perhubungan"},
    ]}), encoding="utf-8")
    result = cli("faq", "import", str(faq), str(opds))
    assert result.code == 0, result.err
    # Every later command starts the services again (sync_opds): the import must survive it.
    assert cli("faq", "list").code == 0
    services = build_services(build_config(empty_db_url))
    services.dispose()
    name, description, imported, chat = stored_opd(empty_db_url, "BAPENDA")
    assert (description, imported) == (IMPORTED_BAPENDA, True)
    assert (name, chat) == ("Badan Pendapatan Daerah", BAPENDA_CHAT)  # config.toml's
    # An OPD profile without a description leaves config.toml's description in charge.
    dishub = stored_opd(empty_db_url, "DISHUB")
    assert dishub[1:] == ("Angkutan antarkota, terminal, rambu dan lampu lalu lintas.", False,
                          DISHUB_CHAT)


def test_importing_a_missing_file_is_rejected(cli: Cli, tmp_path: Path) -> None:
    result = cli("faq", "import", str(tmp_path / "nope.csv"))
    assert result.code == 2
    assert result.err.splitlines()[0] == f"{tmp_path / 'nope.csv'}:0: file not found"


def test_listing_the_faq_of_an_unknown_opd_is_one_error(cli: Cli) -> None:
    assert one_line_error(cli("faq", "list", "--opd", "DISPAR")) == (
        "error: unknown OPD 'DISPAR'")


# -- staff -------------------------------------------------------------------------------------

def test_staff_are_added_listed_and_removed(cli: Cli) -> None:
    added = cli("staff", "add", "--telegram-id", "101", "--name", "Budi", "--opd", "bapenda")
    assert (added.code, added.out.strip()) == (
        0, "Registered Budi (telegram id 101) as staff of BAPENDA.")
    assert cli("staff", "add", "--telegram-id", "102", "--name", "Sari",
               "--supervisor").out.strip() == (
        "Registered Sari (telegram id 102) as supervisor.")
    assert cli("staff", "add", "--telegram-id", "103", "--name", "Ani",
               "--admin").out.strip() == "Registered Ani (telegram id 103) as admin."
    listed = cli("staff", "list")
    assert listed.lines[-1] == "3 registered"
    rows = {line.split()[0]: line.split() for line in listed.lines[:-1]}
    assert rows["101"][1:] == ["staff", "BAPENDA", "Budi"]
    assert rows["102"][1:] == ["supervisor", "-", "Sari"]
    removed = cli("staff", "remove", "--telegram-id", "101")
    assert (removed.code, removed.out.strip()) == (0, "Removed telegram id 101.")
    assert cli("staff", "list").lines[-1] == "2 registered"


def test_removing_an_unknown_telegram_id_is_one_error(cli: Cli) -> None:
    result = cli("staff", "remove", "--telegram-id", "999")
    assert result.code == 1
    assert one_line_error(result) == "error: no staff member with telegram id 999"


def test_staff_of_an_unknown_opd_are_refused(cli: Cli) -> None:
    result = cli("staff", "add", "--telegram-id", "101", "--name", "Budi", "--opd", "DISPAR")
    assert result.code == 1
    assert one_line_error(result) == "error: cannot add staff: unknown OPD 'DISPAR'"
    assert cli("staff", "list").lines == ["0 registered"]


def test_staff_add_needs_exactly_one_role(capsys: pytest.CaptureFixture[str],
                                          cli: Cli) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--config", str(cli.config), "staff", "add", "--telegram-id", "1", "--name", "x"])
    assert raised.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# -- tickets -----------------------------------------------------------------------------------

@pytest.fixture
def tickets(services: Services) -> list[str]:
    """Three tickets: BAPENDA open, DISHUB answered, DINSOS closed."""
    helpdesk = services.helpdesk
    with services.uow() as uow:
        citizen: Citizen = uow.citizens.get_or_create("telegram", "5001", "Siti",
                                                      services.clock())
        helpdesk.add_staff(uow, telegram_id=202, name="Dewi", role=Role.STAFF,
                           opd_code="DISHUB")
        refs = []
        for opd, text in (("BAPENDA", "Pajak motor saya NIK 3201234567891234 salah hitung"),
                          ("DISHUB", "Lampu lalu lintas mati"),
                          ("DINSOS", "Bansos belum cair")):
            view = helpdesk.open_ticket(uow, citizen=citizen, text=text, opd_code=opd,
                                        kind=TicketKind.PENGADUAN)
            refs.append(view.ticket.reference)
        dewi = helpdesk.principal(uow, 202)
        helpdesk.answer(uow, dewi, refs[1], "Sudah kami perbaiki.")
        uow.commit()
    with services.uow() as uow:
        helpdesk.close(uow, Principal(PrincipalKind.ADMIN, name="cli"), refs[2])
        uow.commit()
    return refs


def test_ticket_list_prints_one_line_per_ticket_starting_with_its_reference(
        cli: Cli, tickets: list[str]) -> None:
    result = cli("ticket", "list")
    assert result.code == 0
    assert [line.split()[0] for line in result.lines] == tickets
    assert [line.split()[1:4] for line in result.lines] == [
        ["BAPENDA", "pengaduan", "open"], ["DISHUB", "pengaduan", "answered"],
        ["DINSOS", "pengaduan", "closed"]]
    assert result.err.strip() == "3 ticket(s)"


def test_ticket_list_filters_by_opd_and_state(cli: Cli, tickets: list[str]) -> None:
    by_opd = cli("ticket", "list", "--opd", "dishub", "--quiet")
    assert [line.split()[0] for line in by_opd.lines] == [tickets[1]]
    assert by_opd.err == ""
    by_state = cli("ticket", "list", "--state", "closed")
    assert [line.split()[0] for line in by_state.lines] == [tickets[2]]
    assert cli("ticket", "list", "--opd", "BAPENDA", "--state", "closed").lines == []


def test_ticket_list_of_an_unknown_opd_is_one_error(cli: Cli) -> None:
    assert one_line_error(cli("ticket", "list", "--opd", "DISPAR")) == (
        "error: unknown OPD 'DISPAR'")


def test_ticket_show_prints_the_ticket_and_its_audit_trail(cli: Cli, tickets: list[str]) -> None:
    result = cli("ticket", "show", tickets[1].lower())
    assert result.code == 0
    out = result.out
    assert f"Reference:      {tickets[1]}" in out
    assert "OPD:            DISHUB (Dinas Perhubungan)" in out
    assert "State:          answered" in out
    assert "First response: 0.0 working hours" in out
    events = out.split("Events:\n", 1)[1].splitlines()
    assert [line.split()[3] for line in events] == ["opened", "answered"]  # after the time


def test_ticket_show_masks_personal_data(cli: Cli, tickets: list[str]) -> None:
    out = cli("ticket", "show", tickets[0]).out
    assert "32xxxxxxxxxx1234" in out
    assert "3201234567891234" not in out


def test_an_unknown_ticket_is_one_error(cli: Cli) -> None:
    result = cli("ticket", "show", "PPID-2026-999999")
    assert result.code == 1
    assert one_line_error(result) == "error: no ticket 'PPID-2026-999999'"


# -- configuration ---------------------------------------------------------------------------

def test_a_bad_config_file_is_one_error_naming_the_key(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, db_url: str) -> None:
    data = config_dict(db_url)
    data["opd"][1]["code"] = "dishub"
    path = tmp_path / "config.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    result = Cli(capsys, path)("staff", "list")
    assert result.code == 1
    error = one_line_error(result)
    assert error.startswith(f"error: {path}: opd[1].code: ")


def test_a_missing_config_file_is_one_error(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    result = Cli(capsys, tmp_path / "nope.toml")("staff", "list")
    assert "configuration file not found" in one_line_error(result)


def test_sahut_config_selects_the_file_when_no_flag_is_given(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        db_url: str) -> None:
    path = write_config(tmp_path / "chosen.toml", db_url)
    monkeypatch.setenv("SAHUT_CONFIG", str(path))
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: OK — Provinsi Uji (Asia/Jakarta), 3 OPDs")
