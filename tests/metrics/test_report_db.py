"""`sahut report --format json` on seed-demo data equals a replay of the raw audit events."""

from __future__ import annotations

import io
import json
import statistics
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.services import Services
from db.models import OpdRow, TicketEventRow, TicketRow
from db.seed import seed_demo
from routing.sla import SlaConfig
from routing.tickets import TicketKind
from routing.worktime import WorkingCalendar
from tests.builders import FixedClock, write_config

pytestmark = pytest.mark.db

ACTIVE = {"open", "claimed", "answered", "waiting"}


@dataclass
class Stretch:
    opd: str
    entered: datetime
    paused: float = 0.0
    first_response: float | None = None
    held: float | None = None


@dataclass
class Replay:
    """One ticket rebuilt from its events alone, with the calendar."""

    kind: str
    tier: str | None
    created: datetime
    stretches: list[Stretch] = field(default_factory=list)
    state: str = "open"
    paused: float = 0.0
    pause_start: datetime | None = None
    resolution: float | None = None
    rating: int | None = None
    extended: bool = False
    ever_answered: bool = False


def replay(events: list[TicketEventRow], kind: str, tier: str | None,
           cal: WorkingCalendar) -> Replay:
    w = cal.working_seconds
    r = Replay(kind, tier, events[0].at)

    def end_pause(at: datetime) -> None:
        if r.pause_start is not None:
            p = w(r.pause_start, at)
            r.stretches[-1].paused += p
            r.paused += p
            r.pause_start = None

    for e in events:
        cur = r.stretches[-1] if r.stretches else None
        if e.type == "opened":
            r.stretches.append(Stretch(e.opd_code, e.at))
        elif e.type == "answered":
            assert cur is not None
            end_pause(e.at)
            if e.actor_kind == "staff":
                r.ever_answered = True
                if cur.first_response is None:
                    cur.first_response = w(cur.entered, e.at) - cur.paused
        elif e.type == "waiting":
            r.pause_start = e.at
        elif e.type == "resumed":
            end_pause(e.at)
        elif e.type in ("transferred", "closed", "rejected"):
            assert cur is not None
            end_pause(e.at)
            cur.held = w(cur.entered, e.at) - cur.paused
            if e.type == "transferred":
                r.stretches.append(Stretch(e.data["to_opd"], e.at))
            if e.type == "closed":
                r.resolution = w(r.created, e.at) - r.paused
        elif e.type == "reopened":
            assert cur is not None
            r.resolution = None
            r.stretches.append(Stretch(cur.opd, e.at))
        elif e.type == "rated":
            r.rating = e.data["rating"]
        elif e.type == "extended":
            r.extended = True
        r.state = e.to_state
    return r


def targets(r: Replay, sla: SlaConfig, day: float) -> tuple[float, float, float | None]:
    kind = sla.kinds[TicketKind(r.kind)]
    if r.kind == "pengaduan":
        res = sla.complaint_tiers.get(r.tier or sla.default_complaint_tier,
                                      kind.resolution_days)
        return kind.first_response_days * day, res * day, res * day
    legal = None if kind.legal_days is None else (
        kind.legal_days + (kind.extension_days if r.extended else 0))
    return (kind.first_response_days * day, kind.resolution_days * day,
            None if legal is None else legal * day)


