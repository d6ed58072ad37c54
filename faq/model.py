"""Value objects of the FAQ matcher: entries, OPD profiles and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class FaqEntry:
    """One question an OPD answers, with alternative phrasings and keywords."""

    id: str
    opd: str
    question: str
    answer: str
    variants: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpdProfile:
    """What the matcher knows about an OPD for routing: its mandate in words."""

    code: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()


class DecisionKind(StrEnum):
    """What the bot should do with a citizen's message."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    ROUTE = "route"
    TRIAGE = "triage"
    SMALLTALK = "smalltalk"


@dataclass(frozen=True)
class Candidate:
    """A ranked FAQ candidate."""

    faq_id: str
    opd: str
    score: float

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form used by `sahut faq match --json`."""
        return {"faq_id": self.faq_id, "opd": self.opd, "score": round(self.score, 2)}


@dataclass(frozen=True)
class Decision:
    """The matcher's verdict on one message (the `sahut faq match --json` contract)."""

    text: str
    decision: DecisionKind
    faq_id: str | None = None
    opd: str | None = None
    score: float = 0.0
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form: text, decision, faq_id, opd, score, candidates."""
        return {
            "text": self.text,
            "decision": self.decision.value,
            "faq_id": self.faq_id,
            "opd": self.opd,
            "score": round(self.score, 2),
            "candidates": [c.to_json() for c in self.candidates],
        }
