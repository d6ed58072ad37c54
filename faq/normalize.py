"""Normalisation of Indonesian chat messages: case, slang, regional words, elongation, numbers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = [
    "DEFAULT_MAX_CHARS",
    "Normalizer",
    "Resources",
    "load_resources",
    "skeleton",
    "sound_variants",
]

#: Messages are cut to this many characters before normalising; a citizen's real question fits
#: easily,
#: and the cut keeps the cost of a pasted document or a flood message bounded.
DEFAULT_MAX_CHARS = 2000

_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:com|id|net|org|go\.id|co\.id|ly|me)\b\S*"
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
# What any URL must contain (a scheme, "www." or a dot before one of the domain endings): a
# cheap test that skips the URL pattern for nearly every message.
_URL_HINT_RE = re.compile(r"://|www\.|\.(?:com|id|net|org|go|co|ly|me)")
# Phone numbers such as 0812-0000-7781, +62 812 0000 7781 or 08120000xxxx.
_PHONE_RE = re.compile(r"(?:\+62|\b0)8[\d\- ]{6,}[\dx]*", re.IGNORECASE)
# "tiba2", "anak2nya", "ugal2an": Indonesian reduplication written with a digit 2.
_REDUP_RE = re.compile(r"^([a-z]{2,})2(an|nya|kan|lah|i|ny)?$")
_DIGIT_ALPHA_RE = re.compile(r"(\d)([a-z])")
_ALPHA_DIGIT_RE = re.compile(r"([a-z]{3,})(\d)")
_RUN3_RE = re.compile(r"(.)\1{2,}")
_RUN2_RE = re.compile(r"(.)\1+")
_TOKEN_RE = re.compile(r"[^\W_]+|_url_|_phone_")
_LAUGH_RE = re.compile(
    r"^(?:w?k?(?:wk)+w?|a?(?:ha)+h?|(?:he)+h?|(?:hi)+h?|(?:xi)+|awk(?:wk)*|lol+|ckck+)$"
)
_VOWELS = frozenset("aeiou")
#: Per-word caches of the normaliser are cleared when they reach this size.
_CACHE_SIZE = 100_000
# Letters a laugh can start with (the first letters _LAUGH_RE allows).
_LAUGH_FIRST = frozenset("wkahxlc")


def skeleton(word: str) -> str:
    """Consonant skeleton of a word ("pajak" -> "pjk"), to read vowel-dropped chat spellings."""
    if not word:
        return word
    return word[0] + "".join(ch for ch in word[1:] if ch not in _VOWELS)


@dataclass(frozen=True)
class Resources:
    """Editable word lists from faq/data, parsed once."""

    lexicon: dict[tuple[str, ...], tuple[str, ...]]
    max_phrase: int
    protected: frozenset[str]
    stopwords: frozenset[str]
    address: frozenset[str]
    smalltalk: frozenset[str]
    spam: dict[tuple[str, ...], float]
    out_of_remit: dict[tuple[str, ...], float]
    case_markers: dict[tuple[str, ...], float]
    places: frozenset[tuple[str, ...]]
    place_markers: frozenset[str]
    synonyms: dict[str, str]
    opd_keywords: dict[str, tuple[str, ...]]

    @property
    def known_words(self) -> frozenset[str]:
        """Every word the lists know, used to undo letter elongation ("tolonggg")."""
        words: set[str] = set(self.protected | self.stopwords | self.address | self.smalltalk)
        for key, value in self.lexicon.items():
            words.update(key)
            words.update(value)
        return frozenset(words)


def _data_lines(name: str) -> list[tuple[int, str]]:
    text = resources.files("faq.data").joinpath(name).read_text(encoding="utf-8")
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.append((number, line))
    return out


def _phrase(text: str) -> tuple[str, ...]:
    # Data files are written in plain words; run them through the same cheap cleaning as messages.
    return tuple(
        _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold().replace("'", ""))
    )


def _weighted(name: str) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for number, line in _data_lines(name):
        term, _, weight = line.partition("\t")
        try:
            out[_phrase(term)] = float(weight) if weight.strip() else 1.0
        except ValueError as exc:
            raise ValueError(
                f"faq/data/{name}:{number}: weight {weight!r} is not a number"
            ) from exc
    return out


def _words(name: str) -> frozenset[str]:
    out: set[str] = set()
    for _, line in _data_lines(name):
        out.update(_phrase(line))
    return frozenset(out)


@lru_cache(maxsize=1)
def load_resources() -> Resources:
    """Load and parse the word lists in faq/data (cached for the process)."""
    lexicon: dict[tuple[str, ...], tuple[str, ...]] = {}
    for number, line in _data_lines("lexicon.tsv"):
        if "\t" not in line:
            raise ValueError(f"faq/data/lexicon.tsv:{number}: expected 'slang<TAB>formal'")
        left, right = line.split("\t", 1)
        key = _phrase(left)
        if not key:
            raise ValueError(f"faq/data/lexicon.tsv:{number}: empty left side")
        if key in lexicon:
            raise ValueError(f"faq/data/lexicon.tsv:{number}: duplicate entry {left!r}")
        lexicon[key] = _phrase(right)
    places: set[tuple[str, ...]] = set()
    markers: set[str] = set()
    for _, line in _data_lines("places.txt"):
        if line.startswith("@"):
            markers.update(_phrase(line[1:]))
        else:
            places.add(_phrase(line))
    return Resources(
        lexicon=lexicon,
        max_phrase=max(len(k) for k in lexicon),
        protected=_words("protected.txt"),
        stopwords=_words("stopwords.txt"),
        address=_words("address.txt"),
        smalltalk=_words("smalltalk.txt"),
        spam=_weighted("spam.txt"),
        out_of_remit=_weighted("out_of_remit.txt"),
        case_markers=_weighted("case_markers.txt"),
        places=frozenset(places),
        place_markers=frozenset(markers),
        synonyms=_synonyms(),
        opd_keywords=_opd_keywords(),
    )


def _opd_keywords() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for number, line in _data_lines("opd_keywords.tsv"):
        code, sep, words = line.partition("\t")
        if not sep:
            raise ValueError(
                f"faq/data/opd_keywords.tsv:{number}: expected 'CODE<TAB>word | word'"
            )
        out[code.strip()] = tuple(w.strip() for w in words.split("|") if w.strip())
    return out


def _synonyms() -> dict[str, str]:
    out: dict[str, str] = {}
    for number, line in _data_lines("synonyms.tsv"):
        left, sep, right = line.partition("\t")
        if not sep or not right.strip():
            raise ValueError(f"faq/data/synonyms.tsv:{number}: expected 'word<TAB>canonical'")
        out[left.strip().casefold()] = right.strip().casefold()
    return out


# Regular sound correspondences between regional spellings and Indonesian (Minang -uang/-ung,
# -iang/-ing, -uik/-ut, -ek/-at, -ia/-ar, -o/-a; Javanese/Sundanese -ipun/-e/-na/-keun; Betawi
# -e/-a, -in).
_SUFFIX_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("uang", ("ung",)),
    ("iang", ("ing",)),
    ("uah", ("uh",)),
    ("iah", ("ih",)),
    ("uik", ("ut",)),
    ("uak", ("uk",)),
    ("aik", ("at",)),
    ("ik", ("it", "ih")),
    ("ek", ("at", "et")),
    ("eh", ("as", "es")),
    ("ok", ("ap", "at")),
    ("ia", ("ar", "ir")),
    ("ua", ("ur",)),
    ("ipun", ("nya", "")),
    ("nipun", ("nya", "")),
    ("keun", ("kan",)),
    ("aken", ("kan",)),
    ("ken", ("kan",)),
    ("nye", ("nya",)),
    ("na", ("nya", "")),
    ("ne", ("nya", "")),
    ("in", ("kan", "")),
    ("o", ("a",)),
    ("e", ("a", "")),
)
_PREFIX_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dipun", ("di",)),
    ("mam", ("mem",)),
    ("man", ("men",)),
    ("mang", ("meng",)),
    ("ma", ("me", "")),
    ("pa", ("pe",)),
    ("ba", ("ber", "be")),
    ("ta", ("ter",)),
    ("sa", ("se",)),
    ("ka", ("ke",)),
    ("nge", ("",)),
    ("ng", ("",)),
    ("ny", ("s", "c")),
    ("n", ("",)),
    ("m", ("",)),
)


def _rules_by(
    rules: tuple[tuple[str, tuple[str, ...]], ...], index: int
) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """Rules grouped by the first (index 0) or last (-1) letter of their affix, order kept."""
    out: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
    for rule in rules:
        out[rule[0][index]] = (*out.get(rule[0][index], ()), rule)
    return out


# Only the rules whose affix starts (ends) with the word's first (last) letter can apply.
_PREFIX_RULES_BY_HEAD = _rules_by(_PREFIX_RULES, 0)
_SUFFIX_RULES_BY_TAIL = _rules_by(_SUFFIX_RULES, -1)


def sound_variants(word: str, limit: int = 40) -> list[str]:
    """Plausible Indonesian spellings of a regional/colloquial word ("kampuang" -> "kampung")."""
    if len(word) < 4 or not word.isalpha():
        return []
    heads = [word]
    for pre, subs in _PREFIX_RULES_BY_HEAD.get(word[0], ()):
        if word.startswith(pre) and len(word) - len(pre) >= 3:
            heads.extend(sub + word[len(pre) :] for sub in subs)
            break
    out: list[str] = []
    for head in heads:
        tails = [head]
        for suf, subs in _SUFFIX_RULES_BY_TAIL.get(head[-1], ()):
            if head.endswith(suf) and len(head) - len(suf) >= 3:
                tails.extend(head[: len(head) - len(suf)] + sub for sub in subs)
                break
        for t in tails:
            out.append(t)
            # First-syllable "a" where Indonesian has schwa "e" (balakang -> belakang, pamarintah).
            if len(t) > 4 and t[1] == "a" and t[0] not in "aeiou":
                out.append(t[0] + "e" + t[2:])
    seen: set[str] = {word}
    uniq = []
    for v in out:
        if v not in seen:
            seen.add(v)
            uniq.append(v)
    return uniq[:limit]


class Normalizer:
    """Turns raw text into lower-case formal-Indonesian tokens; deterministic, no side effects."""

    def __init__(self, res: Resources | None = None, known_words: Iterable[str] = ()) -> None:
        self.res = res or load_resources()
        self._known = set(self.res.known_words)
        self._known.update(known_words)
        self._cache: dict[str, tuple[str, ...]] = {}
        # Longest lexicon phrase starting with each word, so most tokens need one lookup.
        self._phrase_len: dict[str, int] = {}
        for key in self.res.lexicon:
            if len(key) > self._phrase_len.get(key[0], 1) and key[0] not in self.res.protected:
                self._phrase_len[key[0]] = len(key)
        # Reading of a single word (lexicon, laughter, protected), cached per word.
        self._single: dict[str, tuple[str, ...]] = {}

    def add_known(self, words: Iterable[str]) -> None:
        """Teach the elongation fixer more real words (the FAQ index vocabulary)."""
        self._known.update(words)
        # Only a word with a letter repeated three times can read differently now (elongation);
        # the rest of the cache stays valid.
        for tok in [t for t in self._cache if _RUN3_RE.search(t)]:
            del self._cache[tok]

    def clean(self, text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
        """Unicode-normalise, lower-case, and mask URLs and phone numbers; no tokenising."""
        if not text:
            return ""
        text = text[:max_chars]
        text = unicodedata.normalize("NFKC", text).casefold()
        # Each pattern needs a character most messages lack: test for it before running the
        # (slower) regular expression, which could not match anyway.
        if "@" in text:
            text = _EMAIL_RE.sub(" _url_ ", text)
        if _URL_HINT_RE.search(text):
            text = _URL_RE.sub(" _url_ ", text)
        if "08" in text or "+628" in text:
            text = _PHONE_RE.sub(" _phone_ ", text)
        # Apostrophes mark glottal stops in regional spellings (tabe', di'): drop them inside
        # words.
        return text.replace("'", "").replace("’", "").replace("`", "")

    def raw_tokens(self, text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
        """Tokens after cleaning, reduplication and number splitting, before the lexicon."""
        out: list[str] = []
        cache = self._cache
        for tok in _TOKEN_RE.findall(self.clean(text, max_chars)):
            parts = cache.get(tok)
            out.extend(parts if parts is not None else self._split_token(tok))
        return out

    def _split_token(self, tok: str) -> tuple[str, ...]:
        cached = self._cache.get(tok)
        if cached is not None:
            return cached
        result: tuple[str, ...]
        if tok in self.res.protected or tok.startswith("_"):
            result = (tok,)
        elif tok.isalpha():
            # No digit: neither reduplication ("anak2") nor a number to split off.
            result = (self._unelongate(tok),)
        elif (m := _REDUP_RE.match(tok)) is not None:
            base, suffix = m.group(1), m.group(2) or ""
            base = self._unelongate(base)
            result = (base, base + suffix) if suffix else (base, base)
        elif any(ch.isdigit() for ch in tok) and not tok.isdigit():
            # "2thn" -> "2 thn", "50rb" -> "50 rb", "koridor2" is left to reduplication above.
            spaced = _ALPHA_DIGIT_RE.sub(r"\1 \2", _DIGIT_ALPHA_RE.sub(r"\1 \2", tok))
            result = tuple(self._unelongate(p) for p in spaced.split())
        else:
            result = (self._unelongate(tok),)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[tok] = result
        return result

    def _unelongate(self, tok: str) -> str:
        if not _RUN3_RE.search(tok) or _LAUGH_RE.match(tok):
            return tok
        double = _RUN3_RE.sub(r"\1\1", tok)
        if double in self._known:
            return double
        single = _RUN3_RE.sub(r"\1", tok)
        if single in self._known:
            return single
        # Still unknown: also collapse ordinary doubles ("kapann" -> "kapan") if that gives a word.
        collapsed = _RUN2_RE.sub(r"\1", single)
        return collapsed if collapsed in self._known else single

    def tokens(self, text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
        """Normalised tokens: slang and regional words mapped to Indonesian, acronyms kept."""
        raw = self.raw_tokens(text, max_chars)
        lex = self.res.lexicon
        phrase_len = self._phrase_len
        single = self._single
        out: list[str] = []
        i = 0
        n = len(raw)
        while i < n:
            tok = raw[i]
            longest = phrase_len.get(tok)
            if longest is not None and i + 1 < n:
                # The word starts a lexicon phrase of several words: longest match first.
                for size in range(min(longest, n - i), 1, -1):
                    mapped = lex.get(tuple(raw[i : i + size]))
                    if mapped is not None:
                        out.extend(mapped)
                        i += size
                        break
                else:
                    longest = None
                if longest is not None:
                    continue
            # One word: its reading does not depend on its neighbours (cached per word).
            one = single.get(tok)
            if one is None:
                one = self._single_word(tok)
            out.extend(one)
            i += 1
        return out

    def _single_word(self, tok: str) -> tuple[str, ...]:
        """The normalised form of one word on its own: protected, lexicon, laughter or itself."""
        if tok in self.res.protected:
            one: tuple[str, ...] = (tok,)
        else:
            mapped = self.res.lexicon.get((tok,))
            if mapped is not None:
                one = mapped
            elif tok[:1] in _LAUGH_FIRST and _LAUGH_RE.match(tok):
                one = ("wkwk",)
            else:
                one = (tok,)
        if len(self._single) >= _CACHE_SIZE:
            self._single.clear()
        self._single[tok] = one
        return one

    def normalize(self, text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
        """Normalised text as one space-separated string."""
        return " ".join(self.tokens(text, max_chars))
