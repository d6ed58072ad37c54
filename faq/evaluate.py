"""Offline evaluation of the matcher on labelled messages (dev.jsonl / dev-hard.jsonl format)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from faq.model import Decision, DecisionKind

__all__ = [
    "EXPECTS",
    "TARGETS",
    "EvalReport",
    "LabeledItem",
    "Metric",
    "Miss",
    "evaluate",
    "format_text",
    "load_labeled",
]

EXPECTS = ("faq", "route", "triage", "none")

TargetSet = Literal["dev", "hard"]


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is named, which items it counts over and its targets."""

    key: str
    label: str
    population: str  # "faq", "route", "triage", "none" or "all"
    higher_is_better: bool
    dev: float
    hard: float


#: The evaluation metrics, their populations and targets (percent) for dev.jsonl and dev-
#: hard.jsonl.
TARGETS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "faq_ranked_first",
        "right FAQ ranked first (answer or first candidate)",
        "faq",
        True,
        98,
        92,
    ),
    MetricSpec("faq_answered", "answered with the right FAQ", "faq", True, 92, 82),
    MetricSpec("faq_in_top3", "right FAQ answered or among <=3 candidates", "faq", True, 99, 96),
    MetricSpec(
        "wrong_answers", "wrong answers (answer with a wrong FAQ), all items", "all", False, 2, 3
    ),
    MetricSpec("route_right", "routed to the right OPD", "route", True, 90, 80),
    MetricSpec("misrouted", "misrouted (route to a wrong OPD)", "route", False, 5, 8),
    MetricSpec("triage", "sent to triage", "triage", True, 70, 50),
    MetricSpec("smalltalk", "kept out as smalltalk", "none", True, 95, 90),
)


@dataclass(frozen=True)
class LabeledItem:
    """One labelled message: what the bot is expected to do with it."""

    text: str
    expect: str
    faq_id: str | None = None
    opd: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Metric:
    """A computed metric with its target and verdict."""

    key: str
    label: str
    hits: int
    total: int
    target: float
    higher_is_better: bool

    @property
    def percent(self) -> float:
        """hits/total in percent (0 when there is nothing to count)."""
        return 100.0 * self.hits / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        """Whether the target is met (an empty population passes)."""
        if not self.total:
            return True
        return (
            self.percent >= self.target if self.higher_is_better else self.percent <= self.target
        )


@dataclass(frozen=True)
class Miss:
    """An item the matcher got wrong, with what it did instead."""

    line: int
    text: str
    expected: str
    got: str


@dataclass
class EvalReport:
    """Metrics plus the list of misses; JSON-ready via to_json()."""

    targets: str
    total: int
    counts: dict[str, int]
    metrics: list[Metric]
    misses: list[Miss] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every metric meets its target."""
        return all(m.passed for m in self.metrics)

    def metric(self, key: str) -> Metric:
        """Look a metric up by key."""
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        """Machine-readable report."""
        return {
            "targets": self.targets,
            "total": self.total,
            "counts": dict(self.counts),
            "passed": self.passed,
            "metrics": {
                m.key: {
                    "label": m.label,
                    "hits": m.hits,
                    "total": m.total,
                    "percent": round(m.percent, 2),
                    "target": m.target,
                    "higher_is_better": m.higher_is_better,
                    "passed": m.passed,
                }
                for m in self.metrics
            },
            "misses": [m.__dict__ for m in self.misses],
        }


class _Decider(Protocol):
    def decide(self, text: str, opd: str | None = None) -> Decision: ...


def load_labeled(path: str | Path) -> list[LabeledItem]:
    """Read labelled JSONL; raise ValueError('FILE:LINE: reason') on a malformed line."""
    path = Path(path)
    items: list[LabeledItem] = []
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line:
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: invalid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise ValueError(f"{where}: expected a JSON object")
            text = obj.get("text")
            expect = obj.get("expect")
            if not isinstance(text, str):
                raise ValueError(f"{where}: 'text' must be a string")
            if expect not in EXPECTS:
                raise ValueError(
                    f"{where}: 'expect' must be one of {', '.join(EXPECTS)}, got {expect!r}"
                )
            faq_id = obj.get("faq_id")
            opd = obj.get("opd")
            if expect == "faq" and not (isinstance(faq_id, str) and faq_id):
                raise ValueError(f"{where}: expect=faq needs a non-empty 'faq_id'")
            if expect == "route" and not (isinstance(opd, str) and opd):
                raise ValueError(f"{where}: expect=route needs a non-empty 'opd'")
            items.append(
                LabeledItem(
                    text=text,
                    expect=expect,
                    faq_id=faq_id if expect == "faq" else None,
                    opd=opd if expect == "route" else None,
                    line=number,
                )
            )
    return items


def _describe(d: Decision) -> str:
    parts = [d.decision.value]
    if d.faq_id:
        parts.append(d.faq_id)
    if d.opd:
        parts.append(d.opd)
    if d.candidates and d.decision is not DecisionKind.ANSWER:
        parts.append("[" + ", ".join(f"{c.faq_id} {c.score:.0f}" for c in d.candidates) + "]")
    parts.append(f"score={d.score:.0f}")
    return " ".join(parts)


def _judge(item: LabeledItem, d: Decision) -> dict[str, bool]:
    """Per-item outcomes; a key is absent when the item is not in that metric's population."""
    kind = d.decision
    answered = kind is DecisionKind.ANSWER
    out: dict[str, bool] = {
        "wrong_answers": answered and (item.expect != "faq" or d.faq_id != item.faq_id)
    }
    if item.expect == "faq":
        right_answer = answered and d.faq_id == item.faq_id
        # Candidates only count when they are what the citizen sees (not behind a confident
        # answer).
        shown = [] if answered else [c.faq_id for c in d.candidates[:3]]
        out["faq_answered"] = right_answer
        out["faq_ranked_first"] = right_answer or (bool(shown) and shown[0] == item.faq_id)
        out["faq_in_top3"] = right_answer or item.faq_id in shown
    elif item.expect == "route":
        routed = kind is DecisionKind.ROUTE
        # SUGGEST/ANSWER/TRIAGE on a route item is neither right nor a misroute: a person still
        # sees it.
        out["route_right"] = routed and d.opd == item.opd
        out["misrouted"] = routed and d.opd != item.opd
    elif item.expect == "triage":
        out["triage"] = kind is DecisionKind.TRIAGE
    else:
        out["smalltalk"] = kind is DecisionKind.SMALLTALK
    return out


