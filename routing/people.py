"""People and places the domain knows: OPDs, staff, citizens, relay links and drafts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a registered person may do."""

    STAFF = "staff"  # PPID Pembantu of one OPD (or PPID Utama staff, by OPD code)
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Opd:
    """An agency queue (or the PPID Utama desk)."""

    code: str
    name: str
    description: str = ""
    queue_chat_id: int | None = None
    is_ppid_utama: bool = False
    keywords: tuple[str, ...] = ()
    active: bool = True
    # The description came from an OPD import (``sahut faq import``), not from config.toml:
    # start-up keeps it instead of writing the configured description over it.
    description_imported: bool = False


@dataclass(frozen=True)
class Staff:
    """A registered staff member, supervisor or admin."""

    telegram_id: int
    name: str
    role: Role
    opd_code: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Citizen:
    """A citizen known only by channel, channel id and display name."""

    channel: str
    external_id: str
    display_name: str | None = None
    id: int | None = None
    blocked_at: datetime | None = None


@dataclass(frozen=True)
class MessageLink:
    """A chat message that belongs to a ticket: a card, a relayed answer, a citizen copy."""

    channel: str
    chat_id: int
    message_id: int
    ticket_id: int
    purpose: str


@dataclass
class Draft:
    """A ticket being prepared in a citizen's chat: text, proposal and evidence."""

    channel: str
    chat_id: int
    data: dict[str, Any] = field(default_factory=dict)
