"""Anonymous reports and data erasure, asserted on what the fake Bot API received."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from db.models import CitizenRow, OutboxRow, TicketRow
from tests.builders import BAPENDA_CHAT
from tests.e2e.harness import BAPENDA_STAFF, CITIZEN, Harness

pytestmark = [pytest.mark.e2e, pytest.mark.db]

SECRET_NAME = "Rahasia Pelapor"


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "S", 2: (6.0, 12.0, 30.0), 3: "E", 4: (106.0, 48.0, 10.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def test_anonymous_report_reveals_no_identity_and_strips_photo_metadata(
        bot: Harness) -> None:
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()
    await bot.push(bot.fake.photo_update(CITIZEN, CITIZEN, caption="pungli di loket samsat",
                                         file_id="evidence-1", data=original,
                                         first_name=SECRET_NAME))
    await bot.to_proposal(CITIZEN)
    await bot.press(CITIZEN, CITIZEN, "Rahasiakan identitas")
    await bot.press(CITIZEN, CITIZEN, "Pilih OPD lain")
    await bot.press(CITIZEN, CITIZEN, "Badan Pendapatan")
    await bot.press(CITIZEN, CITIZEN, "Kirim")
    assert "Nomor tiket" in bot.last_text(CITIZEN)

    staff_calls = bot.fake.sent(BAPENDA_CHAT)
    assert staff_calls, "the card must reach the OPD group"
    for call in staff_calls:
        dumped = json.dumps(call.params, ensure_ascii=False, default=str)
        assert SECRET_NAME not in dumped
        assert str(CITIZEN) not in dumped
        assert "evidence-1" not in dumped  # the original file is never forwarded as is
    photos = [c for c in staff_calls if c.method == "sendPhoto"]
    assert photos, "the evidence photo must reach the OPD group"
    uploaded = next(iter(photos[0].files.values()))
    assert not Image.open(io.BytesIO(uploaded)).getexif()

    # The staff answer goes back to the citizen without revealing anything either.
    card = next(m for m in bot.fake.bot_messages(BAPENDA_CHAT) if "PPID-" in (m.get("text") or ""))
    await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, "Terima kasih, kami tindak lanjuti.",
                  reply_to=card["message_id"])
    assert "kami tindak lanjuti" in bot.last_text(CITIZEN)
    for call in bot.fake.sent(BAPENDA_CHAT):
        assert SECRET_NAME not in json.dumps(call.params, ensure_ascii=False, default=str)


async def test_nik_and_phone_in_a_complaint_are_masked_for_staff(bot: Harness) -> None:
    await bot.open_ticket(CITIZEN, "NIK saya 3201234567891234 hp 081234567890 pajak dobel",
                          "Badan Pendapatan")
    card_texts = " ".join(bot.texts(BAPENDA_CHAT))
    assert "3201234567891234" not in card_texts
    assert "081234567890" not in card_texts
    assert "32xxxxxxxxxx1234" in card_texts


async def test_hapusdata_anonymises_the_citizens_tickets(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor dobel tertagih",
                                      "Badan Pendapatan")
    await bot.say(CITIZEN, CITIZEN, "/hapusdata")
    assert "Penghapusan data pribadi" in bot.last_text(CITIZEN)
    await bot.press(CITIZEN, CITIZEN, "Ya, hapus")
    assert "telah dihapus" in bot.last_text(CITIZEN)
    with bot.services.session_factory() as session:
        ticket = session.scalars(select(TicketRow).where(
            TicketRow.reference == reference)).one()
        assert ticket.citizen_id is None
        assert "dobel" not in ticket.text
        assert ticket.state == "closed"
        citizens = session.scalars(select(CitizenRow)).all()
        assert all(c.external_id != str(CITIZEN) for c in citizens)
        # What was delivered to them, or to the OPD about their ticket, held their words.
        kept = session.execute(select(OutboxRow.chat_id, OutboxRow.template, OutboxRow.state)
                               .where((OutboxRow.chat_id == CITIZEN)
                                      | (OutboxRow.ticket_id == ticket.id))).all()
        assert all(state not in ("sent", "failed") or template == "citizen/data_erased"
                   for _, template, state in kept), kept


async def test_confidential_report_is_flagged_for_staff_and_stored(bot: Harness) -> None:
    await bot.say(CITIZEN, CITIZEN, "ada oknum pegawai minta setoran di kantor samsat")
    await bot.to_proposal(CITIZEN)
    await bot.press(CITIZEN, CITIZEN, "Rahasiakan isi")
    assert "isi: rahasia" in bot.last_text(CITIZEN).lower().replace("</b>", "")
    await bot.press(CITIZEN, CITIZEN, "Pilih OPD lain")
    await bot.press(CITIZEN, CITIZEN, "Badan Pendapatan")
    await bot.press(CITIZEN, CITIZEN, "Kirim")
    assert any("RAHASIA" in text for text in bot.texts(BAPENDA_CHAT))
    with bot.services.session_factory() as session:
        assert session.scalars(select(TicketRow.confidential)).one() is True
