"""FAQ matching and routing: rank FAQs, decide answer/suggest/route/triage/smalltalk."""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter, mul
from typing import Any, NamedTuple

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
    answer_margin: float = 4.0
    #: Minimum score of the best FAQ to offer candidates for the citizen to pick.
    suggest_threshold: float = 40.0
    #: Minimum OPD confidence (0-100) to route a ticket to one OPD.
    route_threshold: float = 12.0
    #: Minimum lead of the best OPD over the second, in percent of the best OPD's score, to route.
    route_margin: float = 15.0
    #: How many candidates to return at most.
    max_candidates: int = 3
    #: Candidates scoring below this fraction of the best one are not shown.
    candidate_min_ratio: float = 0.55
    #: A message whose concrete-case score reaches this is a report to act on (route), not a
    #: question.
    case_threshold: float = 1.75
    #: FAQ score above which a stronger FAQ match needs more case evidence to be routed instead.
    case_strong_faq: float = 60.0
    #: Extra case evidence needed per FAQ score point above `case_strong_faq` (a near-verbatim
    #: FAQ question that names a place is still that question).
    case_faq_slope: float = 0.03
    #: How much each information-request word (bagaimana, cara, di mana, syarat, ...) offsets case
    #: evidence.
    question_weight: float = 1.5
    #: Out-of-remit score (BPN, PLN, dana desa, ...) from which an unanswered message goes to
    #: triage.
    out_of_remit_threshold: float = 1.0
    #: Extra score the best FAQ needs to be answered when the message also names an out-of-remit
    #: topic.
    out_of_remit_penalty: float = 30.0
    #: Extra OPD confidence needed to route a message that does not read like a concrete case.
    route_without_case_penalty: float = 0.0
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
    #: Weight of the similarity to the OPD's mandate alone (name, description, keywords, mandate
    #: words; without its FAQ words, which dilute it) in routing confidence.
    route_mandate_weight: float = 0.6
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
    #: Weight of the rapidfuzz token_set_ratio re-rank (message vs the FAQ's phrasings) in the
    #: blended score (the rest is BM25 word similarity).
    rerank_weight: float = 0.2
    #: Term weight of FAQ keywords relative to the question text.
    keyword_weight: float = 1.5
    #: Term weight of FAQ answer text relative to the question text (answers add vocabulary).
    answer_text_weight: float = 0.25
    #: How many word-retrieved FAQs are re-scored with rapidfuzz.
    rerank_depth: int = 5
    #: Posting entries visited per message before commoner terms stop adding new candidates (speed
    #: bound).
    posting_budget: int = 120
    #: Postings kept per term for candidate generation (its highest-weighted FAQs; speed bound).
    champion_list_size: int = 24


_NUM_RE = re.compile(r"\d")
# A capitalised word not at the start of the text or of a sentence. Written so that the search
# first looks for a capital letter and only then checks what precedes it (the same matches as
# r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}", ~6x faster).
_CAP_RE = re.compile(r"[A-Z](?<=\b[A-Z])(?<![.!?]\s[A-Z])(?<!^[A-Z])[a-z]{2,}")
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
        "apa",
        "kapan",
        "ngapain",
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


@dataclass
class Signals:
    """Intermediate evidence about a message, exposed for debugging and tuning."""

    tokens: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    smalltalk_share: float = 0.0
    spam: float = 0.0
    case: float = 0.0
    out_of_remit: float = 0.0
    #: Distinct OPDs the message names ("ke dinsos apa PU?").
    agencies: int = 0
    intent: bool = False
    ask: float = 0.0
    opd_scores: list[tuple[str, float]] = field(default_factory=list)


class _Analysis(NamedTuple):
    text: str
    opd: str | None
    scored: list[tuple[int, float]]
    sig: Signals
    topical: int
    topical_top: float
    #: Tokens and unrestricted FAQ scores the OPD routing reads; the routing itself is computed
    #: only when the verdict gets to it (see `_opd_scores`).
    tokens: list[str]
    route_scored: list[tuple[int, float]]


_AFFIX_START = ("me", "di", "ke", "be", "te", "pe", "se")
_AFFIX_END = ("kan", "an", "i", "nya", "lah", "kah", "tah", "pun", "ku", "mu")


def _affix_tables() -> tuple[frozenset[str], frozenset[str]]:
    """Every prefix chain (up to three prefixes) and suffix chain the Sastrawi stemmer strips."""
    base = [
        "di",
        "ke",
        "se",
        "be",
        "ber",
        "bel",
        "te",
        "ter",
        "tel",
        "me",
        "mem",
        "men",
        "meng",
        "meny",
        "menge",
        "pe",
        "pem",
        "pen",
        "peng",
        "peny",
        "per",
        "pel",
        "penge",
        "ku",
        "kau",
    ]
    prefixes = {""}
    for size in (1, 2, 3):
        prefixes.update("".join(c) for c in itertools.product(base, repeat=size))
    suffixes = {
        a + b + c
        for a in ("", "i", "kan", "an", "is")
        for b in ("", "ku", "mu", "nya")
        for c in ("", "lah", "kah", "tah", "pun")
    }
    return frozenset(prefixes), frozenset(suffixes)


