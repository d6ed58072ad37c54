"""FAQ matching and routing: rank FAQs, decide answer/suggest/route/triage/smalltalk."""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from rapidfuzz import fuzz, process

from faq.model import Candidate, Decision, DecisionKind, FaqEntry, OpdProfile
from faq.normalize import (
    DEFAULT_MAX_CHARS,
    Normalizer,
    Resources,
    load_resources,
    skeleton,
    sound_variants,
)

__all__ = ["FaqMatcher", "MatchSettings", "Signals"]


@dataclass(frozen=True)
class MatchSettings:
    """Tunable knobs of the matcher; each field is one key of the [faq] table in config.toml."""

    #: Minimum score (0-100) of the best FAQ to answer it directly.
    answer_threshold: float = 40.0
    #: Minimum lead (score points) of the best FAQ over the next one to answer directly.
    answer_margin: float = 0.0
    #: Minimum score of the best FAQ to offer candidates for the citizen to pick.
    suggest_threshold: float = 35.0
    #: Minimum OPD confidence (0-100) to route a ticket to one OPD.
    route_threshold: float = 10.0
    #: Minimum lead of the best OPD over the second, in percent of the best OPD's score, to route.
    route_margin: float = 15.0
    #: How many candidates to return at most.
    max_candidates: int = 3
    #: Candidates scoring below this fraction of the best one are not shown.
    candidate_min_ratio: float = 0.55
    #: A message whose concrete-case score reaches this is a report to act on (route), not a
    #: question.
    case_threshold: float = 3.0
    #: How much each information-request word (bagaimana, cara, di mana, syarat, ...) offsets case
    #: evidence.
    question_weight: float = 2.5
    #: Out-of-remit score (BPN, PLN, dana desa, ...) from which an unanswered message goes to
    #: triage.
    out_of_remit_threshold: float = 1.5
    #: Extra score the best FAQ needs to be answered when the message also names an out-of-remit
    #: topic.
    out_of_remit_penalty: float = 20.0
    #: Extra OPD confidence needed to route a message that does not read like a concrete case.
    route_without_case_penalty: float = 5.0
    #: Spam/promotion weight from which a message is smalltalk.
    spam_threshold: float = 3.0
    #: Share of chit-chat words from which a weakly matching message is smalltalk.
    smalltalk_ratio: float = 0.6
    #: Weight of the best FAQ score of an OPD (its FAQ neighbourhood) in that OPD's routing
    #: confidence.
    route_faq_weight: float = 0.25
    #: Weight of the similarity to the OPD profile (mandate, FAQ words, examples) in routing
    #: confidence.
    route_profile_weight: float = 1.0
    #: Weight of the built-in mandate words (faq/data/opd_keywords.tsv) in an OPD's routing
    #: profile.
    mandate_keyword_weight: float = 3.0
    #: Weight of staff-confirmed (text, OPD) routing examples relative to the FAQ neighbourhood.
    routing_example_weight: float = 1.0
    #: Minimum rapidfuzz ratio (0-100) for a misspelt word to be read as an index word.
    fuzzy_min_similarity: float = 80.0
    #: Messages are truncated to this many characters.
    max_input_chars: int = DEFAULT_MAX_CHARS
    #: BM25 term-frequency saturation.
    bm25_k1: float = 1.2
    #: BM25 length normalisation.
    bm25_b: float = 0.5
    #: Weight of character 3-5-gram similarity in the blended score (the rest is word similarity).
    char_weight: float = 0.4
    #: Term weight of FAQ keywords relative to the question text.
    keyword_weight: float = 1.5
    #: Term weight of FAQ answer text relative to the question text (answers add vocabulary).
    answer_text_weight: float = 0.25
    #: How many word-retrieved FAQs are re-scored with character n-grams.
    rerank_depth: int = 10
    #: Posting entries visited per message before commoner terms stop adding new candidates (speed
    #: bound).
    posting_budget: int = 600
    #: Postings kept per term for candidate generation (its highest-weighted FAQs; speed bound).
    champion_list_size: int = 100


