"""``sahut chat``: the whole conversation in a terminal, on the embedded default database.

The console is just another channel: the same dispatcher, use cases, templates and outbox
as Telegram. Every identity (citizen, OPD staff, supervisor) is simulated; staff groups
are simulated chats whose messages you see when you switch to that role.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select

from bot.config import Config
from bot.render import html_to_plain
from bot.sender import OutboxSender, RenderedMessage
from bot.services import Services, build_services
from db.engine import make_engine
from db.migrate import upgrade
from db.models import MessageLinkRow, OutboxRow
from faq.loader import load_faq_files
from handlers.dispatch import Dispatcher
from handlers.inbound import Inbound
from routing.people import Role, Staff

CHANNEL = "console"
CITIZEN_CHAT = 1001
# Demo identities use negative ids: no real Telegram user can ever have them.
DEMO_ADMIN, DEMO_SUPERVISOR, DEMO_PPID = -1, -2, -3
SAMPLE_FAQ = "sample/faq.csv"

HELP = """Console commands (everything else is sent to the bot as a chat message):
  /as citizen [N]        talk as citizen number N (default 1)
  /as staff CODE         act as staff of OPD CODE in its queue group (e.g. /as staff BAPENDA)
  /as ppid               act as PPID Utama staff in the triage group
  /as supervisor         talk as a supervisor (try /ringkasan, /terlambat)
  /as admin              talk as an admin
  :N                     press button N of the last message that has buttons
  :N@ID                  press button N of message #ID
  >ID text               reply to message #ID (staff answer a ticket by replying to its card)
  /photo [caption]       send a (simulated) photo; /doc NAME; /location
  /who                   who you are now
  /quit                  leave"""


@dataclass
class ConsoleChat:
    """What one simulated chat has received."""

    messages: list[RenderedMessage] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    unread: int = 0


class ConsoleTransport:
    """Delivers rendered messages into the simulated chats and prints the current one."""

    def __init__(self, out: TextIO, first_id: int) -> None:
        self.out = out
        self.chats: dict[int, ConsoleChat] = defaultdict(ConsoleChat)
        self.current_chat = CITIZEN_CHAT
        self._ids = itertools.count(first_id)

    async def send(self, message: RenderedMessage) -> int:
        """Store the message in its chat; print it if that chat is on screen."""
        message_id = next(self._ids)
        chat = self.chats[message.chat_id]
        chat.messages.append(message)
        chat.ids.append(message_id)
        if message.chat_id == self.current_chat:
            self.show(message_id, message)
        else:
            chat.unread += 1
        return message_id

    def show(self, message_id: int, message: RenderedMessage) -> None:
        """Print one message the way a phone would show it."""
        print(f"\n[bot #{message_id}]", file=self.out)
        if message.attachment:
            kind = message.attachment.get("kind", "file")
            print(f"  ({kind} attached)", file=self.out)
        for line in html_to_plain(message.text).splitlines():
            print(f"  {line}", file=self.out)
        number = 1
        for row in message.buttons:
            labels = []
            for label, _data in row:
                labels.append(f"[{number}] {label}")
                number += 1
            print("  " + "  ".join(labels), file=self.out)
        self.out.flush()

    def last_with_buttons(self, chat_id: int, message_id: int | None = None
                          ) -> tuple[int, RenderedMessage] | None:
        """The message whose buttons a ':N' press refers to."""
        chat = self.chats[chat_id]
        for mid, message in zip(reversed(chat.ids), reversed(chat.messages), strict=True):
            if message.buttons and (message_id is None or mid == message_id):
                return mid, message
        return None


@dataclass
class Identity:
    """Who the console user is pretending to be."""

    label: str
    user_id: int
    chat_id: int
    private: bool
    name: str


def seed_demo(services: Services) -> list[str]:
    """Fill an empty database with the sample FAQ and demo staff; say what was added."""
    notes: list[str] = []
    with services.uow() as uow:
        if uow.faqs.count() == 0:
            path = Path(str(resources.files("bot").joinpath(SAMPLE_FAQ)))
            known = {o.code for o in uow.opds.all()}
            entries = load_faq_files([path], known)
            uow.faqs.upsert_many(entries, services.clock(), sample=True)
            notes.append(f"loaded {len(entries)} sample FAQ entries")
        people = {s.telegram_id for s in uow.staff.all()}
        now = services.clock()
        demo = [Staff(DEMO_ADMIN, "Admin Demo", Role.ADMIN),
                Staff(DEMO_SUPERVISOR, "Supervisor Demo", Role.SUPERVISOR),
                Staff(DEMO_PPID, "Petugas PPID Utama", Role.STAFF,
                      services.config.ppid_utama.code)]
        demo += [Staff(-(100 + i), f"Petugas {opd.code}", Role.STAFF, opd.code)
                 for i, opd in enumerate(services.config.opds)]
        added = [s for s in demo if s.telegram_id not in people]
        for person in added:
            uow.staff.add(person, now)
        if added:
            notes.append(f"added {len(added)} demo staff (negative ids, console only)")
        uow.commit()
    return notes


def _first_message_id(services: Services) -> int:
    with services.session_factory() as session:
        top = session.scalar(select(func.max(MessageLinkRow.message_id))
                             .where(MessageLinkRow.channel == CHANNEL))
        sent = session.scalar(select(func.max(OutboxRow.message_id))
                              .where(OutboxRow.channel == CHANNEL))
    return max(top or 0, sent or 0) + 1


class Console:
    """The interactive loop."""

    def __init__(self, services: Services, out: TextIO = sys.stdout) -> None:
        self.services = services
        self.out = out
        self.dispatcher = Dispatcher(services)
        self.transport = ConsoleTransport(out, _first_message_id(services))
        self.sender = OutboxSender(
            session_factory=services.session_factory, renderer=services.renderer,
            transport=self.transport, channel=CHANNEL, helpdesk=services.helpdesk,
            clock=services.clock)
        self.identity = Identity("citizen 1", CITIZEN_CHAT, CITIZEN_CHAT, True, "Warga Satu")
        self._message_ids = itertools.count(1)

    def say(self, text: str) -> None:
        """Print a console (non-bot) line."""
        print(text, file=self.out)
        self.out.flush()

    def switch(self, args: list[str]) -> None:
        """Handle ``/as ...``."""
        role = args[0].lower() if args else ""
        config = self.services.config
        if role == "citizen":
            n = int(args[1]) if len(args) > 1 and args[1].isdigit() else 1
            self.identity = Identity(f"citizen {n}", 1000 + n, 1000 + n, True, f"Warga {n}")
        elif role in ("staff", "ppid"):
            code = config.ppid_utama.code if role == "ppid" else (args[1].upper()
                                                                   if len(args) > 1 else "")
            with self.services.uow() as uow:
                opd = uow.opds.get(code)
                staff = next((s for s in uow.staff.for_opd(code)), None)
            if opd is None or opd.queue_chat_id is None:
                codes = ", ".join(config.all_codes)
                self.say(f"Unknown OPD {code!r}. Known: {codes}")
                return
            if staff is None:
                self.say(f"No staff registered for {code}; add one with "
                         f"`sahut staff add --telegram-id N --name NAME --opd {code}`.")
                return
            self.identity = Identity(f"{staff.name} (staff {code}) in the {code} queue group",
                                     staff.telegram_id, opd.queue_chat_id, False, staff.name)
        elif role in ("supervisor", "admin"):
            wanted = Role.SUPERVISOR if role == "supervisor" else Role.ADMIN
            with self.services.uow() as uow:
                person = next((s for s in uow.staff.all() if s.role is wanted), None)
            if person is None:
                self.say(f"No {role} registered; add one with `sahut staff add ... --{role}`.")
                return
            self.identity = Identity(f"{person.name} ({role})", person.telegram_id,
                                     person.telegram_id, True, person.name)
        else:
            self.say("Usage: /as citizen [N] | /as staff CODE | /as ppid | /as supervisor | "
                     "/as admin")
            return
        self.transport.current_chat = self.identity.chat_id
        self.say(f"You are now {self.identity.label}.")
        chat = self.transport.chats[self.identity.chat_id]
        if chat.unread:
            self.say(f"({chat.unread} new message(s) here)")
            for mid, message in list(zip(chat.ids, chat.messages,
                                         strict=True))[-chat.unread:]:
                self.transport.show(mid, message)
            chat.unread = 0

    def inbound(self, **kwargs: object) -> Inbound:
        """An Inbound from the current identity."""
        ident = self.identity
        return Inbound(channel=CHANNEL, chat_id=ident.chat_id, user_id=ident.user_id,
                       is_private=ident.private, message_id=next(self._message_ids),
                       user_name=ident.name, **kwargs)  # type: ignore[arg-type]

    def parse(self, line: str) -> Inbound | None:
        """Turn a typed line into an Inbound (or run a console command)."""
        line = line.strip()
        if not line:
            return None
        if line.startswith(":"):
            target, _, at = line[1:].partition("@")
            if not target.isdigit():
                self.say("Press a button with :N (or :N@ID).")
                return None
            found = self.transport.last_with_buttons(
                self.identity.chat_id, int(at) if at.isdigit() else None)
            flat = [b for row in found[1].buttons for b in row] if found else []
            index = int(target) - 1
            if found is None or not 0 <= index < len(flat):
                self.say("No such button here.")
                return None
            label, data = flat[index]
            self.say(f"(pressed: {label})")
            return self.inbound(callback_data=data, callback_message_id=found[0])
        if line.startswith(">"):
            head, _, text = line[1:].partition(" ")
            if not head.isdigit():
                self.say("Reply with >ID text (ID is the #number of the bot message).")
                return None
            command, args = Inbound.split_command(text)
            return self.inbound(text=text, reply_to_message_id=int(head), command=command,
                                args=args)
        command, args = Inbound.split_command(line)
        if command == "photo":
            return self.inbound(attachment={"kind": "photo", "file_id": "console-photo",
                                            "caption": " ".join(args) or None})
        if command == "doc":
            return self.inbound(attachment={"kind": "document", "file_id": "console-doc",
                                            "file_name": " ".join(args) or "dokumen.pdf"})
        if command == "location":
            return self.inbound(attachment={"kind": "location", "latitude": -6.2,
                                            "longitude": 106.8})
        return self.inbound(text=line, command=command, args=args)

    async def handle_line(self, line: str) -> bool:
        """Process one typed line; False when the user wants to leave."""
        stripped = line.strip()
        if stripped in ("/quit", "/exit"):
            return False
        if stripped in ("/help-console", "/konsol"):
            self.say(HELP)
            return True
        if stripped == "/who":
            self.say(f"You are {self.identity.label}.")
            return True
        if stripped.startswith("/as"):
            self.switch(stripped.split()[1:])
            return True
        inbound = self.parse(line)
        if inbound is None:
            return True
        await asyncio.to_thread(self.dispatcher.handle, inbound)
        await self.sender.drain()
        return True

    async def run(self, lines: TextIO) -> None:
        """Read lines until EOF or /quit."""
        interactive = lines.isatty()
        self.say(f"Sahut chat console — {self.services.config.province.name}. "
                 "You are citizen 1; type a question. /help-console lists console commands.")
        while True:
            if interactive:
                try:
                    line = await asyncio.to_thread(input, "\n> ")
                except EOFError:
                    break
            else:
                line = lines.readline()
                if not line:
                    break
                self.say(f"\n> {line.rstrip()}")
            if not await self.handle_line(line):
                break
        await self.sender.drain()


def open_console_services(config: Config, *, demo: bool = True) -> tuple[Services, list[str]]:
    """Upgrade the embedded database if needed, build services, seed demo data."""
    engine = make_engine(config.database.url)
    before, after = upgrade(engine)
    notes = [f"database created at revision {after}"] if before != after else []
    services = build_services(config, engine=engine, staff_channel=CHANNEL)
    if demo:
        notes += seed_demo(services)
    return services, notes


def run_console(config: Config, *, demo: bool = True, lines: TextIO | None = None,
                out: TextIO | None = None) -> int:
    """Entry point of ``sahut chat``."""
    services, notes = open_console_services(config, demo=demo)
    console = Console(services, out or sys.stdout)
    for note in notes:
        console.say(f"({note})")
    try:
        asyncio.run(console.run(lines or sys.stdin))
    finally:
        services.dispose()
    return 0