_STEM_PREFIXES, _STEM_SUFFIXES = _affix_tables()
_MAX_STEM_PREFIX = max(map(len, _STEM_PREFIXES))
_MAX_STEM_SUFFIX = max(map(len, _STEM_SUFFIXES))
# Beginnings of prefix chains and endings of suffix chains: a word's affix scan stops at the
# first length that no chain continues.
_PREFIX_HEADS = frozenset(p[:k] for p in _STEM_PREFIXES for k in range(len(p) + 1))
_SUFFIX_TAILS = frozenset(x[k:] for x in _STEM_SUFFIXES for k in range(len(x) + 1))
# Letters the stemmer restores after a nasal prefix (menyapu -> sapu, memukul -> pukul, ...).
_RECODE = "kpstmnrlgcy"
_INFIXES = frozenset({"el", "em", "er", "in"})


def _recode_index(roots: frozenset[str]) -> dict[str, str]:
    """Root without its first letter -> the root, for roots starting with a restorable letter.

    When several roots share the rest, the one whose first letter comes first in `_RECODE` wins
    (the order in which the letters are tried).
    """
    by_letter: dict[str, list[str]] = {c: [] for c in _RECODE}
    for r in roots:
        if r[:1] in by_letter:
            by_letter[r[0]].append(r)
    index: dict[str, str] = {}
    for c in _RECODE:
        for r in by_letter[c]:
            index.setdefault(r[1:], r)
    return index


class _Stemmer:
    """Sastrawi stemmer when installed, else a no-op; always cached per word.

    Sastrawi costs ~1-2 ms per unseen word, mostly spent on words it cannot stem (typos, names,
    regional words). A cheap pre-check asks whether any affix-stripped core of the word is a root
    in Sastrawi's own dictionary; when none is, Sastrawi would return the word unchanged, so it is
    not called (about 20x fewer calls; agrees with Sastrawi on >99.9 % of words).
    """

    def __init__(self, protected: frozenset[str]) -> None:
        self._protected = protected
        self.cache: dict[str, str] = {}
        self._roots: frozenset[str] = frozenset()
        try:
            from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

            self._impl = _sastrawi(StemmerFactory)
            self._roots = frozenset(self._impl.dictionary.words)
        except Exception:  # pragma: no cover - optional dependency
            self._impl = None
        self._recode = _recode_index(self._roots)
        self._check_roots = self._roots
        self._check_recode = self._recode

    def restrict(self, useful: Iterable[str]) -> None:
        """From now on, stem new words only towards these roots (index, routing, marker words).

        A new word none of whose possible roots is useful keeps its form: its stem would match
        nothing anyway, and Sastrawi costs ~1.5 ms per unseen word (typos, names).
        """
        self._check_roots = self._roots & frozenset(useful)
        self._check_recode = _recode_index(self._check_roots)

    def _possessive_root(self, word: str) -> str | None:
        """Sastrawi's stem of root + -nya/-ku/-mu, without running Sastrawi.

        Sastrawi strips a possessive pronoun before any prefix rule (its prefix-first rules
        need words ending in -lah, -an or -i) and stops at the first dictionary word, so for a
        dictionary root plus -nya, -ku or -mu it returns the root: checked for every such word
        of its dictionary (88,764 words, PySastrawi 1.2.1). Sastrawi drops letters outside
        a-z, hence only for ASCII words.
        """
        if not word.isascii():
            return None
        if word.endswith("nya"):
            core = word[:-3]
        elif word.endswith(("ku", "mu")):
            core = word[:-2]
        else:
            return None
        return core if core in self._roots else None

    @staticmethod
    def _affix_spans(word: str) -> tuple[list[int], list[int]]:
        """Where cores of the word may start (after a prefix chain) and end (before suffixes)."""
        n = len(word)
        starts = []
        for i in range(min(_MAX_STEM_PREFIX, n - 2) + 1):
            head = word[:i]
            if head not in _PREFIX_HEADS:
                break
            if head in _STEM_PREFIXES:
                starts.append(i)
        ends = []
        for j in range(n, max(2, n - _MAX_STEM_SUFFIX) - 1, -1):
            tail = word[j:]
            if tail not in _SUFFIX_TAILS:
                break
            if tail in _STEM_SUFFIXES:
                ends.append(j)
        ends.reverse()
        return starts, ends

    @staticmethod
    def _root_of(
        word: str,
        spans: tuple[list[int], list[int]],
        roots: frozenset[str],
        recode: dict[str, str],
    ) -> str | None:
        """A root among `roots` that stripping affixes from the word can give (longest first).

        `recode` is `_recode_index(roots)`: the root a nasal-prefix core stands for (pukul for
        the "ukul" of memukul).
        """
        starts, ends = spans
        found: str | None = None
        for i in starts:
            for j in ends:
                if j - i < 2 or (found is not None and j - i <= len(found)):
                    continue
                core = word[i:j]
                if core in roots:
                    found = core
                    continue
                if i:
                    hit = recode.get(core)
                    if hit is not None:
                        found = hit
                        continue
                if core[1:3] in _INFIXES and core[0] + core[3:] in roots:
                    found = core[0] + core[3:]
        return found

    def __call__(self, word: str) -> str:
        hit = self.cache.get(word)
        if hit is not None:
            return hit
        if (
            self._impl is None
            or word in self._protected
            or len(word) <= 3
            or not word.isalpha()
            or word in self._roots
        ):
            out = word
        else:
            spans = self._affix_spans(word)
            if self._root_of(word, spans, self._check_roots, self._check_recode) is not None:
                out = self._possessive_root(word) or self._impl.stem(word) or word
            elif self._check_roots is self._roots:
                out = word
            else:
                # Only roots that match nothing here: strip the affixes without calling
                # Sastrawi, so the (useless) stem is still a stem, as it would have been.
                root = self._root_of(word, spans, self._roots, self._recode)
                out = root if root is not None and len(root) >= 4 else word
        if len(self.cache) >= _CACHE_SIZE:
            self.cache.clear()
        self.cache[word] = out
        return out


