"""Personal data in free text: find and mask NIK, phone numbers and e-mail addresses."""

from __future__ import annotations

import re

# NIK: 16 digits, possibly written with spaces or dots between groups.
_NIK = re.compile(r"(?<!\d)(\d{2})(?:[ .-]?\d){10}([ .-]?\d{4})(?!\d)")
# Indonesian phone numbers: 08xx / +62 8xx / 62 8xx with 8-13 digits after the prefix.
_PHONE = re.compile(r"(?<![\w+])(?:\+?62[ .-]?|0)8\d{1,3}(?:[ .-]?\d){5,10}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Dot-grouped thousands such as "Rp 62.812.345.678" are amounts, not phone numbers.
_AMOUNT = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")


def _is_phone(match: re.Match[str]) -> bool:
    return _AMOUNT.fullmatch(match.group(0)) is None


def _mask_nik(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return digits[:2] + "x" * 10 + digits[-4:]


def _mask_phone(match: re.Match[str]) -> str:
    if not _is_phone(match):
        return match.group(0)
    digits = re.sub(r"\D", "", match.group(0))
    return digits[:4] + "x" * max(0, len(digits) - 7) + digits[-3:]


def _mask_email(match: re.Match[str]) -> str:
    local, _, domain = match.group(0).partition("@")
    return f"{local[:1]}***@{domain}"


def mask_personal_data(text: str) -> str:
    """Mask NIK (``32xxxxxxxxxx1234``), phone numbers and e-mail addresses in ``text``."""
    text = _EMAIL.sub(_mask_email, text)
    text = _NIK.sub(_mask_nik, text)
    return _PHONE.sub(_mask_phone, text)


def contains_personal_data(text: str) -> bool:
    """Whether the text holds something that looks like a NIK, phone number or e-mail."""
    return bool(_NIK.search(text) or any(_is_phone(m) for m in _PHONE.finditer(text))
                or _EMAIL.search(text))
