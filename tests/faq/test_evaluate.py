"""Evaluation arithmetic on a hand-made set, input validation, and report formatting."""

from __future__ import annotations

from pathlib import Path

import pytest

from faq.evaluate import EvalReport, LabeledItem, evaluate, format_text, load_labeled
from faq.model import Candidate, Decision, DecisionKind


class Scripted:
    """A fake matcher that returns a fixed decision per text."""

    def __init__(self, decisions: dict[str, Decision]) -> None:
        self.decisions = decisions

    def decide(self, text: str, opd: str | None = None) -> Decision:
        return self.decisions[text]


def _c(faq_id: str, score: float = 50.0) -> Candidate:
    return Candidate(faq_id, faq_id.split("-")[0].upper(), score)


ITEMS = [
    LabeledItem("q1", "faq", faq_id="a-1", line=1),  # answered right
    LabeledItem("q2", "faq", faq_id="a-2", line=2),  # suggested, right one first
    LabeledItem("q3", "faq", faq_id="a-3", line=3),  # suggested, right one third
    LabeledItem(
        "q4", "faq", faq_id="a-4", line=4
    ),  # answered wrong (a-9), a-4 hidden in candidates
    LabeledItem("r1", "route", opd="DLH", line=5),  # routed right
    LabeledItem("r2", "route", opd="DLH", line=6),  # misrouted
    LabeledItem("r3", "route", opd="DLH", line=7),  # suggested: neither right nor misrouted
    LabeledItem("r4", "route", opd="DLH", line=8),  # answered: counts as a wrong answer
    LabeledItem("t1", "triage", line=9),
    LabeledItem("t2", "triage", line=10),  # routed instead
    LabeledItem("n1", "none", line=11),
]

DECISIONS = {
    "q1": Decision("q1", DecisionKind.ANSWER, "a-1", "A", 90, (_c("a-1"),)),
    "q2": Decision("q2", DecisionKind.SUGGEST, None, None, 40, (_c("a-2"), _c("a-5"))),
    "q3": Decision("q3", DecisionKind.SUGGEST, None, None, 40, (_c("a-5"), _c("a-6"), _c("a-3"))),
    "q4": Decision("q4", DecisionKind.ANSWER, "a-9", "A", 80, (_c("a-9"), _c("a-4"))),
    "r1": Decision("r1", DecisionKind.ROUTE, None, "DLH", 30),
    "r2": Decision("r2", DecisionKind.ROUTE, None, "PUPR", 30),
    "r3": Decision("r3", DecisionKind.SUGGEST, None, None, 30, (_c("a-1"),)),
    "r4": Decision("r4", DecisionKind.ANSWER, "a-1", "A", 60, (_c("a-1"),)),
    "t1": Decision("t1", DecisionKind.TRIAGE),
    "t2": Decision("t2", DecisionKind.ROUTE, None, "DLH", 20),
    "n1": Decision("n1", DecisionKind.SMALLTALK),
}


@pytest.fixture(scope="module")
def report() -> EvalReport:
    return evaluate(Scripted(DECISIONS), ITEMS)


def test_ranked_first_counts_right_answers_and_first_candidates(report: EvalReport) -> None:
    m = report.metric("faq_ranked_first")
    assert (m.hits, m.total) == (2, 4)


def test_answered_counts_only_answer_decisions_with_the_right_faq(report: EvalReport) -> None:
    m = report.metric("faq_answered")
    assert (m.hits, m.total) == (1, 4)


def test_top3_counts_shown_candidates_but_not_ones_behind_a_wrong_answer(
    report: EvalReport,
) -> None:
    m = report.metric("faq_in_top3")
    assert (m.hits, m.total) == (3, 4)


def test_wrong_answers_are_counted_over_all_items(report: EvalReport) -> None:
    m = report.metric("wrong_answers")
    assert (m.hits, m.total) == (2, 11)
    assert m.percent == pytest.approx(100 * 2 / 11)


def test_route_right_and_misrouted_use_route_items_only(report: EvalReport) -> None:
    assert (report.metric("route_right").hits, report.metric("route_right").total) == (1, 4)
    assert (report.metric("misrouted").hits, report.metric("misrouted").total) == (1, 4)


def test_triage_and_smalltalk_rates(report: EvalReport) -> None:
    assert (report.metric("triage").hits, report.metric("triage").total) == (1, 2)
    assert (report.metric("smalltalk").hits, report.metric("smalltalk").total) == (1, 1)


def test_lower_is_better_metrics_pass_below_target() -> None:
    ok = evaluate(Scripted({"n1": Decision("n1", DecisionKind.SMALLTALK)}), [ITEMS[-1]])
    assert ok.metric("wrong_answers").passed
    assert ok.metric("misrouted").passed  # empty population passes


def test_hard_targets_are_selectable(report: EvalReport) -> None:
    hard = evaluate(Scripted(DECISIONS), ITEMS, targets="hard")
    assert hard.metric("faq_answered").target == 82
    assert report.metric("faq_answered").target == 92


def test_report_json_and_text(report: EvalReport) -> None:
    data = report.to_json()
    assert data["metrics"]["faq_answered"]["hits"] == 1
    assert data["counts"] == {"faq": 4, "route": 4, "triage": 2, "none": 1}
    text = format_text(report)
    assert "answered with the right FAQ" in text
    assert "FAIL" in text
    assert "Misses" in text
    assert "line 4" in text


def test_load_labeled_reads_valid_lines(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text(
        '{"text": "a", "expect": "faq", "faq_id": "x-1"}\n\n'
        '{"text": "b", "expect": "route", "opd": "DLH"}\n'
        '{"text": "c", "expect": "triage"}\n{"text": "d", "expect": "none"}\n',
        encoding="utf-8",
    )
    items = load_labeled(path)
    assert [i.expect for i in items] == ["faq", "route", "triage", "none"]
    assert items[1].opd == "DLH"
    assert items[1].line == 3


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"text": 5, "expect": "none"}', "'text' must be a string"),
        ('{"text": "a", "expect": "maybe"}', "'expect' must be one of"),
        ('{"text": "a", "expect": "faq"}', "needs a non-empty 'faq_id'"),
        ('{"text": "a", "expect": "route"}', "needs a non-empty 'opd'"),
    ],
)
def test_load_labeled_names_file_and_line_of_bad_input(
    tmp_path: Path, line: str, reason: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "expect": "none"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad\.jsonl:2: .*{reason}"):
        load_labeled(path)