_NUM_RE = re.compile(r"\d")
_CAP_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}")
_SINCE = frozenset({"sudah", "sejak", "selama", "hampir", "lewat", "lebih"})
_TIME_UNITS = frozenset(
    {
        "hari",
        "minggu",
        "bulan",
        "tahun",
        "jam",
        "seminggu",
        "sebulan",
        "setahun",
        "semester",
        "malam",
    }
)
_PLEASE = frozenset({"tolong", "mohon", "minta", "harap", "segera"})
# Words of an information request ("how/where/what do I need"), which a complaint rarely contains.
_ASK = frozenset(
    {
        "bagaimana",
        "cara",
        "caranya",
        "mana",
        "berapa",
        "syarat",
        "prosedur",
        "langkah",
        "apakah",
        "bisakah",
        "siapa",
    }
)
_INTENT = frozenset(
    {
        "bagaimana",
        "cara",
        "caranya",
        "syarat",
        "persyaratan",
        "prosedur",
        "mana",
        "berapa",
        "kapan",
        "apakah",
        "apa",
        "siapa",
        "bisakah",
        "info",
        "informasi",
        "tanya",
        "kenapa",
        "mengapa",
        "jadwal",
    }
)


def _ngrams(word: str) -> list[str]:
    padded = f" {word} "
    out: list[str] = []
    for n in (3, 4, 5):
        if len(padded) < n:
            continue
        out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


@dataclass
class Signals:
    """Intermediate evidence about a message, exposed for debugging and tuning."""

    tokens: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    smalltalk_share: float = 0.0
    spam: float = 0.0
    case: float = 0.0
    out_of_remit: float = 0.0
    intent: bool = False
    ask: float = 0.0
    opd_scores: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _Analysis:
    text: str
    opd: str | None
    scored: list[tuple[int, float]]
    sig: Signals
    topical: int
    topical_top: float


_AFFIX_START = ("me", "di", "ke", "be", "te", "pe", "se")
_AFFIX_END = ("kan", "an", "i", "nya", "lah", "kah", "tah", "pun", "ku", "mu")


class _Stemmer:
    """Sastrawi stemmer when installed, else a no-op; always cached per word."""

    def __init__(self, protected: frozenset[str]) -> None:
        self._protected = protected
        self._cache: dict[str, str] = {}
        try:
            from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

            self._impl = StemmerFactory().create_stemmer()
        except Exception:  # pragma: no cover - optional dependency
            self._impl = None

    def __call__(self, word: str) -> str:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        if (
            self._impl is None
            or word in self._protected
            or len(word) <= 3
            or not word.isalpha()
            or not (word.startswith(_AFFIX_START) or word.endswith(_AFFIX_END))
        ):
            # Sastrawi costs ~0.5 ms per unseen word; a word with no affix has nothing to strip.
            out = word
        else:
            out = self._impl.stem(word) or word
        if len(self._cache) < 200_000:
            self._cache[word] = out
        return out


# Colloquial and regional affixes (Betawi -in, Javanese -ne/dipun-, Sundanese -na, Minang ma-/ba-,
# ...)
# tried when a word is unknown; the stripped form must be an index word to count.
_PREFIXES = (
    "dipun",
    "nge",
    "ng",
    "ny",
    "mang",
    "mam",
    "man",
    "ma",
    "ba",
    "ta",
    "di",
    "ka",
    "sa",
    "pa",
    "m",
    "n",
)
_SUFFIXES = (
    "ipun",
    "nipun",
    "ken",
    "aken",
    "in",
    "nye",
    "ne",
    "e",
    "na",
    "nyo",
    "nya",
    "an",
    "kan",
    "i",
)


