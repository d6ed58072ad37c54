"""What arrives from any chat channel, in one channel-neutral shape."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | None) -> str | None:
    """Drop control characters (NUL and friends) that no citizen means to send.

    PostgreSQL refuses NUL in text columns, and terminal escapes have no place in a ticket.
    """
    if value is None:
        return None
    return _CONTROL.sub("", value)


@dataclass(frozen=True)
class Inbound:
    """One message, command or button press from a chat (Telegram, console, WhatsApp)."""

    channel: str
    chat_id: int
    user_id: int | None
    is_private: bool = True
    update_id: int | None = None
    message_id: int | None = None
    user_name: str | None = None
    text: str | None = None
    command: str | None = None
    args: tuple[str, ...] = ()
    callback_data: str | None = None
    callback_message_id: int | None = None
    reply_to_message_id: int | None = None
    attachment: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every channel's input passes here, so one place cleans it for all of them.
        for name in ("text", "user_name", "callback_data"):
            object.__setattr__(self, name, clean_text(getattr(self, name)))
        object.__setattr__(self, "args", tuple(clean_text(a) or "" for a in self.args))
        if self.attachment is not None:
            object.__setattr__(self, "attachment", {
                k: clean_text(v) if isinstance(v, str) else v
                for k, v in self.attachment.items()})

    @staticmethod
    def split_command(text: str) -> tuple[str | None, tuple[str, ...]]:
        """``/status@bot X`` -> ("status", ("X",)); plain text -> (None, ())."""
        stripped = text.strip()
        if not stripped.startswith("/") or len(stripped) < 2:
            return None, ()
        head, *rest = stripped.split(maxsplit=1)
        name = head[1:].split("@", 1)[0].lower()
        if not name or not name.replace("_", "").isalnum():
            return None, ()
        args = tuple(rest[0].split()) if rest else ()
        return name, args

    @property
    def rest_text(self) -> str:
        """The text after the command word (for commands that take free text)."""
        if not self.text:
            return ""
        parts = self.text.strip().split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""
