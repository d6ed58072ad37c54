"""Normalisation rules: case, slang, regional words, elongation, numbers, protected acronyms."""

from __future__ import annotations

import pytest

from faq.normalize import Normalizer, load_resources, skeleton, sound_variants


@pytest.fixture(scope="module")
def norm() -> Normalizer:
    return Normalizer()


def test_lowercases_and_applies_nfkc(norm: Normalizer) -> None:
    assert norm.tokens("ＰＡＪＡＫ Motor") == ["pajak", "motor"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yg", ["yang"]),
        ("gmn", ["bagaimana"]),
        ("bgmn", ["bagaimana"]),
        ("gk", ["tidak"]),
        ("ga", ["tidak"]),
        ("gak", ["tidak"]),
        ("tdk", ["tidak"]),
        ("sy", ["saya"]),
        ("udh", ["sudah"]),
        ("sdh", ["sudah"]),
        ("blm", ["belum"]),
        ("brp", ["berapa"]),
        ("kpn", ["kapan"]),
        ("dmn", ["di", "mana"]),
        ("tlg", ["tolong"]),
        ("pjk", ["pajak"]),
    ],
)
def test_chat_abbreviations_expand_to_formal_words(
    norm: Normalizer, raw: str, expected: list[str]
) -> None:
    assert norm.tokens(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("piye carane", ["bagaimana", "cara"]),  # Javanese
        ("sabaraha", ["berapa"]),  # Sundanese
        ("ambo indak tau", ["saya", "tidak", "tahu"]),  # Minang
        ("ulun handak", ["saya", "mau"]),  # Banjar
        ("gue kagak", ["saya", "tidak"]),  # Betawi
        ("kaya apa", ["bagaimana"]),  # Banjar multi-word entry
    ],
)
def test_regional_words_map_to_indonesian(norm: Normalizer, raw: str, expected: list[str]) -> None:
    assert norm.tokens(raw) == expected


@pytest.mark.parametrize(
    "acronym", ["kk", "ktp", "nik", "sim", "stnk", "bpjs", "ppdb", "spmb", "oss", "samsat"]
)
def test_protected_acronyms_are_never_expanded(norm: Normalizer, acronym: str) -> None:
    assert norm.tokens(acronym.upper()) == [acronym]


def test_kk_stays_kartu_keluarga_not_kakak(norm: Normalizer) -> None:
    assert norm.tokens("KK sy hilang") == ["kk", "saya", "hilang"]


def test_repeated_letters_collapse_to_a_known_word(norm: Normalizer) -> None:
    assert norm.tokens("tolonggg minnn") == ["tolong", "min"]
    assert norm.tokens("sampai kapannn") == ["sampai", "kapan"]


def test_legitimate_double_letters_survive(norm: Normalizer) -> None:
    assert norm.tokens("maaf") == ["maaf"]


def test_numbers_glued_to_units_are_split_and_expanded(norm: Normalizer) -> None:
    assert norm.tokens("2thn") == ["2", "tahun"]
    assert norm.tokens("50rb 3jt") == ["50", "ribu", "3", "juta"]


def test_digit_two_reduplication_is_spelled_out(norm: Normalizer) -> None:
    assert norm.tokens("anak2") == ["anak", "anak"]
    assert norm.tokens("ugal2an") == ["ugal", "ugalan"]


def test_question_words_are_kept(norm: Normalizer) -> None:
    toks = norm.tokens("bagaimana berapa kapan")
    assert toks == ["bagaimana", "berapa", "kapan"]
    res = load_resources()
    assert not {"bagaimana", "berapa", "kapan"} & res.stopwords


def test_greeting_and_address_words_are_known_as_topicless() -> None:
    res = load_resources()
    for word in ("min", "kak", "pak", "bu", "gan", "halo", "assalamualaikum"):
        assert word in res.address


def test_urls_and_phone_numbers_are_masked(norm: Normalizer) -> None:
    assert norm.tokens("hub WA 0812-0000-7781 www.contoh.com") == [
        "hubungi",
        "whatsapp",
        "_phone_",
        "_url_",
    ]


@pytest.mark.parametrize("text", ["", "👍👍", "🙏🙏🙏", "   ", "!!!"])
def test_empty_or_symbol_only_input_gives_no_tokens(norm: Normalizer, text: str) -> None:
    assert norm.tokens(text) == []


def test_long_input_is_truncated(norm: Normalizer) -> None:
    assert len(norm.tokens("pajak " * 5000, max_chars=600)) == 100


def test_skeleton_drops_inner_vowels() -> None:
    assert skeleton("pajak") == "pjk"


def test_sound_variants_undo_minang_endings() -> None:
    assert "kampung" in sound_variants("kampuang")
    assert "dinding" in sound_variants("dindiang")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cek https://contoh.id/x ya", ["cek", "_url_", "ya"]),
        ("email ke admin@contoh.go.id", ["email", "ke", "_url_"]),
        ("wa +6281200007781", ["whatsapp", "_phone_"]),
        ("jam 08.00 s.d. 16.00", None),  # dots and "08" without a phone number: not masked
        ("bayar 8 ribu di loket 3.", None),
    ],
)
def test_masking_shortcuts_keep_the_patterns_results(
    norm: Normalizer, text: str, expected: list[str] | None
) -> None:
    # The URL/e-mail/phone patterns are only run when the text holds what they need ("://",
    # "www.", a domain ending, "@", "08"/"+628"); the masks are the same as running them always.
    tokens = norm.tokens(text)
    if expected is not None:
        assert tokens == expected
    else:
        assert "_url_" not in tokens
        assert "_phone_" not in tokens


def test_learning_words_keeps_readings_consistent() -> None:
    # add_known drops only cached words that elongation could now read differently.
    norm = Normalizer()
    before = norm.tokens("tolonggg pajakkk motorrr ditarikkk")
    norm.add_known(["pajakk"])
    fresh = Normalizer(known_words=["pajakk"])
    text = "tolonggg pajakkk motorrr ditarikkk"
    assert norm.tokens(text) == fresh.tokens(text)
    assert before != norm.tokens(text)