_SASTRAWI: list[object] = []


def _sastrawi(factory: type) -> Any:
    """One shared Sastrawi stemmer per process (building it parses a 30k-word dictionary)."""
    if not _SASTRAWI:
        _SASTRAWI.append(factory().create_stemmer().delegatedStemmer)
    return _SASTRAWI[0]


#: Per-word caches (stems, expansions) are cleared when they reach this size.
_CACHE_SIZE = 200_000
#: OPDs kept per word in the routing postings (its strongest ones).
_OPD_POSTINGS = 8


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


def _by_letter(affixes: Sequence[str], index: int) -> dict[str, tuple[str, ...]]:
    """Affixes grouped by their first (index 0) or last (-1) letter, in their original order."""
    out: dict[str, tuple[str, ...]] = {}
    for a in affixes:
        out[a[index]] = (*out.get(a[index], ()), a)
    return out


# The colloquial affixes a word can carry, by its first and last letter ("" comes first: no
# prefix, no suffix).
_PREFIXES_BY_HEAD = {c: ("", *group) for c, group in _by_letter(_PREFIXES, 0).items()}
_SUFFIXES_BY_TAIL = {c: ("", *group) for c, group in _by_letter(_SUFFIXES, -1).items()}


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
        self._term_cache: dict[str, str] = {}
        self._last_terms: tuple[Sequence[str] | None, list[str]] = (None, [])
        self._places = _PhraseTable(dict.fromkeys(self.res.places, 1.0))
        self._spam_table = _PhraseTable(self.res.spam)
        self._oor_table = _PhraseTable(self.res.out_of_remit)
        self._oor_stem_table = _PhraseTable(self._oor_stems)
        self._case_table = _PhraseTable(self.res.case_markers)
        self._case_stem_table = _PhraseTable(self._case_stems)
        self._chit = self.res.smalltalk | self.res.address
        self._place_words = frozenset(w for p in self.res.places for w in p)
        s = settings

        # Per-FAQ weighted term frequencies (BM25F-like: fields weigh differently).
        doc_tf: list[dict[str, float]] = []
        surface: dict[str, str] = {}
        self._phrasings: list[str] = []
        for e in self.entries:
            tf: dict[str, float] = defaultdict(float)
            phr: list[str] = []
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
                if is_phrasing and terms:
                    phr.append(" ".join(terms))
            doc_tf.append(dict(tf))
            # One string per FAQ: the distinct terms of its question, variants and keywords.
            self._phrasings.append(" ".join(sorted({w for p in phr for w in p.split()})))
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
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._doc_weights: list[dict[str, float]] = []
        for i, tf in enumerate(doc_tf):
            norm = s.bm25_k1 * (1 - s.bm25_b + s.bm25_b * lengths[i] / (avg or 1.0))
            weights = {}
            for t, f in tf.items():
                w = f * (s.bm25_k1 + 1) / (f + norm)
                weights[t] = w
                postings[t].append((i, w))
            self._doc_weights.append(weights)
        # Champion lists: each term's postings by weight, best first; candidate generation reads
        # only the head, exact scores are then computed for the few candidates from the
        # per-document weights.
        # The lists are rebuilt from fresh objects, term by term, so that one term's postings sit
        # together in memory (reading them is then mostly cache hits; ~1.5x faster at 10k FAQs).
        self._postings = {
            t: tuple(
                (int(d), float(w))
                for d, w in sorted(plist, key=lambda p: -p[1])[: s.champion_list_size]
            )
            for t, plist in postings.items()
        }
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
        # Fuzzy lookup buckets: a single typo keeps either the head or the tail of a word (three
        # letters; two for words under six letters), and ratio >= 80 bounds the length difference,
        # so a lookup compares the word only with the index words sharing its head or its tail and
        # having a reachable length.
        self._buckets: dict[tuple[str, int], list[str]] = {}
        by_key: dict[tuple[str, int], list[str]] = defaultdict(list)
        for t in self._vocab:
            if t.isalpha() and len(t) >= 3:
                for key in {*_fuzzy_keys(t, 3), *_fuzzy_keys(t, 2)}:
                    by_key[(key, len(t))].append(t)
        for key, size in {(k[0], k[1] + d) for k in by_key for d in range(-3, 4)}:
            if size < 4 or key not in _fuzzy_keys_of_size(key, size):
                continue  # only the key kind a word of this length looks up
            slack = max(1, size // 4)
            merged = [
                w for n in range(size - slack, size + slack + 1) for w in by_key.get((key, n), ())
            ]
            if merged:
                self._buckets[(key, size)] = merged
        self.norm.add_known(self._vocab)

        # OPD profiles: their mandate words plus the words of their FAQs (the FAQ neighbourhood).
        self._opd_codes = sorted(self.opds)
        # OPD names and codes as normalised phrases, indexed by first word ("dinsos" is read as
        # "dinas sosial", "PU" as "pupr").
        self._opd_names: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for code, prof in self.opds.items():
            for label in {code, prof.name}:
                phrase = tuple(self.norm.tokens(label, 500))
                if phrase and (phrase, code) not in self._opd_names[phrase[0]]:
                    self._opd_names[phrase[0]].append((phrase, code))
        self._opd_vecs: dict[str, dict[str, float]] = {}
        self._build_opd_profiles(doc_tf, routing_examples)
        useful = set(self._route_vocab) | set(self._syn)
        for table in (self._oor_stems, self._case_stems):
            for marker in table:
                useful.update(marker)
        self._stem.restrict(useful)

    def _build_opd_profiles(
        self, doc_tf: list[dict[str, float]], routing_examples: Iterable[tuple[str, str]]
    ) -> None:
        bags: dict[str, dict[str, float]] = {c: defaultdict(float) for c in self._opd_codes}
        mandates: dict[str, dict[str, float]] = {c: defaultdict(float) for c in self._opd_codes}
        for i, tf in enumerate(doc_tf):
            bag = bags[self._doc_opd[i]]
            for t, f in tf.items():
                bag[t] += f
        for code, prof in self.opds.items():
            bag = bags[code]
            mand = mandates[code]
            for text in (prof.name, prof.description, *prof.keywords):
                for t in self._terms(self.norm.tokens(text, 100_000)):
                    bag[t] += 1.5
                    mand[t] += 1.0
            # The agency's own code and short name ("BKD", "dinsos") name it outright.
            bag[code.lower()] += self.settings.mandate_keyword_weight
            mand[code.lower()] += self.settings.mandate_keyword_weight
            for text in self.res.opd_keywords.get(code, ()):
                for t in self._terms(self.norm.tokens(text)):
                    bag[t] += self.settings.mandate_keyword_weight
                    mand[t] += self.settings.mandate_keyword_weight
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
        # A word shared by every OPD adds almost nothing: keep each word's strongest OPDs only.
        self._opd_postings = {
            t: sorted(plist, key=lambda p: -p[1])[:_OPD_POSTINGS] for t, plist in opd_post.items()
        }
        # Mandate-only profiles: a few dozen words each, so a matching mandate word weighs much
        # more than in the FAQ-diluted profile. Weighted with an IDF over mandates.
        mdf: dict[str, int] = defaultdict(int)
        for mand in mandates.values():
            for t in mand:
                mdf[t] += 1
        n_m = len(mandates) or 1
        self._mandate_idf = {t: math.log(1 + n_m / c) for t, c in mdf.items()}
        m_post: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for code, mand in mandates.items():
            unit = self._unit(
                {t: (1 + math.log(1 + f)) * self._mandate_idf[t] for t, f in mand.items()}
            )
            for t, v in unit.items():
                m_post[t].append((code, v))
        self._mandate_postings = {
            t: sorted(plist, key=lambda p: -p[1])[:_OPD_POSTINGS] for t, plist in m_post.items()
        }
        # Example vectors are weighted with the same routing IDF and inverted like the profiles.
        ex_post: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._example_opd = [code for _, code in self._examples]
        for i, (vec, _) in enumerate(self._examples):
            unit = self._unit({t: w * self._route_idf.get(t, 1.0) for t, w in vec.items()})
            for t, w in unit.items():
                ex_post[t].append((i, w))
        self._example_postings = dict(ex_post)
        del self._examples
        # One merged posting list per word: its contribution to each OPD's profile and mandate
        # similarity (IDF and weights folded in), so a message reads each word's OPDs once.
        st = self.settings
        merged: dict[str, dict[str, float]] = defaultdict(dict)
        for t, plist in self._opd_postings.items():
            for code, pw in plist:
                row = merged[t]
                row[code] = row.get(code, 0.0) + st.route_profile_weight * self._route_idf[t] * pw
        if st.route_mandate_weight:
            for t, plist in self._mandate_postings.items():
                for code, pw in plist:
                    row = merged[t]
                    row[code] = (
                        row.get(code, 0.0) + st.route_mandate_weight * self._mandate_idf[t] * pw
                    )
        self._route_post = {t: tuple(row.items()) for t, row in merged.items()}

    @staticmethod
    def _unit(vec: dict[str, float]) -> dict[str, float]:
        nrm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / nrm for t, v in vec.items()}

    def _terms(self, tokens: Sequence[str]) -> list[str]:
        # The FAQ ranking and the routing read the same message's terms: keep the last result
        # (the pair holds the token list, so its identity cannot be reused meanwhile).
        last = self._last_terms
        if last[0] is tokens:
            return last[1]
        out = self._terms_of(tokens)
        self._last_terms = (tokens, out)
        return out

    def _terms_of(self, tokens: Sequence[str]) -> list[str]:
        cache = self._term_cache
        out = []
        for t in tokens:
            term = cache.get(t, "?")
            if term == "?":
                term = self._term(t)
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[t] = term
            if term:
                out.append(term)
        return out

    def _term(self, token: str) -> str:
        """The index term of one normalised token ("" for stopwords, numbers and masks)."""
        if token in self._drop or token.isdigit() or token.startswith("_"):
            return ""
        st = self._stem(token)
        return self._syn.get(st, st)

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
        if len(self._expand_cache) >= _CACHE_SIZE:
            self._expand_cache.clear()
        self._expand_cache[term] = out
        return out

    def _affix_fallback(self, term: str) -> tuple[tuple[str, float], ...]:
        # Only the affixes that begin (end) with the word's first (last) letter can match.
        suffixes = _SUFFIXES_BY_TAIL.get(term[-1], ("",))
        for pre in _PREFIXES_BY_HEAD.get(term[0], ("",)):
            if pre and not term.startswith(pre):
                continue
            rest = term[len(pre) :]
            for suf in suffixes:
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
        head, tail = _fuzzy_keys(term)
        heads = self._buckets.get((head, n), ())
        tails = self._buckets.get((tail, n), ())
        if not heads and not tails:
            return ()
        # Each bucket gives its two best words (best score first, then bucket order); both are
        # searched in one rapidfuzz call, whose results come in that same order.
        found: dict[str, float] = {}
        taken = [0, 0]
        for w, score, i in process.extract(
            term,
            [*heads, *tails] if heads and tails else heads or tails,
            scorer=fuzz.ratio,
            score_cutoff=self.settings.fuzzy_min_similarity,
            limit=None if heads and tails else 2,
        ):
            bucket = 0 if heads and i < len(heads) else 1
            if taken[bucket] < 2:
                taken[bucket] += 1
                found[w] = score
        best = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        return tuple((w, (score / 100.0) ** 2) for w, score in best)

    def _query_terms(self, tokens: Sequence[str]) -> dict[str, float]:
        """Weighted index terms of a message (duplicates add up, capped)."""
        q: dict[str, float] = {}
        expand = self._expand
        vocab = self._vocab_set
        get = q.get
        for t in self._terms(tokens):
            # Capped at 2.0, as min(v, 2.0) would.
            if t in vocab:
                v = get(t, 0.0) + 1.0
                q[t] = v if v < 2.0 else 2.0
            else:
                for term, w in expand(t):
                    v = get(term, 0.0) + w
                    q[term] = v if v < 2.0 else 2.0
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
            acc: dict[int, float] = {}
            get = acc.get
            budget = s.posting_budget
            postings = self._postings
            for t in sorted(weights, key=weights.__getitem__, reverse=True):
                if budget <= 0:
                    break
                plist = postings[t]
                budget -= len(plist)
                w = weights[t]
                for d, tw in plist:
                    acc[d] = get(d, 0.0) + w * tw
            # sorted(...)[:n] is what heapq.nlargest returns (ties included), and faster here.
            pool = [
                d
                for d, _ in sorted(acc.items(), key=itemgetter(1), reverse=True)[
                    : 2 * s.rerank_depth
                ]
            ]
        doc_weights = self._doc_weights
        witems = list(weights.items())
        exact = []
        for d in pool:
            dw = doc_weights[d]
            exact.append((d, sum([w * dw[t] for t, w in witems if t in dw])))
        top = sorted(exact, key=itemgetter(1), reverse=True)[: s.rerank_depth]
        top = [x for x in top if x[1] > 0]
        if not top:
            return []
        # Normalise BM25 by what a perfect match of these query terms would score.
        ideal = sum(idf[t] * q[t] * (s.bm25_k1 + 1) for t in q) * 0.5 or 1.0
        # Re-rank the few best with rapidfuzz: token_set_ratio of the message's terms against the
        # FAQ's phrasing terms (question, variants, keywords), which rewards covering them.
        # One rapidfuzz call for all of them (it prepares the message's side once).
        phrasings = self._phrasings
        fz = [0.0] * len(top)
        for _, ratio, i in process.extract(
            " ".join(q), [phrasings[d] for d, _ in top], scorer=fuzz.token_set_ratio, limit=None
        ):
            fz[i] = ratio
        rw = s.rerank_weight
        out = []
        for (d, v), ratio in zip(top, fz, strict=True):
            word = v / ideal
            if word > 1.0:
                word = 1.0
            out.append((d, 100.0 * (1 - rw) * word + rw * ratio))
        out.sort(key=itemgetter(1), reverse=True)
        return out

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
        scored = self._score(tokens, None)
        sig = self._signals(text or "", tokens, scored)
        sig.opd_scores = self._route_scores(tokens, scored)
        return sig

    def _signals(self, text: str, tokens: list[str], scored: list[tuple[int, float]]) -> Signals:
        """All the evidence but the OPD scores (`_route_scores`), which only some verdicts read."""
        stopwords = self.res.stopwords
        content = [t for t in tokens if t not in stopwords and not t.isdigit() and t != "wkwk"]
        chit = self._chit
        chatty = len([t for t in content if t in chit])
        stem_cache = self._stem.cache
        stems = [stem_cache.get(t) or self._stem(t) for t in tokens]
        # An out-of-remit word that the best FAQ itself uses ("bandara" in a FAQ about the
        # airport's tourist desk) is part of that FAQ's topic, not evidence against it.
        top_doc = scored[0][0] if scored else -1
        terms_of = self._terms_of
        phrasings = self._phrasings

        def in_top_faq(phrase: tuple[str, ...]) -> bool:
            if len(phrase) != 1 or top_doc < 0:
                return False
            found = terms_of(phrase)
            return bool(found) and found[0] in phrasings[top_doc].split()

        # Information-request evidence: question words, and a question mark (a complaint demands,
        # a question asks).
        asks = len(_ASK.intersection(tokens)) + (1 if "?" in text else 0)
        return Signals(
            tokens=tokens,
            content=content,
            smalltalk_share=chatty / len(content) if content else 1.0,
            spam=self._spam_table.score(tokens),
            case=max(self._case_table.score(tokens), self._case_stem_table.score(stems))
            + self._specifics(text, tokens),
            out_of_remit=max(
                self._oor_table.score(tokens, in_top_faq),
                self._oor_stem_table.score(stems, in_top_faq),
            ),
            agencies=self._agencies(tokens),
            intent=not _INTENT.isdisjoint(tokens),
            ask=float(min(asks, 2)),
        )

    def _agencies(self, tokens: list[str]) -> int:
        """How many distinct OPDs the message names by code or full name."""
        table = self._opd_names
        if table.keys().isdisjoint(tokens):
            return 0
        found: set[str] = set()
        for i, t in enumerate(tokens):
            for phrase, code in table.get(t, ()):
                if tuple(tokens[i : i + len(phrase)]) == phrase:
                    found.add(code)
        return len(found)

    def _specifics(self, text: str, tokens: list[str]) -> float:
        """Evidence of a concrete case: named places, organisations, amounts, proper names."""
        res = self.res
        score = 0.0
        if self._places.score(tokens) > 0:
            score += 1.0
        place_markers = res.place_markers
        markers = (
            0
            if place_markers.isdisjoint(tokens)
            else sum(
                1
                for i, t in enumerate(tokens[:-1])
                if t in res.place_markers and tokens[i + 1] not in res.stopwords
            )
        )
        score += min(markers, 3) * 0.5
        if _NUM_RE.search(text):
            score += 0.5
        caps = len(_CAP_RE.findall(text[: self.settings.max_input_chars]))
        score += min(caps, 4) * 0.25
        # "sudah 3 bulan", "sejak seminggu": an ongoing situation, typical of a complaint.
        for i, t in enumerate(tokens if not _SINCE.isdisjoint(tokens) else ()):
            if t in _SINCE and any(u in _TIME_UNITS for u in tokens[i + 1 : i + 4]):
                score += 1.0
                break
        # "tolong ditindak", "mohon dicek": a request that the agency act.
        for i, t in enumerate(tokens[:-1] if not _PLEASE.isdisjoint(tokens) else ()):
            if t in _PLEASE and tokens[i + 1].startswith("di") and len(tokens[i + 1]) > 4:
                score += 1.0
                break
        return score

    def _route_scores(
        self, tokens: list[str], scored: list[tuple[int, float]]
    ) -> list[tuple[str, float]]:
        """OPD confidence 0-100, best first (ties by code)."""
        # Sort by code, then (stably) by score.
        return sorted(
            sorted(self._route_table(tokens, scored).items()), key=itemgetter(1), reverse=True
        )

    def _route_table(self, tokens: list[str], scored: list[tuple[int, float]]) -> dict[str, float]:
        """OPD confidence 0-100: FAQ neighbourhood, mandate words and learnt routing examples."""
        # Routing knows more words than the FAQ index (mandates, examples): use them before
        # expanding.
        q: dict[str, float] = {}
        qget = q.get
        route_vocab = self._route_vocab
        place_words = self._place_words
        expand = self._expand
        for t in self._terms(tokens):
            if t in place_words:
                continue  # a named place says where, not which agency
            if t in route_vocab:
                v = qget(t, 0.0) + 1.0
                q[t] = v if v < 2.0 else 2.0
            else:
                for term, w in expand(t):
                    v = qget(term, 0.0) + w
                    q[term] = v if v < 2.0 else 2.0
        if not q:
            return {}
        ridf = self._route_idf
        qv = {t: w * ridf.get(t, 1.0) for t, w in q.items() if t in route_vocab}
        if not qv:
            return {}
        vals = list(qv.values())
        qn = math.sqrt(sum(map(mul, vals, vals))) or 1.0
        st = self.settings
        scores: dict[str, float] = {}
        doc_opd = self._doc_opd
        for d, sc in scored[:8]:
            code = doc_opd[d]
            scores[code] = max(scores.get(code, 0.0), st.route_faq_weight * sc)
        # Cosine with each OPD profile and with its mandate alone, read from the merged inverted
        # (word -> OPDs) postings; each word keeps only its strongest OPDs.
        unit = 100.0 / qn
        get = scores.get
        route_post = self._route_post
        for t in qv:
            w = unit * q[t]
            for code, pw in route_post.get(t, ()):
                scores[code] = get(code, 0.0) + w * pw
        if self._example_postings:
            sims: dict[int, float] = {}
            for t, w in qv.items():
                for i, ew in self._example_postings.get(t, ()):
                    sims[i] = sims.get(i, 0.0) + w * ew
            best: dict[str, float] = {}
            for i, sim in sims.items():
                code = self._example_opd[i]
                if sim > best.get(code, 0.0):
                    best[code] = sim
            ex_unit = st.routing_example_weight * 60.0 / qn
            for code, sim in best.items():
                scores[code] = scores.get(code, 0.0) + ex_unit * sim
        return scores

    def decide(self, text: str, opd: str | None = None) -> Decision:
        """Decide what to do with a citizen's message (see docs/faq-matching.md)."""
        return self._verdict(self._analyze(text or "", opd), self.settings)

    def _analyze(self, text: str, opd: str | None) -> _Analysis:
        """Everything the verdict needs (apart, so thresholds can be tuned without re-scoring)."""
        tokens = self.norm.tokens(text, self.settings.max_input_chars)
        scored = self._score(tokens, opd)
        route_scored = scored if not opd else self._score(tokens, None)
        sig = self._signals(text, tokens, route_scored)
        chit = self._chit
        topical = [t for t in sig.content if t not in chit]
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
        return _Analysis(text, opd, scored, sig, len(topical), topical_top, tokens, route_scored)

    def _opd_choice(self, a: _Analysis) -> tuple[str | None, float, float]:
        """Best OPD, its confidence and its lead over the second (in % of its confidence).

        Read from the OPD scores without sorting them all; with an OPD-restricted call, that
        OPD's confidence and a full lead.
        """
        if a.opd:
            return a.opd, self._route_table(a.tokens, a.route_scored).get(a.opd, 0.0), 100.0
        scores = self._route_table(a.tokens, a.route_scored)
        if not scores:
            return None, 0.0, 0.0
        values = list(scores.values())
        first = max(values)
        # The first of the sorted list: the best score, the smallest code among equals.
        code = min(c for c, v in scores.items() if v == first)
        second = 0.0
        if len(values) > 1:
            values.remove(first)
            second = max(values)
        # Lead in percent of the winner's score, so it means the same at any score level.
        lead = 100.0 * (first - second) / first if first > 0 else 0.0
        return code, first, lead

    def _verdict(self, a: _Analysis, s: MatchSettings) -> Decision:
        text, scored, sig = a.text, a.scored, a.sig
        top = scored[0][1] if scored else 0.0
        second = scored[1][1] if len(scored) > 1 else 0.0

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

        cands = tuple(self._shown(scored, s))
        # A how/where question inside a story asks for information, which the FAQ gives.
        case_bar = s.case_threshold + s.case_faq_slope * max(0.0, top - s.case_strong_faq)
        is_case = sig.case - s.question_weight * sig.ask >= case_bar
        remote = sig.out_of_remit >= s.out_of_remit_threshold
        answer_bar = s.answer_threshold + (s.out_of_remit_penalty if remote else 0.0)
        # A message that names several agencies ("ini urusan PU atau BPBD?") is for PPID Utama.
        if sig.agencies >= 2 and not a.opd:
            return Decision(text, DecisionKind.TRIAGE, score=round(top, 2), candidates=cands)
        if top >= answer_bar and top - second >= s.answer_margin and not is_case:
            e = self.entries[scored[0][0]]
            return Decision(text, DecisionKind.ANSWER, e.id, e.opd, round(top, 2), cands)
        # Triage decisions keep their candidates: the PPID desk sees what the bot considered.
        if remote and top < answer_bar:
            return Decision(text, DecisionKind.TRIAGE, score=round(top, 2), candidates=cands)
        suggest = top >= s.suggest_threshold and bool(cands)
        if suggest and not is_case:
            # What follows is a concrete case to route, or else this suggestion: no need for
            # the OPD routing (the costliest signal), which is computed below only when read.
            return Decision(text, DecisionKind.SUGGEST, None, a.opd, round(top, 2), cands)
        best_opd, opd_conf, opd_lead = self._opd_choice(a)
        can_route = (
            best_opd is not None and opd_conf >= s.route_threshold and opd_lead >= s.route_margin
        )
        if is_case and can_route:
            return Decision(text, DecisionKind.ROUTE, None, best_opd, round(opd_conf, 2), cands)
        if suggest:
            return Decision(text, DecisionKind.SUGGEST, None, a.opd, round(top, 2), cands)
        if can_route and opd_conf >= s.route_threshold + s.route_without_case_penalty:
            return Decision(text, DecisionKind.ROUTE, None, best_opd, round(opd_conf, 2), cands)
        return Decision(text, DecisionKind.TRIAGE, score=round(top, 2), candidates=cands)

    def _shown(self, scored: list[tuple[int, float]], s: MatchSettings) -> list[Candidate]:
        if not scored:
            return []
        floor = scored[0][1] * s.candidate_min_ratio
        return self._candidates([x for x in scored if x[1] >= floor], s.max_candidates)


