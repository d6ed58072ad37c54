"""Accuracy on the shared labelled sets: agreed targets and regression floors."""

from __future__ import annotations

import pytest

from faq.evaluate import EvalReport, evaluate, format_text, load_labeled
from faq.matcher import FaqMatcher

from .conftest import require_data

# Levels measured with the shipped defaults (see docs/faq-matching.md), minus a little slack.
# A change that drops below these is a regression even where the agreed target is not met yet.
FLOORS = {
    "dev.jsonl": {
        "faq_ranked_first": 98.0,
        "faq_answered": 92.0,
        "faq_in_top3": 99.0,
        "wrong_answers": 2.0,
        "route_right": 93.0,
        "misrouted": 2.0,
        "triage": 70.0,
        "smalltalk": 95.0,
    },
    "dev-hard.jsonl": {
        "faq_ranked_first": 92.5,
        "faq_answered": 82.0,
        "faq_in_top3": 96.0,
        "wrong_answers": 3.0,
        "route_right": 88.0,
        "misrouted": 3.0,
        "triage": 80.0,
        "smalltalk": 95.0,
    },
}

_CACHE: dict[str, EvalReport] = {}


def _report(matcher: FaqMatcher, name: str) -> EvalReport:
    if name not in _CACHE:
        data = require_data()
        targets = "hard" if "hard" in name else "dev"
        _CACHE[name] = evaluate(matcher, load_labeled(data / name), targets=targets)  # type: ignore[arg-type]
    return _CACHE[name]


@pytest.mark.parametrize("name", ["dev.jsonl", "dev-hard.jsonl"])
def test_accuracy_does_not_regress_below_measured_floors(
    corpus_matcher: FaqMatcher, name: str
) -> None:
    report = _report(corpus_matcher, name)
    bad = []
    for m in report.metrics:
        floor = FLOORS[name][m.key]
        ok = m.percent >= floor if m.higher_is_better else m.percent <= floor
        if not ok:
            bad.append(f"{m.key} {m.percent:.1f}% (floor {floor}%)")
    assert not bad, "; ".join(bad) + "\n" + format_text(report, show_misses=False)


@pytest.mark.parametrize("name", ["dev.jsonl", "dev-hard.jsonl"])
def test_labelled_set_meets_agreed_targets(corpus_matcher: FaqMatcher, name: str) -> None:
    report = _report(corpus_matcher, name)
    failing = [m.key for m in report.metrics if not m.passed]
    assert not failing, format_text(report, show_misses=False)