def independent_report(services: Services, now: datetime) -> dict[str, dict[str, Any]]:
    cal, sla = services.calendar, services.config.sla
    day = cal.standard_day_seconds
    w = cal.working_seconds
    with services.session_factory() as session:
        tickets = {t.id: t for t in session.scalars(select(TicketRow)).all()}
        by_ticket: dict[int, list[TicketEventRow]] = {}
        for e in session.scalars(select(TicketEventRow).order_by(TicketEventRow.at,
                                                                 TicketEventRow.id)):
            by_ticket.setdefault(e.ticket_id, []).append(e)
        triage = set(session.scalars(select(OpdRow.code).where(OpdRow.is_ppid_utama)).all())
    acc: dict[str, dict[str, Any]] = {}

    def get(code: str) -> dict[str, Any]:
        return acc.setdefault(code, {"held": set(), "answered": set(), "responses": [],
                                     "met": 0, "missed": 0, "resolutions": [],
                                     "legal": 0, "breached": 0, "ratings": [], "open": 0,
                                     "overdue": 0})

    for tid, events in by_ticket.items():
        t = tickets[tid]
        r = replay(events, t.kind, t.tier, cal)
        fr_target, res_target, legal = targets(r, sla, day)
        active = r.state in ACTIVE
        running = w(r.pause_start, now) if r.pause_start is not None else 0.0
        age = max(0.0, w(r.created, now) - r.paused - running)
        for s in r.stretches:
            a = get(s.opd)
            a["held"].add(tid)
            response = s.first_response if s.first_response is not None else s.held
            if s.first_response is not None or (s.opd in triage and response is not None):
                a["answered"].add(tid)
            if response is not None:
                a["responses"].append(response)
                a["met" if response <= fr_target else "missed"] += 1
            elif active and w(s.entered, now) - s.paused - running > fr_target:
                a["missed"] += 1
        owner = get(r.stretches[-1].opd)
        if r.rating is not None:
            owner["ratings"].append(r.rating)
        if r.resolution is not None:
            owner["resolutions"].append(r.resolution)
            owner["met" if r.resolution <= res_target else "missed"] += 1
            if legal is not None:
                owner["legal"] += 1
                owner["breached"] += r.resolution > legal
        elif active:
            owner["missed"] += age > res_target
            if legal is not None:
                owner["legal"] += 1
                owner["breached"] += age > legal
        if active:
            owner["open"] += 1
            owner["overdue"] += age > res_target or (not r.ever_answered and age > fr_target)

    def hours(values: list[float], q: float) -> float | None:
        if not values:
            return None
        if len(values) == 1:
            return round(values[0] / 3600, 2)
        if q == 0.5:
            return round(statistics.median(values) / 3600, 2)
        return round(statistics.quantiles(values, n=10, method="inclusive")[8] / 3600, 2)

    def pct(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    out = {}
    for code, a in acc.items():
        out[code] = {
            "tickets": len(a["held"]), "answered": len(a["answered"]),
            "first_response_median_hours": hours(a["responses"], 0.5),
            "first_response_p90_hours": hours(a["responses"], 0.9),
            "resolution_median_hours": hours(a["resolutions"], 0.5),
            "within_target_pct": pct(a["met"], a["met"] + a["missed"]),
            "breached_legal_pct": pct(a["breached"], a["legal"]),
            "open": a["open"], "overdue": a["overdue"],
            "rating_avg": round(sum(a["ratings"]) / len(a["ratings"]), 2)
            if a["ratings"] else None,
            "rating_count": len(a["ratings"]),
        }
    return out


def test_report_json_equals_the_numbers_replayed_from_the_raw_events(
        services: Services, clock: FixedClock, db_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = clock()
    result = seed_demo(services.engine, calendar=services.calendar, sla=services.config.sla,
                       ppid_code="PPID", tickets=400, days=60, now=now, seed=7)
    assert result.tickets == 400
    config = write_config(tmp_path / "config.toml", db_url)
    monkeypatch.setattr("bot.services.system_clock", clock)
    local_today = now.astimezone(services.calendar.tz).date()
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--config", str(config), "report", "--from",
                     (local_today - timedelta(days=70)).isoformat(), "--to",
                     local_today.isoformat(), "--format", "json"])
    assert code == 0
    report = json.loads(out.getvalue())
    assert report["period"] == {"from": (local_today - timedelta(days=70)).isoformat(),
                                "to": local_today.isoformat()}
    expected = independent_report(services, now)
    lines = {o["code"]: o for o in report["opd"]}
    assert set(expected) <= set(lines)
    for code, numbers in expected.items():
        got = {k: lines[code][k] for k in numbers}
        assert got == pytest.approx(numbers, abs=0.011), code
    # The contract: exactly these keys, rank null below the minimum, ranks among the rest.
    keys = ["code", "name", "tickets", "answered", "first_response_median_hours",
            "first_response_p90_hours", "resolution_median_hours", "within_target_pct",
            "breached_legal_pct", "open", "overdue", "rating_avg", "rating_count", "index",
            "rank"]
    assert all(list(o) == keys for o in report["opd"])
    minimum = services.config.report.metrics.min_tickets_for_rank
    assert all(o["rank"] is None for o in report["opd"] if o["tickets"] < minimum)
    ranked = sorted((o for o in report["opd"] if o["rank"] is not None),
                    key=lambda o: o["rank"])
    assert [o["index"] for o in ranked] == sorted((o["index"] for o in ranked), reverse=True)


def test_report_for_one_opd_and_a_period_without_tickets(
        services: Services, clock: FixedClock, db_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seed_demo(services.engine, calendar=services.calendar, sla=services.config.sla,
              ppid_code="PPID", tickets=50, days=20, now=clock(), seed=3)
    config = write_config(tmp_path / "config.toml", db_url)
    monkeypatch.setattr("bot.services.system_clock", clock)
    assert main(["--config", str(config), "report", "--opd", "dishub", "--format",
                 "json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert [o["code"] for o in one["opd"]] == ["DISHUB"]
    assert one["period"]["to"] == date(2026, 11, 23).isoformat()
    assert main(["--config", str(config), "report", "--from", "2020-01-01", "--to",
                 "2020-01-31", "--format", "csv"]) == 0
    assert "DISHUB" in capsys.readouterr().out
    assert main(["--config", str(config), "report", "--opd", "NOPE"]) == 1
