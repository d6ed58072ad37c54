"""Whole conversations through the console channel (bot.console), read like transcripts."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.config import Config
from bot.console import Console
from bot.services import Services, build_services
from faq.model import FaqEntry
from routing.people import Role, Staff
from routing.tickets import TicketState
from tests.builders import FixedClock

pytestmark = pytest.mark.db

PKB_QUESTION = "Bagaimana cara membayar pajak kendaraan bermotor tahunan?"
PKB_ANSWER = "Bayar di kantor Samsat, Samsat Keliling, atau aplikasi e-Samsat Contoh."
BUDI = 501  # BAPENDA staff
DEWI = 502  # DISHUB staff


@pytest.fixture
def console_services(config: Config, clock: FixedClock, engine: Engine) -> Iterator[Services]:
    """Services on the test database for the console channel, with one FAQ and two staff."""
    services = build_services(config, clock=clock, engine=engine, staff_channel="console")
    with services.uow() as uow:
        uow.faqs.upsert_many([
            FaqEntry("bapenda-001", "BAPENDA", PKB_QUESTION, PKB_ANSWER,
                     ("Bayar pajak motor tahunan di mana?",), ("pajak kendaraan", "PKB")),
        ], clock())
        uow.staff.add(Staff(BUDI, "Budi", Role.STAFF, "BAPENDA"), clock())
        uow.staff.add(Staff(DEWI, "Dewi", Role.STAFF, "DISHUB"), clock())
        uow.commit()
    yield services
    services.dispose()


class Transcript:
    """Types lines into the console and returns what appeared on screen since."""

    def __init__(self, services: Services) -> None:
        self.screen = io.StringIO()
        self.console = Console(services, self.screen)

    async def type(self, line: str) -> str:
        start = self.screen.tell()
        await self.console.handle_line(line)
        return self.screen.getvalue()[start:]

    def message_id(self, containing: str) -> int:
        """The #id of the last bot message on screen that contains the text."""
        blocks = re.split(r"^\[bot #(\d+)\]$", self.screen.getvalue(), flags=re.MULTILINE)
        found = [int(blocks[i]) for i in range(1, len(blocks), 2) if containing in blocks[i + 1]]
        assert found, f"no message containing {containing!r}"
        return found[-1]


@pytest.fixture
def chat(console_services: Services) -> Transcript:
    return Transcript(console_services)


async def test_a_citizen_not_helped_by_the_faq_reaches_the_opd_and_gets_its_answer(
        chat: Transcript, console_services: Services, clock: FixedClock) -> None:
    # The citizen asks; the FAQ answers.
    shown = await chat.type(PKB_QUESTION)
    assert PKB_ANSWER in shown
    assert "Sumber: Badan Pendapatan Daerah" in shown
    assert "[1] 👍 Membantu  [2] 👎 Tidak membantu" in shown
    # Not helpful: the bot proposes a ticket to the FAQ's OPD.
    shown = await chat.type(":2")
    assert "(pressed: 👎 Tidak membantu)" in shown
    assert "Baik, kami teruskan ke petugas Badan Pendapatan Daerah." in shown
    assert "[1] ✅ Kirim ke BAPENDA" in shown
    # Kirim: a ticket with the first reference of the year.
    shown = await chat.type(":1")
    assert "Tiket Anda telah dibuat." in shown
    assert "Nomor tiket: PPID-2026-000001" in shown
    assert "Diteruskan ke: Badan Pendapatan Daerah" in shown

    # BAPENDA staff find the card waiting in their queue group.
    clock.advance(hours=1)
    shown = await chat.type("/as staff BAPENDA")
    assert "You are now Budi (staff BAPENDA) in the BAPENDA queue group." in shown
    assert "(1 new message(s) here)" in shown
    assert "🎫 PPID-2026-000001 · Permohonan informasi" in shown
    assert "Dari: Warga Satu" in shown
    assert "[1] ✋ Ambil" in shown
    card = chat.message_id("🎫 PPID-2026-000001")
    shown = await chat.type(":1")
    assert "✋ Budi mengambil tiket PPID-2026-000001." in shown
    # Replying to the card answers the citizen.
    clock.advance(minutes=30)
    shown = await chat.type(f">{card} Silakan bayar lewat aplikasi e-Samsat Contoh.")
    assert "Jawaban untuk PPID-2026-000001 diteruskan ke warga (tanggapan pertama tercatat)." \
        in shown

    # Back in the citizen's chat, the answer is there, naming the OPD.
    shown = await chat.type("/as citizen")
    assert "You are now citizen 1." in shown
    assert "Tanggapan dari Badan Pendapatan Daerah" in shown
    assert "Tiket PPID-2026-000001" in shown
    assert "Silakan bayar lewat aplikasi e-Samsat Contoh." in shown

    with console_services.uow() as uow:
        ticket = uow.tickets.by_reference("PPID-2026-000001")
    assert ticket is not None
    assert ticket.state is TicketState.ANSWERED
    assert ticket.first_response_seconds == 1.5 * 3600  # opened 09:00, answered 10:30


async def test_pressing_kirim_twice_opens_one_ticket(chat: Transcript,
                                               console_services: Services) -> None:
    await chat.type("Lampu lalu lintas di simpang Kota Pelita mati sejak kemarin")
    shown = await chat.type(":1")
    assert "Nomor tiket: PPID-2026-000001" in shown
    shown = await chat.type(":1@" + str(chat.message_id("Tekan Kirim")))
    assert "Tombol ini sudah tidak berlaku." in shown
    with console_services.uow() as uow:
        assert [t.reference for t in uow.tickets.find()] == ["PPID-2026-000001"]


async def test_staff_of_another_opd_do_not_see_the_card(chat: Transcript) -> None:
    await chat.type(PKB_QUESTION)
    await chat.type(":2")
    await chat.type(":1")
    shown = await chat.type("/as staff DISHUB")
    assert "You are now Dewi (staff DISHUB)" in shown
    assert "PPID-2026-000001" not in shown
    shown = await chat.type("/antrian")
    assert "Antrian Dinas Perhubungan kosong." in shown


async def test_switching_to_an_opd_without_staff_says_how_to_add_one(chat: Transcript) -> None:
    shown = await chat.type("/as staff DINSOS")
    assert "No staff registered for DINSOS" in shown
    assert "sahut staff add" in shown
    assert "You are citizen 1." in await chat.type("/who")

