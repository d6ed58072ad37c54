"""Personal data in free text (routing.privacy): NIK, phone numbers and e-mails are masked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.privacy import contains_personal_data, mask_personal_data


@pytest.mark.parametrize(("text", "masked"), [
    ("NIK saya 3201234567891234", "NIK saya 32xxxxxxxxxx1234"),
    ("NIK: 3201 2345 6789 1234.", "NIK: 32xxxxxxxxxx1234."),
    ("nik 32.01.23.456789.1234", "nik 32xxxxxxxxxx1234"),
    ("3201-2345-6789-1234 punya ibu", "32xxxxxxxxxx1234 punya ibu"),
])
def test_nik_keeps_only_the_province_code_and_last_four_digits(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(("text", "masked"), [
    ("hubungi 0812-3456-7890 ya", "hubungi 0812xxxxx890 ya"),
    ("hp 081234567890", "hp 0812xxxxx890"),
    ("WA +62 812-3456-7890", "WA 6281xxxxxx890"),
    ("WA +62 812 3456 7890", "WA 6281xxxxxx890"),
    ("wa.me/6281234567890", "wa.me/6281xxxxxx890"),
    ("telp 0812.3456.7890", "telp 0812xxxxx890"),
])
def test_phone_numbers_keep_only_the_prefix_and_last_three_digits(text: str,
                                                                  masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(("text", "masked"), [
    ("email budi.santoso@example.co.id", "email b***@example.co.id"),
    ("<siti_22@mail.com>", "<s***@mail.com>"),
])
def test_email_keeps_the_first_letter_and_the_domain(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize("text", [
    "Rp 2.000.000",
    "biaya Rp 150.000 per tahun",
    "anggaran Rp 62.812.345.678 untuk jalan",  # a dot-grouped amount starting with 62
    "Rp 812.345.678",
    "tahun 2026",
    "tanggal 23-11-2026 pukul 08.30",
    "jam 08:00-16:00",
    "NIP 19850312 201001 1 003",
    "RT 003 RW 008, kode pos 40115",
    "nomor rekening 1234567890",
    "tahun 2018, 2019, 2020 dan 2021",
    "surat nomor 800/1234/BKD/2026",
    "saya lapor jalan rusak km 12",
])
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text
    assert not contains_personal_data(text)


def test_every_kind_is_masked_in_one_text() -> None:
    text = ("Saya Budi, NIK 3273012345678901, hp 0813-1111-2222, budi@contoh.id; "
            "tagihan Rp 2.000.000 tahun 2026.")
    masked = mask_personal_data(text)
    assert masked == ("Saya Budi, NIK 32xxxxxxxxxx8901, hp 0813xxxxx222, b***@contoh.id; "
                      "tagihan Rp 2.000.000 tahun 2026.")
    assert not contains_personal_data(masked.replace("b***@contoh.id", ""))


@pytest.mark.parametrize("text", ["3201234567891234", "0812-3456-7890", "a@b.co"])
def test_contains_personal_data_spots_each_kind(text: str) -> None:
    assert contains_personal_data(text)


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_personal_data("NIK 3201234567891234 hp 081234567890 x@y.id")
    assert mask_personal_data(once) == once


WORDS = st.text(alphabet=st.characters(categories=("L", "Zs"), max_codepoint=0x24F), max_size=30)


@settings(max_examples=100, deadline=None)
@given(before=WORDS, after=WORDS, nik=st.from_regex(r"[1-9][0-9]{15}", fullmatch=True),
       separator=st.sampled_from(["", " ", ".", "-"]))
def test_a_nik_anywhere_in_words_never_shows_its_middle_digits(
        before: str, after: str, nik: str, separator: str) -> None:
    written = separator.join([nik[:4], nik[4:8], nik[8:12], nik[12:]])
    masked = mask_personal_data(f"{before} {written} {after}")
    assert f"{nik[:2]}{'x' * 10}{nik[-4:]}" in masked
    digits = "".join(ch for ch in masked if ch.isdigit())
    assert nik[2:12] not in digits
