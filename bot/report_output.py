"""Report formats: text, JSON, CSV (formula-safe), self-contained HTML and a PNG chart."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.render import MONTHS, Renderer
from routing.metrics import (
    BACKLOG_LABELS,
    COMPONENTS,
    DISTRIBUTION_LABELS,
    OpdReport,
    Report,
)

FORMATS = ("text", "json", "csv", "html")
COMPONENT_LABELS = {
    "first_response": "Kecepatan tanggapan",
    "within_target": "Tepat target",
    "legal": "Patuh batas hukum",
    "backlog": "Antrean tidak terlambat",
    "satisfaction": "Kepuasan warga",
    "answered": "Tiket dijawab",
}
# Colour-blind-safe sequential palette (fast -> slow) and a neutral series colour.
BIN_COLOURS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027")
SERIES = "#2b6cb0"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_json(report: Report) -> str:
    """The JSON contract."""
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2)


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def to_text(report: Report) -> str:
    """A fixed-width table for the terminal."""
    head = (f"{'rank':>4}  {'OPD':<14} {'tickets':>7} {'answ':>6} {'FR med':>7} {'FR p90':>7} "
            f"{'res med':>8} {'in tgt%':>7} {'legal%':>6} {'open':>5} {'late':>5} "
            f"{'rating':>6} {'n':>5} {'index':>6}")
    lines = [f"Responsiveness report {report.start} .. {report.end} "
             f"(hours are working hours; rank needs >= {report.min_tickets_for_rank} tickets)",
             head, "-" * len(head)]
    for o in report.opds:
        lines.append(
            f"{o.rank if o.rank is not None else '-':>4}  {o.code:<14} {o.tickets:>7} "
            f"{o.answered:>6} {_num(o.first_response_median_hours):>7} "
            f"{_num(o.first_response_p90_hours):>7} {_num(o.resolution_median_hours):>8} "
            f"{_num(o.within_target_pct):>7} {_num(o.breached_legal_pct):>6} {o.open:>5} "
            f"{o.overdue:>5} {_num(o.rating_avg, 2):>6} {o.rating_count:>5} "
            f"{_num(o.index):>6}")
    weights = ", ".join(f"{k} {v:g}" for k, v in report.weights.items())
    lines.append("")
    lines.append(f"Index weights: {weights}")
    return "\n".join(lines)


def _safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formula injection: text starting with = + - @ gets a quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(report: Report) -> str:
    """One row per OPD: the JSON fields, then the index components."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period_from", "period_to", *OpdReport.JSON_KEYS,
                     *(f"component_{c}" for c in COMPONENTS)])
    for o in report.opds:
        row = [report.start.isoformat(), report.end.isoformat(),
               *(getattr(o, k) for k in OpdReport.JSON_KEYS),
               *(o.components.get(c) for c in COMPONENTS)]
        writer.writerow([_safe_cell(v) for v in row])
    return out.getvalue()


# -- HTML -----------------------------------------------------------------------------------