def _fuzzy_keys(word: str, size: int = 0) -> tuple[str, str]:
    """Bucket keys of a word for typo lookup: its head, and its first letter with its tail.

    Three letters each for words of six letters or more, two for shorter ones (or `size`). The
    tail key keeps the first letter (typos rarely hit it) so that common endings ("-kan",
    "-nya") do not make huge buckets.
    """
    n = size or (3 if len(word) >= 6 else 2)
    return ("<" + word[:n], word[0] + "~" + word[-n:] + ">")


def _fuzzy_keys_of_size(key: str, size: int) -> tuple[str, str]:
    """Whether a bucket key is of the kind a word of `size` letters looks up (as a 1-tuple)."""
    n = 3 if size >= 6 else 2
    if key.startswith("<"):
        return (key, "") if len(key) == n + 1 else ("", "")
    return ("", key) if len(key) == n + 3 else ("", "")


class _PhraseTable:
    """Weighted phrases (1-3 words; longer ones never match) indexed by their first word."""

    __slots__ = ("by_first", "firsts")

    def __init__(self, table: dict[tuple[str, ...], float]) -> None:
        by_first: dict[str, list[tuple[tuple[str, ...], float]]] = defaultdict(list)
        for phrase, w in table.items():
            if 1 <= len(phrase) <= 3:
                by_first[phrase[0]].append((phrase, w))
        # Shortest first: at one position the 1-, 2- and 3-word phrases add up in that order.
        self.by_first = {
            k: tuple(sorted(v, key=lambda pw: len(pw[0]))) for k, v in by_first.items()
        }
        self.firsts = frozenset(self.by_first)

    def score(
        self, tokens: Sequence[str], skip: Callable[[tuple[str, ...]], bool] | None = None
    ) -> float:
        """Summed weight of the phrases found in tokens, except those skipped."""
        if self.firsts.isdisjoint(tokens):
            return 0.0
        total = 0.0
        by_first = self.by_first
        for i, t in enumerate(tokens):
            found = by_first.get(t)
            if found is None:
                continue
            for phrase, w in found:
                size = len(phrase)
                if (size == 1 or tuple(tokens[i : i + size]) == phrase) and not (
                    skip and skip(phrase)
                ):
                    total += w
        return total
