"""A real Sahut Application polling a fake Bot API on 127.0.0.1, driven like a chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from bot.config import Config
from bot.services import Services, build_services
from bot.telegram_app import (
    build_application,
    poll_updates,
    start_background,
    stop_background,
)
from db.models import OutboxRow, ProcessedUpdateRow
from faq.model import FaqEntry
from routing.people import Role, Staff
from tests.builders import BAPENDA_CHAT, DISHUB_CHAT, PPID_CHAT, FixedClock, build_config
from tests.telegram_fake import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
CITIZEN = 5001
OTHER_CITIZEN = 5002
BAPENDA_STAFF = 7101
DISHUB_STAFF = 7102
PPID_STAFF = 7103
SUPERVISOR = 7201
STRANGER = 7999

SAMPLE_FAQ = (
    FaqEntry("bapenda-001", "BAPENDA", "Bagaimana cara membayar pajak kendaraan bermotor?",
             "Pajak kendaraan dapat dibayar di Samsat atau melalui aplikasi e-Samsat.",
             ("Di mana bayar pajak motor?",), ("pajak kendaraan", "PKB", "samsat")),
    FaqEntry("dishub-001", "DISHUB", "Berapa tarif bus Trans Contoh?",
             "Tarif bus Trans Contoh Rp 4.000 sekali jalan.", (), ("trans contoh", "tarif bus")),
)


def telegram_config(db_url: str, fake: FakeTelegram) -> Config:
    """The test configuration pointed at the fake Bot API."""
    return build_config(db_url, telegram={"base_url": fake.base_url,
                                          "base_file_url": fake.base_file_url},
                        env={"TELEGRAM_BOT_TOKEN": TOKEN})


def seed(services: Services) -> None:
    """FAQ entries and the registered staff the transcripts use."""
    with services.uow() as uow:
        now = services.clock()
        uow.faqs.upsert_many(SAMPLE_FAQ, now)
        for person in (Staff(BAPENDA_STAFF, "Sari", Role.STAFF, "BAPENDA"),
                       Staff(DISHUB_STAFF, "Dodi", Role.STAFF, "DISHUB"),
                       Staff(PPID_STAFF, "Putri", Role.STAFF, "PPID"),
                       Staff(SUPERVISOR, "Bu Kepala", Role.SUPERVISOR)):
            uow.staff.add(person, now)
        uow.commit()


@dataclass
class Harness:
    """Drives the running bot through the fake Bot API and waits for it to settle."""

    fake: FakeTelegram
    services: Services
    pushed: list[int] = field(default_factory=list)

    def _processed(self) -> tuple[int, int]:
        with self.services.session_factory() as session:
            done = session.scalar(select(func.count()).select_from(ProcessedUpdateRow)) or 0
            waiting = session.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.state.in_(("pending", "sending")))) or 0
        return int(done), int(waiting)

    async def settle(self, limit: float = 10.0) -> None:
        """Wait until every pushed update is handled and the outbox is delivered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while True:
            done, waiting = await asyncio.to_thread(self._processed)
            if self.fake.pending_updates == 0 and done >= len(self.pushed) and waiting == 0:
                await asyncio.sleep(0.05)
                done, waiting = await asyncio.to_thread(self._processed)
                if waiting == 0:
                    return
            if loop.time() > deadline:
                raise AssertionError(f"bot did not settle: processed {done}/"
                                     f"{len(self.pushed)}, outbox waiting {waiting}")
            await asyncio.sleep(0.03)

    async def say(self, chat: int, user: int, text: str, *, reply_to: int | None = None,
                  first_name: str = "Warga") -> None:
        """A message from ``user`` in ``chat`` (a reply when ``reply_to`` is given)."""
        update = self.fake.push_message(chat, user, text, reply_to_message_id=reply_to,
                                        first_name=first_name)
        self.pushed.append(update["update_id"])
        await self.settle()

    async def push(self, update: dict[str, Any], *, counted: bool = True) -> None:
        """Any prepared update (photos, stickers, edits...)."""
        pushed = self.fake.push_update(update)
        if counted:
            self.pushed.append(pushed["update_id"])
        await self.settle()

    async def press(self, chat: int, user: int, label_part: str,
                    message_id: int | None = None) -> None:
        """Press the button whose label contains ``label_part`` on a bot message."""
        message = (self.fake.message(chat, message_id) if message_id
                   else self.last_with_buttons(chat))
        assert message is not None, f"no message with buttons in chat {chat}"
        for button in FakeTelegram.buttons(message):
            if label_part.lower() in button["text"].lower():
                update = self.fake.push_callback(chat, user, button["callback_data"],
                                                 message["message_id"])
                self.pushed.append(update["update_id"])
                await self.settle()
                return
        labels = [b["text"] for b in FakeTelegram.buttons(message)]
        raise AssertionError(f"no button {label_part!r} in {labels}")

    async def press_data(self, chat: int, user: int, data: str, message_id: int) -> None:
        """Send raw callback data (forged or replayed presses)."""
        update = self.fake.push_callback(chat, user, data, message_id)
        self.pushed.append(update["update_id"])
        await self.settle()

    def last_with_buttons(self, chat: int) -> dict[str, Any] | None:
        """The newest bot message in a chat that has inline buttons."""
        for message in reversed(self.fake.bot_messages(chat)):
            if FakeTelegram.buttons(message):
                return message
        return None

    def texts(self, chat: int) -> list[str]:
        """Everything the bot said in a chat, in order."""
        return self.fake.texts_to(chat)

    def last_text(self, chat: int) -> str:
        """The bot's last text in a chat."""
        texts = self.texts(chat)
        assert texts, f"the bot said nothing in chat {chat}"
        return texts[-1]

    def card(self, chat: int, reference: str) -> dict[str, Any]:
        """The ticket card for ``reference`` posted in a queue group."""
        for message in self.fake.bot_messages(chat):
            if reference in (message.get("text") or "") and FakeTelegram.buttons(message):
                return message
        raise AssertionError(f"no card for {reference} in chat {chat}: {self.texts(chat)}")

    async def to_proposal(self, citizen: int) -> None:
        """From whatever the bot answered (FAQ answer, suggestions) to the ticket proposal."""
        message = self.last_with_buttons(citizen)
        assert message is not None
        labels = " ".join(b["text"] for b in FakeTelegram.buttons(message))
        if "Tidak membantu" in labels:
            await self.press(citizen, citizen, "Tidak membantu")
        elif "teruskan ke petugas" in labels:
            await self.press(citizen, citizen, "teruskan ke petugas")

    async def open_ticket(self, citizen: int, text: str, opd_name: str) -> str:
        """Ask, then walk the proposal to a ticket at ``opd_name``; return its reference."""
        await self.say(citizen, citizen, text)
        await self.to_proposal(citizen)
        await self.press(citizen, citizen, "Pilih OPD lain")
        await self.press(citizen, citizen, opd_name)
        await self.press(citizen, citizen, "Kirim")
        opened = self.last_text(citizen)
        assert "Nomor tiket" in opened, opened
        start = opened.index("PPID-")
        return opened[start:start + len("PPID-2026-000000")]


@asynccontextmanager
async def running_bot(db_url: str, engine: Any, clock: FixedClock, fake: FakeTelegram,
                      *, seed_data: bool = True) -> AsyncIterator[Harness]:
    """Build services and the real Application, poll the fake, stop cleanly afterwards."""
    config = telegram_config(db_url, fake)
    services = build_services(config, clock=clock, engine=engine)
    if seed_data:
        seed(services)
    app = build_application(config, services, per_chat_interval=0.0)
    async with app:
        await app.start()
        await start_background(app)
        stop = asyncio.Event()
        poller = asyncio.create_task(poll_updates(app, stop, long_poll=1))
        try:
            yield Harness(fake, services)
        finally:
            stop.set()
            await poller
            await stop_background(app)
            await app.stop()


__all__ = ["BAPENDA_CHAT", "DISHUB_CHAT", "PPID_CHAT", "Harness", "running_bot"]