def _expected(item: LabeledItem) -> str:
    if item.expect == "faq":
        return f"faq {item.faq_id}"
    if item.expect == "route":
        return f"route {item.opd}"
    return item.expect


def evaluate(
    matcher: _Decider, items: Sequence[LabeledItem], targets: TargetSet = "dev"
) -> EvalReport:
    """Run every item through matcher.decide(); compute metrics against dev or hard targets."""
    hits: dict[str, int] = {spec.key: 0 for spec in TARGETS}
    totals: dict[str, int] = {spec.key: 0 for spec in TARGETS}
    counts = {e: 0 for e in EXPECTS}
    misses: list[Miss] = []
    primary = {
        "faq": "faq_ranked_first",
        "route": "route_right",
        "triage": "triage",
        "none": "smalltalk",
    }
    for item in items:
        counts[item.expect] += 1
        decision = matcher.decide(item.text)
        outcome = _judge(item, decision)
        for key, value in outcome.items():
            totals[key] += 1
            hits[key] += int(value)
        bad = outcome["wrong_answers"] or not outcome[primary[item.expect]]
        if item.expect == "faq" and not outcome["faq_answered"]:
            bad = True
        if bad:
            misses.append(Miss(item.line, item.text, _expected(item), _describe(decision)))
    metrics = [
        Metric(
            key=spec.key,
            label=spec.label,
            hits=hits[spec.key],
            total=totals[spec.key],
            target=spec.dev if targets == "dev" else spec.hard,
            higher_is_better=spec.higher_is_better,
        )
        for spec in TARGETS
    ]
    return EvalReport(
        targets=targets, total=len(items), counts=counts, metrics=metrics, misses=misses
    )


def format_text(report: EvalReport, show_misses: bool = True) -> str:
    """Human-readable English summary: each metric with target and PASS/FAIL, then the misses."""
    target_name = "dev" if report.targets == "dev" else "dev-hard"
    lines = [
        f"Evaluated {report.total} items "
        + ", ".join(f"{k} {v}" for k, v in report.counts.items())
        + f" against {target_name} targets",
        "",
    ]
    width = max(len(m.label) for m in report.metrics)
    for m in report.metrics:
        sign = ">=" if m.higher_is_better else "<="
        verdict = "PASS" if m.passed else "FAIL"
        lines.append(
            f"  {m.label:<{width}}  {m.percent:6.1f}%  ({m.hits}/{m.total})"
            f"  target {sign} {m.target:g}%  {verdict}"
        )
    lines.append("")
    lines.append("Overall: " + ("PASS" if report.passed else "FAIL"))
    if show_misses and report.misses:
        lines.append("")
        lines.append(f"Misses ({len(report.misses)}):")
        for miss in report.misses:
            lines.append(f"  line {miss.line}: expected {miss.expected}; got {miss.got}")
            lines.append(f"    {miss.text}")
    return "\n".join(lines)


def iter_misses(report: EvalReport) -> Iterable[Miss]:
    """The misses of a report (convenience for the CLI)."""
    return iter(report.misses)
