"""Guessing a ticket's kind from the citizen's words (routing.intake.guess_kind)."""

from __future__ import annotations

import pytest

from routing.intake import guess_kind
from routing.tickets import TicketKind

INFORMASI, PENGADUAN, ASPIRASI = TicketKind.INFORMASI, TicketKind.PENGADUAN, TicketKind.ASPIRASI


@pytest.mark.parametrize("text", [
    "Saya minta data realisasi anggaran jalan provinsi",
    "Mohon informasi jadwal seleksi PPPK",
    "permohonan salinan dokumen AMDAL pabrik di Sukamaju",
    "butuh salinan laporan tahun 2025",
    "ke PPID mana saya harus mengajukan?",
])
def test_requests_for_data_or_documents_are_information_requests(text: str) -> None:
    assert guess_kind(text) is INFORMASI


@pytest.mark.parametrize("text", [
    "Jalan provinsi di km 12 rusak parah",
    "ada pungli di terminal",
    "Saya kecewa pelayanan samsat lambat sekali",
    "bantuan sosial belum cair sejak Juli",
    "tolong lampu lalu lintas mati",
    "Pengajuan saya ditolak tanpa alasan",
])
def test_reports_of_problems_are_complaints(text: str) -> None:
    assert guess_kind(text) is PENGADUAN


@pytest.mark.parametrize("text", [
    "Saran saya sebaiknya ada bus malam ke Kota Pelita",
    "usul agar taman kota diperluas",
    "Masukan untuk dinas pariwisata: festival tiap bulan",
])
def test_suggestions_are_aspirations(text: str) -> None:
    assert guess_kind(text) is ASPIRASI


@pytest.mark.parametrize("text", [
    "Bagaimana cara mengurus izin reklame?",
    "kapan pendaftaran SPMB dibuka",
    "berapa biaya balik nama motor",
    "apakah SIM bisa diperpanjang di Samsat",
])
def test_plain_questions_are_information_requests(text: str) -> None:
    assert guess_kind(text) is INFORMASI


def test_a_complaint_phrased_as_a_question_stays_a_complaint() -> None:
    assert guess_kind("Kenapa jalan rusak di depan sekolah belum diperbaiki?") is PENGADUAN


def test_a_request_for_data_wins_over_complaint_words() -> None:
    assert guess_kind("mohon data jalan rusak tahun 2025") is INFORMASI


def test_text_without_any_cue_defaults_to_a_complaint() -> None:
    assert guess_kind("lampu jalan depan rumah") is PENGADUAN
    assert guess_kind("") is PENGADUAN


def test_matching_ignores_case() -> None:
    assert guess_kind("MINTA DATA APBD") is INFORMASI
    assert guess_kind("SARAN UNTUK DISHUB") is ASPIRASI