def _environment() -> Environment:
    env = Environment(loader=PackageLoader("bot", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html.j2", "html")),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["angka"] = Renderer.format_number
    return env


def _date_id(value: Any) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def distribution_chart(report: Report, width: int = 720) -> dict[str, Any]:
    """Stacked 100 % bars: share of first responses per time bin, one bar per OPD."""
    label_w, row_h, top = 130, 22, 10
    bar_w = width - label_w - 20
    rows = []
    for i, o in enumerate(o for o in report.opds if sum(o.distribution)):
        total = sum(o.distribution)
        x = float(label_w)
        segments = []
        for j, count in enumerate(o.distribution):
            w = bar_w * count / total
            if w > 0:
                segments.append({"x": round(x, 2), "w": round(w, 2), "colour": BIN_COLOURS[j],
                                 "title": f"{o.code} · {DISTRIBUTION_LABELS[j]}: {count} "
                                          f"({100 * count / total:.0f}%)"})
            x += w
        rows.append({"y": top + i * row_h, "label": o.code, "segments": segments,
                     "median": o.first_response_median_hours})
    height = top + len(rows) * row_h + 40
    legend = [{"x": label_w + k * (bar_w / len(DISTRIBUTION_LABELS)), "colour": BIN_COLOURS[k],
               "label": label} for k, label in enumerate(DISTRIBUTION_LABELS)]
    return {"width": width, "height": height, "rows": rows, "row_h": row_h - 6,
            "legend": legend, "legend_y": height - 22, "label_w": label_w}


def trend_chart(report: Report, width: int = 720, height: int = 240) -> dict[str, Any]:
    """Weekly tickets (bars) and share within target (line, right axis)."""
    left, right, top, bottom = 50, 50, 15, 45
    weeks = report.weeks
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((w.tickets for w in weeks), default=0) or 1
    step = plot_w / max(1, len(weeks))
    bars, points, labels = [], [], []
    every = max(1, len(weeks) // 10)
    for i, w in enumerate(weeks):
        x = left + i * step
        h = plot_h * w.tickets / peak
        bars.append({"x": round(x + step * 0.15, 2), "w": round(step * 0.7, 2),
                     "y": round(top + plot_h - h, 2), "h": round(h, 2),
                     "title": f"Minggu {_date_id(w.start)}: {w.tickets} tiket"})
        if w.within_target_pct is not None:
            points.append({"x": round(x + step / 2, 2),
                           "y": round(top + plot_h * (1 - w.within_target_pct / 100), 2),
                           "title": f"{w.within_target_pct:.1f}% tepat target"})
        if i % every == 0:
            labels.append({"x": round(x + step / 2, 2), "text": f"{w.start.day}/{w.start.month}"})
    line = " ".join(f"{p['x']},{p['y']}" for p in points)
    return {"width": width, "height": height, "left": left, "top": top, "plot_w": plot_w,
            "plot_h": plot_h, "bars": bars, "points": points, "line": line, "labels": labels,
            "peak": peak, "bottom_y": top + plot_h}


def backlog_chart(report: Report, width: int = 720, height: int = 220) -> dict[str, Any]:
    """Open tickets by age in working days (all OPDs together)."""
    left, top, bottom = 50, 15, 40
    totals = [0] * len(BACKLOG_LABELS)
    for o in report.opds:
        for i, n in enumerate(o.backlog):
            totals[i] += n
    plot_w, plot_h = width - left - 20, height - top - bottom
    peak = max(totals) or 1
    step = plot_w / len(totals)
    bars = []
    for i, n in enumerate(totals):
        h = plot_h * n / peak
        bars.append({"x": round(left + i * step + step * 0.15, 2), "w": round(step * 0.7, 2),
                     "y": round(top + plot_h - h, 2), "h": round(h, 2), "n": n,
                     "label": BACKLOG_LABELS[i], "cx": round(left + i * step + step / 2, 2),
                     "colour": BIN_COLOURS[min(i, len(BIN_COLOURS) - 1)]})
    return {"width": width, "height": height, "bars": bars, "bottom_y": top + plot_h,
            "left": left, "plot_w": plot_w}


def to_html(report: Report, *, province: str, generated_at: datetime) -> str:
    """One self-contained HTML file: inline CSS and SVG, no external assets."""
    template = _environment().get_template("report/report.html.j2")
    return template.render(
        report=report, province=province, start=_date_id(report.start),
        end=_date_id(report.end), generated=generated_at.strftime("%d-%m-%Y %H.%M"),
        components=[(c, COMPONENT_LABELS[c]) for c in COMPONENTS],
        distribution=distribution_chart(report), trend=trend_chart(report),
        backlog=backlog_chart(report), backlog_labels=BACKLOG_LABELS,
        total_open=sum(o.open for o in report.opds),
        total_overdue=sum(o.overdue for o in report.opds),
        total_tickets=sum(o.tickets for o in report.opds if not o.is_triage),
    )


def render(report: Report, fmt: str, *, province: str, generated_at: datetime) -> str:
    """The report in one of FORMATS."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report, province=province, generated_at=generated_at)
    return to_text(report)


# -- PNG (chat) -----------------------------------------------------------------------------

def to_png(report: Report, path: Path) -> Path:
    """The three charts as one picture (matplotlib, headless)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    opds = [o for o in report.opds if sum(o.distribution)][:20]
    fig, axes = plt.subplots(3, 1, figsize=(9, 12), dpi=110,
                             gridspec_kw={"height_ratios": [max(3, len(opds) * 0.35), 2, 2]})
    ax = axes[0]
    labels = [o.code for o in opds]
    lefts = [0.0] * len(opds)
    for j, label in enumerate(DISTRIBUTION_LABELS):
        shares = [100 * o.distribution[j] / sum(o.distribution) for o in opds]
        ax.barh(labels, shares, left=lefts, color=BIN_COLOURS[j], label=label)
        lefts = [a + b for a, b in zip(lefts, shares, strict=True)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% tanggapan pertama (jam kerja / hari kerja)")
    ax.set_title(f"Sebaran waktu tanggapan pertama per OPD, {_date_id(report.start)} – "
                 f"{_date_id(report.end)}")
    ax.legend(ncol=3, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, -0.32))

    ax = axes[1]
    weeks = report.weeks
    xs = [w.start.strftime("%d/%m") for w in weeks]
    ax.bar(xs, [w.tickets for w in weeks], color="#a3bffa", label="Tiket masuk")
    ax.set_ylabel("Tiket")
    ax.set_title("Tren mingguan")
    ax2 = ax.twinx()
    ax2.plot(xs, [w.within_target_pct if w.within_target_pct is not None else float("nan")
                  for w in weeks], color=SERIES, marker="o", label="% tepat target")
    ax2.set_ylim(0, 100)
    ax2.set_ylabel("% tepat target")
    step = max(1, len(xs) // 10)
    ax.set_xticks(range(0, len(xs), step))
    ax.set_xticklabels(xs[::step], fontsize=8)

    ax = axes[2]
    totals = [sum(o.backlog[i] for o in report.opds) for i in range(len(BACKLOG_LABELS))]
    ax.bar(BACKLOG_LABELS, totals, color=BIN_COLOURS)
    ax.set_title("Umur tiket terbuka (hari kerja)")
    ax.set_ylabel("Tiket terbuka")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