class FaqMatcher:
    """An immutable, pre-built index over FAQ entries and OPD profiles."""

    def __init__(self) -> None:  # use FaqMatcher.build()
        self.settings = MatchSettings()
        self.res: Resources = load_resources()
        self.norm = Normalizer(self.res)
        self.entries: list[FaqEntry] = []
        self.opds: dict[str, OpdProfile] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        entries: Iterable[FaqEntry],
        opds: Iterable[OpdProfile],
        settings: MatchSettings = MatchSettings(),
        routing_examples: Iterable[tuple[str, str]] = (),
    ) -> FaqMatcher:
        """Index the FAQs once; matching afterwards never rescans raw strings."""
        matcher = cls()
        matcher._build_index(entries, opds, settings, routing_examples)
        return matcher

    def _build_index(
        self,
        entries: Iterable[FaqEntry],
        opds: Iterable[OpdProfile],
        settings: MatchSettings,
        routing_examples: Iterable[tuple[str, str]],
    ) -> None:
        self.settings = settings
        self.entries = list(entries)
        self.opds = {o.code: o for o in opds}
        for e in self.entries:
            self.opds.setdefault(e.opd, OpdProfile(code=e.opd, name=e.opd))
        self._stem = _Stemmer(self.res.protected)
        self._syn = {self._stem(k): self._stem(v) for k, v in self.res.synonyms.items()}
        self._oor_stems = {tuple(map(self._stem, k)): v for k, v in self.res.out_of_remit.items()}
        self._case_stems = {tuple(map(self._stem, k)): v for k, v in self.res.case_markers.items()}
        self._single_lex = {
            k[0]: v[0] for k, v in self.res.lexicon.items() if len(k) == 1 and len(v) == 1
        }
        self._drop = self.res.stopwords | self.res.address
        s = settings

        # Per-FAQ weighted term frequencies (BM25F-like: fields weigh differently).
        doc_tf: list[dict[str, float]] = []
        surface: dict[str, str] = {}
        self._phrasings: list[list[str]] = []
        char_bags: list[dict[str, float]] = []
        for e in self.entries:
            tf: dict[str, float] = defaultdict(float)
            phr: list[str] = []
            char_tf: dict[str, float] = defaultdict(float)
            for text, weight, is_phrasing in (
                [(e.question, 1.0, True)]
                + [(v, 1.0, True) for v in e.variants]
                + [(k, s.keyword_weight, True) for k in e.keywords]
                + [(e.answer, s.answer_text_weight, False)]
            ):
                toks = self.norm.tokens(text, 100_000)
                terms = self._terms(toks)
                for t in terms:
                    tf[t] += weight
                for tok in toks:
                    if tok not in surface and tok.isalpha():
                        st = self._stem(tok)
                        surface[tok] = self._syn.get(st, st)
                if is_phrasing:
                    phr.append(" ".join(terms))
                    for t in terms:
                        for g in _ngrams(t):
                            char_tf[g] += weight
            doc_tf.append(dict(tf))
            self._phrasings.append(phr)
            char_bags.append(dict(char_tf))
        self._doc_tf = doc_tf
        n = max(len(doc_tf), 1)
        self._n_docs = n
        df: dict[str, int] = defaultdict(int)
        for tf in doc_tf:
            for t in tf:
                df[t] += 1
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)
        lengths = [sum(tf.values()) for tf in doc_tf]
        avg = (sum(lengths) / len(lengths)) if lengths else 1.0
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._doc_weights: list[dict[str, float]] = []
        for i, tf in enumerate(doc_tf):
            norm = s.bm25_k1 * (1 - s.bm25_b + s.bm25_b * lengths[i] / (avg or 1.0))
            weights = {}
            for t, f in tf.items():
                w = f * (s.bm25_k1 + 1) / (f + norm)
                weights[t] = w
                self._postings[t].append((i, w))
            self._doc_weights.append(weights)
        # Champion lists: each term's postings by weight, best first; candidate generation reads
        # only the
        # head, exact scores are then computed for the few candidates from the per-document
        # weights.
        self._postings = {
            t: sorted(plist, key=lambda p: -p[1])[: s.champion_list_size]
            for t, plist in self._postings.items()
        }
        # Character n-gram TF-IDF (l2-normalised), used to re-score word-retrieved candidates.
        cdf: dict[str, int] = defaultdict(int)
        for bag in char_bags:
            for g in bag:
                cdf[g] += 1
        self._cidf = {g: math.log((n + 1) / (c + 0.5)) for g, c in cdf.items()}
        self._char_vecs: list[dict[str, float]] = []
        for bag in char_bags:
            vec = {g: (1 + math.log(1 + f)) * self._cidf[g] for g, f in bag.items()}
            nrm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            self._char_vecs.append({g: v / nrm for g, v in vec.items()})
        self._gram_cache: dict[str, tuple[str, ...]] = {}
        self._doc_opd = [e.opd for e in self.entries]
        self._by_opd: dict[str, list[int]] = defaultdict(list)
        for i, code in enumerate(self._doc_opd):
            self._by_opd[code].append(i)

        # Vocabulary helpers for typo-tolerant lookup.
        self._vocab = sorted(self._idf)
        self._vocab_set = frozenset(self._vocab)
        # Surface word -> index term, so fallbacks can test spellings without calling the stemmer.
        self._surface = {w: t for w, t in surface.items() if t in self._vocab_set}
        self._skeletons: dict[str, str] = {}
        for t in sorted(self._vocab, key=lambda w: -df[w]):
            if t.isalpha() and len(t) >= 3:
                self._skeletons.setdefault(skeleton(t), t)
        self._expand_cache: dict[str, tuple[tuple[str, float], ...]] = {}
        # Fuzzy lookup buckets by (first letter, length): a typo rarely changes the first letter,
        # and
        # ratio >= 80 bounds the length difference, so each lookup scans a small slice of the
        # vocabulary.
        self._buckets: dict[tuple[str, int], list[str]] = defaultdict(list)
        for t in self._vocab:
            if t.isalpha() and len(t) >= 3:
                self._buckets[(t[0], len(t))].append(t)
        self.norm.add_known(self._vocab)

        # OPD profiles: their mandate words plus the words of their FAQs (the FAQ neighbourhood).
        self._opd_codes = sorted(self.opds)
        self._opd_vecs: dict[str, dict[str, float]] = {}
        self._build_opd_profiles(routing_examples)

    def _build_opd_profiles(self, routing_examples: Iterable[tuple[str, str]]) -> None:
        bags: dict[str, dict[str, float]] = {c: defaultdict(float) for c in self._opd_codes}
        for i, tf in enumerate(self._doc_tf):
            bag = bags[self._doc_opd[i]]
            for t, f in tf.items():
                bag[t] += f
        for code, prof in self.opds.items():
            bag = bags[code]
            for text in (prof.name, prof.description, *prof.keywords):
                for t in self._terms(self.norm.tokens(text, 100_000)):
                    bag[t] += 1.5
            # The agency's own code and short name ("BKD", "dinsos") name it outright.
            bag[code.lower()] += self.settings.mandate_keyword_weight
            for text in self.res.opd_keywords.get(code, ()):
                for t in self._terms(self.norm.tokens(text)):
                    bag[t] += self.settings.mandate_keyword_weight
        # Staff-confirmed routings: their own small index so they also act as nearest neighbours.
        self._examples: list[tuple[dict[str, float], str]] = []
        for text, code in routing_examples:
            if code not in bags:
                bags[code] = defaultdict(float)
                self._opd_codes.append(code)
            terms = self._terms(self.norm.tokens(text))
            vec: dict[str, float] = defaultdict(float)
            for t in terms:
                bags[code][t] += self.settings.routing_example_weight
                vec[t] += 1.0
            self._examples.append((dict(vec), code))
        # IDF over OPD profiles: a word every OPD uses says nothing about which one is responsible.
        n_opd = len(bags) or 1
        odf: dict[str, int] = defaultdict(int)
        for bag in bags.values():
            for t in bag:
                odf[t] += 1
        self._route_idf = {t: math.log(1 + n_opd / c) for t, c in odf.items()}
        self._route_vocab = frozenset(self._route_idf)
        for code, bag in bags.items():
            vec = {t: (1 + math.log(1 + f)) * self._route_idf[t] for t, f in bag.items()}
            nrm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            self._opd_vecs[code] = {t: v / nrm for t, v in vec.items()}
        # Inverted form (term -> OPDs) so a message touches only the OPDs sharing its words.
        opd_post: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for code, vec in self._opd_vecs.items():
            for t, v in vec.items():
                opd_post[t].append((code, v))
        self._opd_postings = dict(opd_post)
        # Example vectors are weighted with the same routing IDF.
        self._examples = [
            (self._unit({t: w * self._route_idf.get(t, 1.0) for t, w in vec.items()}), code)
            for vec, code in self._examples
        ]

    @staticmethod
    def _unit(vec: dict[str, float]) -> dict[str, float]:
        nrm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / nrm for t, v in vec.items()}

    def _terms(self, tokens: Sequence[str]) -> list[str]:
        drop = self._drop
        stem = self._stem
        syn = self._syn
        out = []
        for t in tokens:
            if t in drop or t.isdigit() or t.startswith("_"):
                continue
            st = stem(t)
            out.append(syn.get(st, st))
        return out

    # ------------------------------------------------------------------ query side
    def _expand(self, term: str) -> tuple[tuple[str, float], ...]:
        """Index terms a query term stands for, with a confidence weight (cached)."""
        if term in self._vocab_set:
            return ((term, 1.0),)
        hit = self._expand_cache.get(term)
        if hit is not None:
            return hit
        out: tuple[tuple[str, float], ...] = ()
        if term in self.res.protected or len(term) < 3 or not term.isalpha():
            out = ()
        else:
            out = (
                self._affix_fallback(term)
                or self._sound_fallback(term)
                or self._skeleton_fallback(term)
                or self._fuzzy(term)
            )
        if len(self._expand_cache) < 100_000:
            self._expand_cache[term] = out
        return out

    def _affix_fallback(self, term: str) -> tuple[tuple[str, float], ...]:
        for pre in ("", *_PREFIXES):
            if pre and not term.startswith(pre):
                continue
            rest = term[len(pre) :]
            for suf in ("", *_SUFFIXES):
                if suf and not rest.endswith(suf):
                    continue
                core = rest[: len(rest) - len(suf)] if suf else rest
                if len(core) < 3 or (not pre and not suf):
                    continue
                hit = self._known_form(core)
                if hit:
                    return ((hit, 0.9),)
        return ()

    def _known_form(self, word: str) -> str | None:
        """The index term a plain word stands for, via the lexicon, stemmer and synonyms."""
        word = self._single_lex.get(word, word)
        if word in self._vocab_set:
            return word
        return self._surface.get(word)

    def _sound_fallback(self, term: str) -> tuple[tuple[str, float], ...]:
        for variant in sound_variants(term):
            hit = self._known_form(variant)
            if hit:
                return ((hit, 0.85),)
        return ()

    def _skeleton_fallback(self, term: str) -> tuple[tuple[str, float], ...]:
        # Only for vowel-dropped spellings ("pjk", "mtr", "byr"): at most one vowel.
        if sum(ch in "aeiou" for ch in term) > 1 or len(term) > 7:
            return ()
        hit = self._skeletons.get(skeleton(term))
        return ((hit, 0.8),) if hit else ()

    def _fuzzy(self, term: str) -> tuple[tuple[str, float], ...]:
        if len(term) < 4:
            return ()
        n = len(term)
        slack = max(1, n // 4)
        choices = [
            w
            for size in range(n - slack, n + slack + 1)
            for w in self._buckets.get((term[0], size), ())
        ]
        if not choices:
            return ()
        found = process.extract(
            term,
            choices,
            scorer=fuzz.ratio,
            score_cutoff=self.settings.fuzzy_min_similarity,
            limit=2,
        )
        return tuple((w, (score / 100.0) ** 2) for w, score, _ in found)

    def _query_terms(self, tokens: Sequence[str]) -> dict[str, float]:
        """Weighted index terms of a message (duplicates add up, capped)."""
        q: dict[str, float] = defaultdict(float)
        for t in self._terms(tokens):
            for term, w in self._expand(t):
                q[term] = min(q[term] + w, 2.0)
        return q

    # ------------------------------------------------------------------ scoring
    def _score(self, tokens: Sequence[str], opd: str | None) -> list[tuple[int, float]]:
        """(doc index, score 0-100) best first, restricted to one OPD when asked."""
        s = self.settings
        q = self._query_terms(tokens)
        if not q:
            return []
        idf = self._idf
        weights = {t: idf[t] * w for t, w in q.items()}
        if opd:
            # Restricted to one OPD: score its (few) FAQs exactly instead of reading postings.
            pool: Iterable[int] = self._by_opd.get(opd, [])
        else:
            acc: dict[int, float] = defaultdict(float)
            budget = s.posting_budget
            for t in sorted(q, key=lambda t: -idf[t]):
                if budget <= 0:
                    break
                plist = self._postings[t]
                budget -= len(plist)
                w = weights[t]
                for d, tw in plist:
                    acc[d] += w * tw
            pool = [
                d for d, _ in heapq.nlargest(2 * s.rerank_depth, acc.items(), key=itemgetter(1))
            ]
        doc_weights = self._doc_weights
        exact = []
        for d in pool:
            dw = doc_weights[d]
            exact.append((d, sum(w * dw[t] for t, w in weights.items() if t in dw)))
        top = heapq.nlargest(s.rerank_depth, exact, key=itemgetter(1))
        top = [x for x in top if x[1] > 0]
        if not top:
            return []
        # Normalise BM25 by what a perfect match of these query terms would score.
        ideal = sum(idf[t] * q[t] * (s.bm25_k1 + 1) for t in q) * 0.5 or 1.0
        qvec = self._char_query(q)
        out = []
        for d, v in top:
            word = min(v / ideal, 1.0)
            cvec = self._char_vecs[d]
            char = sum([w * cvec[g] for g, w in qvec.items() if g in cvec])
            out.append((d, 100.0 * ((1 - s.char_weight) * word + s.char_weight * char)))
        out.sort(key=lambda kv: -kv[1])
        return out

    def _char_query(self, q: dict[str, float]) -> dict[str, float]:
        bag: dict[str, float] = defaultdict(float)
        cache = self._gram_cache
        cidf = self._cidf
        for t, w in q.items():
            grams = cache.get(t)
            if grams is None:
                grams = tuple(g for g in _ngrams(t) if g in cidf)
                if len(cache) < 200_000:
                    cache[t] = grams
            for g in grams:
                bag[g] += w
        vec = {g: (1 + math.log(1 + f)) * cidf[g] for g, f in bag.items()}
        nrm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {g: v / nrm for g, v in vec.items()}

    # ------------------------------------------------------------------ public API
    def rank(self, text: str, opd: str | None = None, limit: int = 3) -> list[Candidate]:
        """Best FAQs for a message (score 0-100), optionally only those of one OPD."""
        tokens = self.norm.tokens(text or "", self.settings.max_input_chars)
        return self._candidates(self._score(tokens, opd), limit)

    def _candidates(self, scored: list[tuple[int, float]], limit: int) -> list[Candidate]:
        return [
            Candidate(faq_id=self.entries[d].id, opd=self.entries[d].opd, score=round(sc, 2))
            for d, sc in scored[:limit]
        ]

    def signals(self, text: str) -> Signals:
        """Smalltalk/spam/case/out-of-remit evidence and OPD scores for a message."""
        tokens = self.norm.tokens(text or "", self.settings.max_input_chars)
        return self._signals(text or "", tokens, self._score(tokens, None))

    def _signals(self, text: str, tokens: list[str], scored: list[tuple[int, float]]) -> Signals:
        res = self.res
        sig = Signals(tokens=tokens)
        content = [t for t in tokens if t not in res.stopwords and not t.isdigit() and t != "wkwk"]
        sig.content = content
        chatty = [t for t in content if t in res.smalltalk or t in res.address]
        sig.smalltalk_share = len(chatty) / len(content) if content else 1.0
        stems = [self._stem(t) for t in tokens]
        sig.spam = _phrase_score(tokens, res.spam)
        sig.out_of_remit = max(
            _phrase_score(tokens, res.out_of_remit), _phrase_score(stems, self._oor_stems)
        )
        sig.intent = any(t in _INTENT for t in tokens)
        sig.ask = float(min(len({t for t in tokens if t in _ASK}), 2))
        sig.case = max(
            _phrase_score(tokens, res.case_markers), _phrase_score(stems, self._case_stems)
        )
        sig.case += self._specifics(text, tokens)
        sig.opd_scores = self._route_scores(tokens, scored)
        return sig

    def _specifics(self, text: str, tokens: list[str]) -> float:
        """Evidence of a concrete case: named places, organisations, amounts, proper names."""
        res = self.res
        score = 0.0
        joined = f" {' '.join(tokens)} "
        for place in res.places:
            if f" {' '.join(place)} " in joined:
                score += 1.0
                break
        markers = sum(
            1
            for i, t in enumerate(tokens[:-1])
            if t in res.place_markers and tokens[i + 1] not in res.stopwords
        )
        score += min(markers, 3) * 0.5
        if _NUM_RE.search(text):
            score += 0.5
        caps = len(_CAP_RE.findall(text[: self.settings.max_input_chars]))
        score += min(caps, 4) * 0.25
        # "sudah 3 bulan", "sejak seminggu": an ongoing situation, typical of a complaint.
        for i, t in enumerate(tokens):
            if t in _SINCE and any(u in _TIME_UNITS for u in tokens[i + 1 : i + 4]):
                score += 1.0
                break
        # "tolong ditindak", "mohon dicek": a request that the agency act.
        for i, t in enumerate(tokens[:-1]):
            if t in _PLEASE and tokens[i + 1].startswith("di") and len(tokens[i + 1]) > 4:
                score += 1.0
                break
        return score

    def _route_scores(
        self, tokens: list[str], scored: list[tuple[int, float]]
    ) -> list[tuple[str, float]]:
        """OPD confidence 0-100: FAQ neighbourhood, mandate words and learnt routing examples."""
        # Routing knows more words than the FAQ index (mandates, examples): use them before
        # expanding.
        q: dict[str, float] = defaultdict(float)
        for t in self._terms(tokens):
            if t in self._route_vocab:
                q[t] = min(q[t] + 1.0, 2.0)
            else:
                for term, w in self._expand(t):
                    q[term] = min(q[term] + w, 2.0)
        if not q:
            return []
        ridf = self._route_idf
        qn = math.sqrt(sum((w * ridf.get(t, 1.0)) ** 2 for t, w in q.items())) or 1.0
        qv = {t: w * ridf.get(t, 1.0) / qn for t, w in q.items()}
        neigh: dict[str, float] = defaultdict(float)
        for d, sc in scored[:8]:
            code = self._doc_opd[d]
            neigh[code] = max(neigh[code], sc)
        ex: dict[str, float] = defaultdict(float)
        for vec, code in self._examples:
            sim = sum(w * vec.get(t, 0.0) for t, w in qv.items())
            ex[code] = max(ex[code], sim)
        cosines: dict[str, float] = defaultdict(float)
        for t, w in qv.items():
            for code, pw in self._opd_postings.get(t, ()):
                cosines[code] += w * pw
        out = []
        st = self.settings
        for code in self._opd_codes:
            cos = cosines.get(code, 0.0)
            score = (
                st.route_faq_weight * neigh.get(code, 0.0)
                + st.route_profile_weight * 100.0 * cos
                + st.routing_example_weight * 60.0 * ex.get(code, 0.0)
            )
            out.append((code, score))
        out.sort(key=lambda kv: -kv[1])
        return out

    def decide(self, text: str, opd: str | None = None) -> Decision:
        """Decide what to do with a citizen's message (see docs/faq-matching.md)."""
        return self._verdict(self._analyze(text or "", opd), self.settings)

    def _analyze(self, text: str, opd: str | None) -> _Analysis:
        """Everything the verdict needs (apart, so thresholds can be tuned without re-scoring)."""
        tokens = self.norm.tokens(text, self.settings.max_input_chars)
        scored = self._score(tokens, opd)
        sig = self._signals(text, tokens, scored if not opd else self._score(tokens, None))
        res = self.res
        topical = [t for t in sig.content if t not in res.smalltalk and t not in res.address]
        # Score of the message without its chit-chat words: "tes tes 123" must not match "tes
        # urine".
        # Only needed when chit-chat dominates, so it is skipped otherwise (speed).
        if (
            len(topical) < len(sig.content)
            and sig.smalltalk_share >= self.settings.smalltalk_ratio
        ):
            plain = self._score(topical, opd)
            topical_top = plain[0][1] if plain else 0.0
        else:
            topical_top = scored[0][1] if scored else 0.0
        return _Analysis(text, opd, scored, sig, len(topical), topical_top)

    def _verdict(self, a: _Analysis, s: MatchSettings) -> Decision:
        text, scored, sig = a.text, a.scored, a.sig
        top = scored[0][1] if scored else 0.0
        second = scored[1][1] if len(scored) > 1 else 0.0
        cands = tuple(self._shown(scored, s))

        if a.topical == 0:
            return Decision(text=text, decision=DecisionKind.SMALLTALK)
        if sig.spam >= s.spam_threshold and not sig.intent:
            return Decision(text=text, decision=DecisionKind.SMALLTALK)
        if (
            sig.smalltalk_share >= s.smalltalk_ratio
            and not sig.intent
            and (a.topical <= 1 or a.topical_top < s.answer_threshold)
        ):
            return Decision(text=text, decision=DecisionKind.SMALLTALK)

        best_opd, opd_conf, opd_lead = self._best_opd(sig.opd_scores, a.opd)
        can_route = (
            best_opd is not None and opd_conf >= s.route_threshold and opd_lead >= s.route_margin
        )
        # A how/where question inside a story asks for information, which the FAQ gives.
        is_case = sig.case - s.question_weight * sig.ask >= s.case_threshold
        remote = sig.out_of_remit >= s.out_of_remit_threshold
        answer_bar = s.answer_threshold + (s.out_of_remit_penalty if remote else 0.0)
        if top >= answer_bar and top - second >= s.answer_margin and not is_case:
            e = self.entries[scored[0][0]]
            return Decision(text, DecisionKind.ANSWER, e.id, e.opd, round(top, 2), cands)
        # Triage decisions keep their candidates: the PPID desk sees what the bot considered.
        if remote and top < answer_bar:
            return Decision(text, DecisionKind.TRIAGE, score=round(top, 2), candidates=cands)
        if is_case and can_route:
            return Decision(text, DecisionKind.ROUTE, None, best_opd, round(opd_conf, 2), cands)
        if top >= s.suggest_threshold and cands:
            return Decision(text, DecisionKind.SUGGEST, None, a.opd, round(top, 2), cands)
        if can_route and opd_conf >= s.route_threshold + s.route_without_case_penalty:
            return Decision(text, DecisionKind.ROUTE, None, best_opd, round(opd_conf, 2), cands)
        return Decision(text, DecisionKind.TRIAGE, score=round(top, 2), candidates=cands)

    def _shown(self, scored: list[tuple[int, float]], s: MatchSettings) -> list[Candidate]:
        if not scored:
            return []
        floor = scored[0][1] * s.candidate_min_ratio
        return self._candidates([x for x in scored if x[1] >= floor], s.max_candidates)

    def _best_opd(
        self, scores: list[tuple[str, float]], opd: str | None
    ) -> tuple[str | None, float, float]:
        if opd:
            conf = dict(scores).get(opd, 0.0)
            return opd, conf, 100.0
        if not scores:
            return None, 0.0, 0.0
        first = scores[0]
        second = scores[1][1] if len(scores) > 1 else 0.0
        # Lead in percent of the winner's score, so it means the same at any score level.
        lead = 100.0 * (first[1] - second) / first[1] if first[1] > 0 else 0.0
        return first[0], first[1], lead


def _phrase_score(tokens: Sequence[str], table: dict[tuple[str, ...], float]) -> float:
    total = 0.0
    n = len(tokens)
    firsts = _first_words(table)
    for i in range(n):
        if tokens[i] not in firsts:
            continue
        for size in (1, 2, 3):
            if i + size > n:
                break
            w = table.get(tuple(tokens[i : i + size]))
            if w is not None:
                total += w
    return total


_FIRSTS: dict[int, frozenset[str]] = {}


def _first_words(table: dict[tuple[str, ...], float]) -> frozenset[str]:
    """First words of a phrase table (cached by table identity) to skip most positions cheaply."""
    key = id(table)
    hit = _FIRSTS.get(key)
    if hit is None:
        hit = frozenset(k[0] for k in table if k)
        _FIRSTS[key] = hit
    return hit
