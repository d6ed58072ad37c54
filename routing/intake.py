"""Small pure rules of intake: guessing a ticket's kind from the citizen's words."""

from __future__ import annotations

import re

from routing.tickets import TicketKind

_INFO = re.compile(
    r"\b(minta|mohon|meminta|permohonan)\s+(data|informasi|info|salinan|dokumen|laporan)\b"
    r"|\b(salinan|dokumen|data)\s+\w+\s+(tahun|th)\b|\bppid\b",
    re.IGNORECASE,
)
_ASPIRATION = re.compile(r"\b(saran|usul|usulan|masukan|aspirasi|sebaiknya|harap(nya)?)\b",
                         re.IGNORECASE)
_QUESTION = re.compile(
    r"\?|\b(bagaimana|gimana|gmn|bgmn|apa(kah)?|kapan|kpn|berapa|brp|dimana|di mana|dmn|"
    r"siapa|bisakah|bolehkah|apakah|syarat)\b",
    re.IGNORECASE,
)
_COMPLAINT = re.compile(
    r"\b(rusak|pungli|lapor|keluh|kecewa|tidak (di)?layani|ditolak|lambat|mangkrak|bocor|"
    r"tercemar|banjir|macet|parah|tolong|ditahan|belum (cair|dibayar|diperbaiki))",
    re.IGNORECASE,
)


def guess_kind(text: str) -> TicketKind:
    """A sensible default kind the citizen can change with one tap."""
    if _INFO.search(text):
        return TicketKind.INFORMASI
    if _COMPLAINT.search(text):
        return TicketKind.PENGADUAN
    if _ASPIRATION.search(text):
        return TicketKind.ASPIRASI
    if _QUESTION.search(text):
        return TicketKind.INFORMASI
    return TicketKind.PENGADUAN
