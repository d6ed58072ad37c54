"""Whole conversations through the real Application and a fake Bot API, read as transcripts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import TicketRow
from tests.builders import BAPENDA_CHAT, DISHUB_CHAT, PPID_CHAT, FixedClock
from tests.e2e.harness import (
    BAPENDA_STAFF,
    CITIZEN,
    DISHUB_STAFF,
    OTHER_CITIZEN,
    PPID_STAFF,
    STRANGER,
    SUPERVISOR,
    Harness,
    running_bot,
)
from tests.telegram_fake import FakeTelegram

pytestmark = [pytest.mark.e2e, pytest.mark.db]


def _ticket(bot: Harness, reference: str) -> TicketRow:
    with bot.services.session_factory() as session:
        row = session.scalars(select(TicketRow).where(TicketRow.reference == reference)).one()
        session.expunge(row)
        return row


async def test_start_explains_the_service_and_privacy(bot: Harness) -> None:
    await bot.say(CITIZEN, CITIZEN, "/start")
    text = bot.last_text(CITIZEN)
    assert "Provinsi Uji" in text
    assert "UU 27/2022" in text
    assert "/hapusdata" in text


async def test_citizen_gets_a_faq_answer_with_helpful_buttons(bot: Harness) -> None:
    await bot.say(CITIZEN, CITIZEN, "min gmn cara bayar pajak kendaraan bermotor?")
    answer = bot.last_text(CITIZEN)
    assert "e-Samsat" in answer
    assert "Badan Pendapatan Daerah" in answer
    message = bot.last_with_buttons(CITIZEN)
    assert message is not None
    labels = [b["text"] for b in FakeTelegram.buttons(message)]
    assert any("Membantu" in label for label in labels)
    await bot.press(CITIZEN, CITIZEN, "👍")
    assert "Terima kasih" in bot.last_text(CITIZEN)


async def test_greeting_gets_a_friendly_reply_and_no_ticket(bot: Harness) -> None:
    await bot.say(CITIZEN, CITIZEN, "halo min")
    assert "Silakan tuliskan pertanyaan" in bot.last_text(CITIZEN)
    assert bot.fake.texts_to(BAPENDA_CHAT) == []


async def test_complaint_becomes_ticket_in_opd_group_and_answer_reaches_citizen(
        bot: Harness) -> None:
    reference = await bot.open_ticket(
        CITIZEN, "petugas samsat minta uang tambahan tanpa kuitansi", "Badan Pendapatan")
    assert reference == "PPID-2026-000001"
    assert "hari kerja" in bot.last_text(CITIZEN)

    card = bot.card(BAPENDA_CHAT, reference)
    assert "samsat minta uang tambahan" in card["text"]
    labels = " ".join(b["text"] for b in FakeTelegram.buttons(card))
    assert "Ambil" in labels
    assert "Alihkan" in labels
    assert "Tutup" in labels

    await bot.press(BAPENDA_CHAT, BAPENDA_STAFF, "Ambil", card["message_id"])
    assert "mengambil" in bot.last_text(BAPENDA_CHAT)

    await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, "Mohon maaf, petugas tersebut kami periksa.",
                  reply_to=card["message_id"])
    relayed = bot.last_text(CITIZEN)
    assert "Tanggapan dari Badan Pendapatan Daerah" in relayed
    assert "petugas tersebut kami periksa" in relayed
    row = _ticket(bot, reference)
    assert row.state == "answered"
    assert row.first_response_at is not None

    await bot.press(BAPENDA_CHAT, BAPENDA_STAFF, "Tutup", card["message_id"])
    await bot.press(BAPENDA_CHAT, BAPENDA_STAFF, "Ya, tutup")
    assert "ditutup" in bot.last_text(CITIZEN)
    await bot.press(CITIZEN, CITIZEN, "⭐⭐⭐⭐⭐")
    assert _ticket(bot, reference).rating == 5


async def test_transfer_moves_the_card_to_the_other_opd_and_tells_the_citizen(
        bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "lampu lalu lintas mati di simpang tiga",
                                      "Badan Pendapatan")
    card = bot.card(BAPENDA_CHAT, reference)
    await bot.press(BAPENDA_CHAT, BAPENDA_STAFF, "Alihkan", card["message_id"])
    await bot.press(BAPENDA_CHAT, BAPENDA_STAFF, "Dinas Perhubungan")
    new_card = bot.card(DISHUB_CHAT, reference)
    assert "dialihkan dari BAPENDA" in new_card["text"]
    assert "dialihkan ke" in bot.last_text(CITIZEN)
    assert _ticket(bot, reference).opd_code == "DISHUB"

    await bot.say(DISHUB_CHAT, DISHUB_STAFF, "Sudah kami perbaiki hari ini.",
                  reply_to=new_card["message_id"])
    assert "Tanggapan dari Dinas Perhubungan" in bot.last_text(CITIZEN)


async def test_ppid_utama_forwards_a_triage_ticket_to_an_opd(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "mau tanya soal sertifikat tanah warisan",
                                      "PPID Utama")
    card = bot.card(PPID_CHAT, reference)
    await bot.say(PPID_CHAT, PPID_STAFF, "/alihkan DINSOS terkait bantuan ahli waris",
                  reply_to=card["message_id"])
    assert _ticket(bot, reference).opd_code == "DINSOS"


async def test_supervisor_gets_summary_and_overdue_list(bot: Harness) -> None:
    await bot.open_ticket(CITIZEN, "bus antarkota sering ngetem lama", "Dinas Perhubungan")
    await bot.say(SUPERVISOR, SUPERVISOR, "/ringkasan minggu")
    summary = bot.last_text(SUPERVISOR)
    assert "Ringkasan" in summary
    assert "DISHUB" in summary
    await bot.say(SUPERVISOR, SUPERVISOR, "/terlambat")
    assert "terlambat" in bot.last_text(SUPERVISOR).lower()


async def test_staff_queue_lists_open_tickets_of_the_group(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                      "Badan Pendapatan")
    await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, "/antrian")
    assert reference in bot.last_text(BAPENDA_CHAT)


# -- refusals -------------------------------------------------------------------------------

async def test_unregistered_person_replying_to_a_card_is_refused_and_nothing_relayed(
        bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                      "Badan Pendapatan")
    card = bot.card(BAPENDA_CHAT, reference)
    before = len(bot.texts(CITIZEN))
    await bot.say(BAPENDA_CHAT, STRANGER, "saya jawab ya", reply_to=card["message_id"],
                  first_name="Orang Lain")
    assert "hanya petugas terdaftar" in bot.last_text(BAPENDA_CHAT)
    assert len(bot.texts(CITIZEN)) == before
    assert _ticket(bot, reference).first_response_at is None


async def test_staff_of_another_opd_pressing_a_button_is_refused(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                      "Badan Pendapatan")
    card = bot.card(BAPENDA_CHAT, reference)
    await bot.press(BAPENDA_CHAT, DISHUB_STAFF, "Ambil", card["message_id"])
    assert "hanya petugas terdaftar" in bot.last_text(BAPENDA_CHAT)
    assert _ticket(bot, reference).state == "open"


async def test_forged_button_for_another_ticket_is_refused(bot: Harness) -> None:
    first = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                  "Badan Pendapatan")
    second = await bot.open_ticket(OTHER_CITIZEN, "samsat keliling tidak datang",
                                   "Badan Pendapatan")
    card = bot.card(BAPENDA_CHAT, first)
    other_id = _ticket(bot, second).id
    await bot.press_data(BAPENDA_CHAT, BAPENDA_STAFF, f"t:{other_id}:close!",
                         card["message_id"])
    assert _ticket(bot, second).state == "open"
    assert "Tidak ada yang diubah" in bot.last_text(BAPENDA_CHAT)


async def test_citizen_cannot_see_someone_elses_ticket(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                      "Badan Pendapatan")
    await bot.say(OTHER_CITIZEN, OTHER_CITIZEN, f"/status {reference}")
    reply = bot.last_text(OTHER_CITIZEN)
    assert "tidak ditemukan" in reply
    assert "dobel tertagih" not in reply
    await bot.say(CITIZEN, CITIZEN, f"/status {reference}")
    assert "dobel tertagih" in bot.last_text(CITIZEN)


async def test_citizen_calling_ringkasan_is_refused_without_figures(bot: Harness) -> None:
    await bot.say(CITIZEN, CITIZEN, "/ringkasan")
    reply = bot.last_text(CITIZEN)
    assert "hanya tersedia bagi supervisor" in reply
    assert "Tiket" not in reply


async def test_answering_a_closed_ticket_is_refused(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                      "Badan Pendapatan")
    card = bot.card(BAPENDA_CHAT, reference)
    await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, "/tutup", reply_to=card["message_id"])
    before = len(bot.texts(CITIZEN))
    await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, "jawaban terlambat", reply_to=card["message_id"])
    assert "selesai" in bot.last_text(BAPENDA_CHAT)
    assert len(bot.texts(CITIZEN)) == before


# -- robustness -----------------------------------------------------------------------------

async def test_stickers_edits_channel_posts_and_polls_do_not_crash(bot: Harness) -> None:
    fake = bot.fake
    await bot.push(fake.sticker_update(CITIZEN, CITIZEN))
    assert "belum bisa kami proses" in bot.last_text(CITIZEN)
    await bot.push(fake.edited_message_update(CITIZEN, CITIZEN, "ubah"), counted=False)
    await bot.push(fake.channel_post_update(-100777, "pengumuman"), counted=False)
    await bot.push(fake.poll_update(), counted=False)
    await bot.push(fake.sticker_update(BAPENDA_CHAT, BAPENDA_STAFF), counted=False)
    await bot.say(CITIZEN, CITIZEN, "/bantuan")
    assert "Cara menggunakan" in bot.last_text(CITIZEN)


async def test_citizen_who_blocked_the_bot_is_recorded_on_the_ticket(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                      "Badan Pendapatan")
    bot.fake.fail_chat(CITIZEN)
    card = bot.card(BAPENDA_CHAT, reference)
    await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, "Sudah kami koreksi.",
                  reply_to=card["message_id"])
    assert "blocked" in (_ticket(bot, reference).delivery_failed or "")


async def test_long_answer_is_split_under_telegram_limit(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                      "Badan Pendapatan")
    card = bot.card(BAPENDA_CHAT, reference)
    long_answer = ("Penjelasan rinci. " * 400).strip()
    await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, long_answer, reply_to=card["message_id"])
    sent = [c.text or "" for c in bot.fake.sent(CITIZEN, "sendMessage")]
    assert all(len(t) <= 4096 for t in sent)
    assert sum("Penjelasan rinci" in t for t in sent) >= 2


async def test_html_in_citizen_text_is_escaped_in_the_card(bot: Harness) -> None:
    reference = await bot.open_ticket(CITIZEN, "pajak <b>dobel</b> & <script>x</script>",
                                      "Badan Pendapatan")
    calls = [c for c in bot.fake.sent(BAPENDA_CHAT) if reference in (c.text or "")]
    assert calls
    assert "&lt;script&gt;" in (calls[0].text or "")


async def test_restart_keeps_tickets_and_relay_mapping(
        db_url: str, engine: object, clock: FixedClock, fake: FakeTelegram) -> None:
    async with running_bot(db_url, engine, clock, fake) as first:
        reference = await first.open_ticket(CITIZEN, "pajak motor saya dobel tertagih",
                                            "Badan Pendapatan")
        card = first.card(BAPENDA_CHAT, reference)
    async with running_bot(db_url, engine, clock, fake, seed_data=False) as second:
        second.pushed = list(first.pushed)
        await second.say(BAPENDA_CHAT, BAPENDA_STAFF, "Jawaban setelah restart.",
                         reply_to=card["message_id"])
        assert "Jawaban setelah restart" in second.last_text(CITIZEN)
