"""Report formats: CSV without formula injection, escaped self-contained HTML, Chromium
rendering, the /laporan chat command and the [report] configuration table."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.config import ConfigError
from bot.report_output import to_csv, to_html
from bot.services import build_services
from db.models import OutboxRow
from db.seed import seed_demo
from handlers.dispatch import Dispatcher
from handlers.inbound import Inbound
from routing.metrics import MetricSettings, OpdInfo, OpdTotals, Report, WeekTrend, build_report
from routing.people import Role
from tests.builders import WIB, FixedClock, build_config

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SUPERVISOR_ID, CITIZEN_ID = 901, 902


def sample_report(name: str = "Dinas <script>alert(1)</script> & Co") -> Report:
    totals = {
        "DISHUB": OpdTotals(tickets=40, answered=38, responses=40, target_sum=40 * 77400,
                            fr_met=36, fr_missed=4, distribution=[10, 15, 8, 4, 2, 1],
                            fr_median=7200.0, fr_p90=50000.0, resolutions=30, res_met=27,
                            res_missed=3, res_median=90000.0, legal_total=30,
                            legal_breached=1, rating_sum=120, rating_count=30, open=10,
                            overdue=2, backlog=[4, 3, 1, 1, 1, 0]),
        "=EVIL": OpdTotals(tickets=3, answered=1, responses=2, target_sum=2 * 77400,
                           fr_met=1, fr_missed=1, distribution=[0, 1, 0, 0, 1, 0],
                           fr_median=20000.0, fr_p90=90000.0, open=1, overdue=1,
                           backlog=[0, 0, 0, 0, 0, 1]),
    }
    infos = [OpdInfo("DISHUB", name), OpdInfo("=EVIL", "=HYPERLINK(\"http://x\")")]
    weeks = [WeekTrend(date(2026, 10, 5) + timedelta(days=7 * i), 10 + i, 8 + i, 80.0 + i)
             for i in range(6)]
    return build_report(totals, infos, MetricSettings(min_tickets_for_rank=20),
                        start=date(2026, 10, 5), end=date(2026, 11, 15), weeks=weeks)


def test_csv_cells_that_start_a_formula_get_a_leading_quote() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(sample_report()))))
    header, data = rows[0], rows[1:]
    assert header[:3] == ["period_from", "period_to", "code"]
    evil = next(r for r in data if r[2].endswith("=EVIL"))
    assert evil[2] == "'=EVIL"
    assert evil[3] == "'=HYPERLINK(\"http://x\")"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in data for cell in row)


def test_html_escapes_every_value_and_references_no_external_asset() -> None:
    html = to_html(sample_report(), province="Provinsi <Uji>",
                   generated_at=datetime(2026, 11, 16, 8, 0, tzinfo=WIB))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "Provinsi &lt;Uji&gt;" in html
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<link""", html)
    assert html.count("<svg") == 3
    assert "Peringkat OPD" in html
    assert "@media print" in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium binary on PATH (apt-get install -y chromium)")
    page = tmp_path / "laporan.html"
    page.write_text(to_html(sample_report("Dinas Perhubungan"), province="Provinsi Uji",
                            generated_at=datetime(2026, 11, 16, 8, 0, tzinfo=WIB)),
                    encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    done = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1280,2200", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    # Offline rendering: any asset fetch would show up as a network error in the log.
    assert "ERR_FILE_NOT_FOUND" not in done.stderr
    assert "net::ERR" not in done.stderr


@pytest.mark.db
def test_laporan_sends_the_chart_picture_and_the_html_and_csv_documents(
        db_url: str, clock: FixedClock, engine: Engine, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    config = build_config(db_url, report={"reports_dir": str(tmp_path / "reports")})
    services = build_services(config, clock=clock, engine=engine)
    seed_demo(engine, calendar=services.calendar, sla=config.sla, ppid_code="PPID",
              tickets=120, days=30, now=clock(), seed=5)
    with services.uow() as uow:
        services.helpdesk.add_staff(uow, telegram_id=SUPERVISOR_ID, name="Sri",
                                    role=Role.SUPERVISOR, opd_code=None)
        uow.commit()
    dispatcher = Dispatcher(services)
    ids = dispatcher.handle(Inbound(channel="telegram", chat_id=SUPERVISOR_ID,
                                    user_id=SUPERVISOR_ID, text="/laporan", command="laporan",
                                    update_id=1))
    with services.session_factory() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids))
                               .order_by(OutboxRow.id)).all()
    kinds = [(r.template, (r.attachment or {}).get("kind")) for r in rows]
    assert kinds == [("supervisor/report_chart", "photo"), ("supervisor/report_file", "document"),
                     ("supervisor/report_file", "document")]
    paths = [Path(r.attachment["path"]) for r in rows if r.attachment]
    assert all(p.is_absolute() and p.exists() and p.stat().st_size > 0 for p in paths)
    assert [p.suffix for p in paths] == [".png", ".html", ".csv"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    text = services.renderer.render(rows[0].template, dict(rows[0].context))
    assert "Laporan responsivitas" in text
    # Anyone else is refused, and gets no figures.
    refused = dispatcher.handle(Inbound(channel="telegram", chat_id=CITIZEN_ID,
                                        user_id=CITIZEN_ID, text="/laporan",
                                        command="laporan", update_id=2))
    with services.session_factory() as session:
        templates = [r.template for r in session.scalars(
            select(OutboxRow).where(OutboxRow.id.in_(refused))).all()]
    assert templates == ["supervisor/refused"]
    services.dispose()


def test_report_table_has_defaults_and_rejects_unknown_keys_and_bad_weights() -> None:
    config = build_config()
    assert config.report.period_days == 30
    assert config.report.reminder_share == 0.75
    assert config.report.metrics.min_tickets_for_rank == 20
    assert sum(config.report.metrics.weights.values()) == pytest.approx(1.0)
    tuned = build_config(report={"min_tickets_for_rank": 5, "weights": {"satisfaction": 0.5},
                                 "digest_time": "off"})
    assert tuned.report.metrics.min_tickets_for_rank == 5
    assert tuned.report.metrics.weights["satisfaction"] == 0.5
    assert tuned.report.digest_time is None
    with pytest.raises(ConfigError, match=r"report\.colour"):
        build_config(report={"colour": "red"})
    with pytest.raises(ConfigError, match=r"report\.weights\.speed"):
        build_config(report={"weights": {"speed": 1}})
    with pytest.raises(ConfigError, match=r"report\.reminder_share"):
        build_config(report={"reminder_share": 1.5})


@pytest.mark.db
def test_ringkasan_shows_the_new_metrics_with_index_and_rank(
        db_url: str, clock: FixedClock, engine: Engine) -> None:
    config = build_config(db_url, report={"min_tickets_for_rank": 5})
    services = build_services(config, clock=clock, engine=engine)
    seed_demo(engine, calendar=services.calendar, sla=config.sla, ppid_code="PPID",
              tickets=150, days=25, now=clock(), seed=11)
    with services.uow() as uow:
        services.helpdesk.add_staff(uow, telegram_id=SUPERVISOR_ID, name="Sri",
                                    role=Role.SUPERVISOR, opd_code=None)
        uow.commit()
    ids = Dispatcher(services).handle(Inbound(
        channel="telegram", chat_id=SUPERVISOR_ID, user_id=SUPERVISOR_ID,
        text="/ringkasan bulan", command="ringkasan", args=("bulan",), update_id=3))
    with services.session_factory() as session:
        row = session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids))).one()
    text = services.renderer.render(row.template, dict(row.context))
    assert "Ringkasan bulan ini" in text
    assert "indeks" in text
    assert "peringkat 1" in text
    assert {r["code"] for r in row.context["rows"]} >= {"BAPENDA", "DISHUB", "DINSOS"}
    services.dispose()
