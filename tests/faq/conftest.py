"""Shared fixtures: the evaluation corpus in ../shared/faq-eval (tests skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faq.loader import load_corpus
from faq.matcher import FaqMatcher
from faq.model import FaqEntry, OpdProfile

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "faq-eval"


def require_data() -> Path:
    """The shared data folder, or skip the test with the reason."""
    if not (DATA / "faq.csv").is_file():
        pytest.skip(
            f"evaluation data not found at {DATA} (expected ../shared/faq-eval beside the repo)"
        )
    return DATA


@pytest.fixture(scope="session")
def corpus_matcher() -> FaqMatcher:
    """A matcher over the shared 156-FAQ corpus, built once per test session."""
    data = require_data()
    return FaqMatcher.build(*load_corpus(data / "faq.csv", data / "opd.toml"))


TINY_OPDS = [
    OpdProfile(
        "BAPENDA", "Badan Pendapatan Daerah", "Pajak kendaraan bermotor dan layanan Samsat."
    ),
    OpdProfile(
        "DISDIK", "Dinas Pendidikan", "SMA, SMK, SLB, ijazah, penerimaan murid baru dan guru."
    ),
    OpdProfile("DLH", "Dinas Lingkungan Hidup", "Pencemaran lingkungan, limbah pabrik dan AMDAL."),
    OpdProfile(
        "DISKOMINFO", "Dinas Komunikasi dan Informatika", "PPID, hoaks, administrasi kependudukan."
    ),
]

TINY_FAQS = [
    FaqEntry(
        "bapenda-001",
        "BAPENDA",
        "Bagaimana cara membayar pajak kendaraan bermotor tahunan?",
        "Bayar di Samsat atau aplikasi e-Samsat.",
        ("Di mana bayar pajak motor tahunan?",),
        ("pajak kendaraan", "bayar pajak", "e-Samsat"),
    ),
    FaqEntry(
        "disdik-004",
        "DISDIK",
        "Bagaimana mengurus ijazah SMA yang hilang atau rusak?",
        "Minta surat keterangan pengganti ijazah di sekolah.",
        ("Ijazah SMA saya hilang, bisa dicetak ulang?",),
        ("ijazah hilang", "ijazah rusak"),
    ),
    FaqEntry(
        "dlh-001",
        "DLH",
        "Bagaimana cara mengadukan pencemaran lingkungan oleh perusahaan?",
        "Laporkan lewat kanal pengaduan DLH dengan foto dan lokasi.",
        ("Lapor limbah pabrik ke mana?",),
        ("pencemaran", "limbah pabrik", "sungai tercemar"),
    ),
    FaqEntry(
        "diskominfo-008",
        "DISKOMINFO",
        "Di mana mengurus KTP-el, Kartu Keluarga, atau akta kelahiran?",
        "Di Disdukcapil kabupaten/kota.",
        ("KTP hilang, lapor ke mana?",),
        ("KTP", "KK", "akta kelahiran"),
    ),
]


@pytest.fixture(scope="session")
def tiny_matcher() -> FaqMatcher:
    """A matcher over four hand-written FAQs (no shared data needed)."""
    return FaqMatcher.build(TINY_FAQS, TINY_OPDS)
