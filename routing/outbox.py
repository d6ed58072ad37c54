"""Outgoing messages as data, written in the same transaction as the change they report.

The domain never talks to a chat platform: it records what must be said, to whom, with
which template; a sender in ``bot/`` renders and delivers it, then records relay links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    """Lower goes first: a citizen waiting for a reply beats a card, a reminder or a digest."""

    REPLY = 0
    RELAY = 1
    CARD = 2
    REMINDER = 3
    DIGEST = 4


@dataclass(frozen=True)
class Button:
    """An inline button: a label key (from templates/labels.toml) and its callback data."""

    label: str
    data: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver to a chat."""

    channel: str
    chat_id: int
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: dict[str, Any] | None = None
    ticket_id: int | None = None
    link_purpose: str | None = None
    reply_to_message_id: int | None = None
    priority: Priority = Priority.REPLY

    def keyboard_json(self) -> dict[str, Any] | None:
        """Buttons as JSON for storage."""
        if not self.buttons:
            return None
        return {"rows": [[{"label": b.label, "data": b.data, "params": b.params} for b in row]
                         for row in self.buttons]}
