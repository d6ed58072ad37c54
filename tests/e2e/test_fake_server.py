"""The fake Bot API server works with the real python-telegram-bot stack (not our app)."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

try:
    from tests.telegram_fake import BOT_ID, FakeTelegram
except ImportError:  # pragma: no cover - pytest started without the repo root on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.telegram_fake import BOT_ID, FakeTelegram

pytestmark = pytest.mark.e2e

CHAT = 424242
USER = 424242
GROUP = -1001234567890


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Tanya FAQ", callback_data="menu:faq")],
            [
                InlineKeyboardButton("Lapor", callback_data="menu:report"),
                InlineKeyboardButton("Situs", url="https://example.go.id"),
            ],
        ]
    )
    await update.effective_message.reply_text("Selamat datang di Sahut!", reply_markup=keyboard)


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    text = f"echo: {message.text}"
    if message.reply_to_message is not None:
        text += f" (reply to {message.reply_to_message.message_id}: "
        text += f"{message.reply_to_message.text})"
        await message.reply_text(text, do_quote=True)
    else:
        await message.reply_text(text)


async def _button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("OK")
    await query.edit_message_text(f"Dipilih: {query.data}")


@pytest.fixture
async def app(fake: FakeTelegram) -> AsyncIterator[Application]:
    application = (
        Application.builder()
        .token("123:TEST")
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    seen: list[Update] = []

    async def collect(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    application.bot_data["seen"] = seen
    application.add_handler(TypeHandler(Update, collect), group=-1)
    application.add_handler(CommandHandler("start", _start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    application.add_handler(CallbackQueryHandler(_button))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


async def test_start_command_reply_and_keyboard(fake: FakeTelegram, app: Application) -> None:
    assert app.bot.username == "sahut_test_bot"
    assert app.bot.id == BOT_ID
    assert fake.token == "123:TEST"

    fake.push_update(fake.message_update(CHAT, USER, "/start", username="warga01"))
    await fake.wait_for(lambda: fake.texts_to(CHAT))

    [call] = fake.sent(CHAT)
    assert call.method == "sendMessage"
    assert call.params["chat_id"] == CHAT
    assert call.params["text"] == "Selamat datang di Sahut!"
    rows = fake.keyboard(call)
    assert [[b["text"] for b in row] for row in rows] == [["Tanya FAQ"], ["Lapor", "Situs"]]
    assert rows[0][0]["callback_data"] == "menu:faq"
    assert rows[1][1]["url"] == "https://example.go.id"

    last = fake.last_message(CHAT)
    assert last is not None
    assert last["from"]["id"] == BOT_ID
    assert last["chat"] == {
        "id": CHAT,
        "type": "private",
        "first_name": "Warga",
        "username": "warga01",
    }
    assert fake.keyboard(last) == rows
    assert last["message_id"] == 2  # the /start message was 1 in this chat

    update = app.bot_data["seen"][0]
    assert update.message.text == "/start"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.from_user.username == "warga01"
    await fake.wait_for(lambda: fake.pending_updates == 0)  # confirmed by the next poll


async def test_echo_and_reply_to_bot_message(fake: FakeTelegram, app: Application) -> None:
    fake.push_update(fake.message_update(CHAT, USER, "halo"))
    await fake.wait_for(lambda: fake.texts_to(CHAT) == ["echo: halo"])
    bot_message = fake.last_message(CHAT)
    assert bot_message is not None

    fake.push_update(
        fake.message_update(CHAT, USER, "jawaban", reply_to_message_id=bot_message["message_id"])
    )
    await fake.wait_for(lambda: len(fake.texts_to(CHAT)) == 2)
    expected = f"echo: jawaban (reply to {bot_message['message_id']}: echo: halo)"
    assert fake.texts_to(CHAT)[-1] == expected
    reply_call = fake.sent(CHAT)[-1]
    assert reply_call.params["reply_parameters"]["message_id"] == 3  # the user's "jawaban"
    assert reply_call.result["reply_to_message"]["text"] == "jawaban"

    # Groups: negative id -> supergroup with a title; /start@bot is still a command.
    fake.push_update(fake.message_update(GROUP, USER, "/start@sahut_test_bot"))
    await fake.wait_for(lambda: fake.texts_to(GROUP))
    group_message = fake.last_message(GROUP)
    assert group_message is not None
    assert group_message["chat"]["type"] == "supergroup"
    assert group_message["chat"]["title"]


async def test_callback_query_answer_and_edit(fake: FakeTelegram, app: Application) -> None:
    fake.push_update(fake.message_update(CHAT, USER, "/start"))
    await fake.wait_for(lambda: fake.last_message(CHAT))
    menu = fake.last_message(CHAT)
    assert menu is not None

    fake.push_update(fake.callback_update(CHAT, USER, "menu:faq", menu["message_id"]))
    await fake.wait_for(lambda: fake.calls_of("editMessageText"))

    [answer] = fake.calls_of("answerCallbackQuery")
    assert answer.params["text"] == "OK"
    assert answer.params["callback_query_id"]
    [edit] = fake.calls_of("editMessageText")
    assert edit.params["chat_id"] == CHAT
    assert edit.params["message_id"] == menu["message_id"]
    assert edit.params["text"] == "Dipilih: menu:faq"
    edited = fake.message(CHAT, menu["message_id"])
    assert edited is not None
    assert edited["text"] == "Dipilih: menu:faq"
    assert "reply_markup" not in edited
    assert "edit_date" in edited

    seen = app.bot_data["seen"]
    query = seen[-1].callback_query
    assert query.data == "menu:faq"
    assert query.message.text == "Selamat datang di Sahut!"


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_forbidden_and_timeouts(fake: FakeTelegram, app: Application) -> None:
    fake.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await app.bot.send_message(CHAT, "pesan")
    assert "3" in str(caught.value)
    message = await app.bot.send_message(CHAT, "pesan")  # only the next call failed
    assert message.text == "pesan"
    assert [c.status for c in fake.sent(CHAT, include_failed=True)] == [429, 200]
    assert fake.texts_to(CHAT) == ["pesan"]

    fake.fail_chat(CHAT)
    with pytest.raises(Forbidden, match="blocked"):
        await app.bot.send_message(CHAT, "diblokir")
    with pytest.raises(Forbidden):
        await app.bot.send_photo(CHAT, photo=b"img")
    assert fake.texts_to(CHAT) == ["pesan"]
    await app.bot.send_message(CHAT + 1, "chat lain tetap jalan")

    fake.fail_next("sendMessage", status=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await app.bot.send_message(CHAT + 1, "x")

    fake.clear_faults()
    fake.delay("sendMessage", 0.6)
    with pytest.raises(TimedOut):
        await app.bot.send_message(CHAT, "lambat", read_timeout=0.2)
    # Like the real API the slow message was still delivered.
    assert fake.texts_to(CHAT)[-1] == "lambat"

    fake.clear_faults()
    fake.disconnect_next("sendMessage")
    with pytest.raises(NetworkError):
        await app.bot.send_message(CHAT, "putus")
    await app.bot.send_message(CHAT, "pulih")
    assert fake.texts_to(CHAT)[-1] == "pulih"


async def test_get_file_and_download(fake: FakeTelegram, app: Application) -> None:
    payload = bytes(range(256)) * 10
    fake.add_file("doc-xyz", payload, "documents/surat.pdf")
    tg_file = await app.bot.get_file("doc-xyz")
    assert tg_file.file_size == len(payload)
    assert tg_file.file_path == f"{fake.base_file_url}123:TEST/documents/surat.pdf"
    assert bytes(await tg_file.download_as_bytearray()) == payload

    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await app.bot.get_file("missing")


async def test_multipart_uploads_are_recorded(fake: FakeTelegram, app: Application) -> None:
    image = b"\x89PNG\r\n\x1a\n" + b"--boundary-like\r\n\r\n" + bytes(range(256))
    sent = await app.bot.send_photo(
        CHAT, photo=image, caption="Foto <b>bukti</b>", parse_mode="HTML"
    )
    call = fake.sent(CHAT, "sendPhoto")[-1]
    assert call.files["photo"] == image
    assert call.params["caption"] == "Foto <b>bukti</b>"
    assert call.params["chat_id"] == CHAT
    assert sent.caption == "Foto bukti"
    largest = sent.photo[-1]
    assert fake.file_bytes(largest.file_id) == image
    tg_file = await largest.get_file()
    assert bytes(await tg_file.download_as_bytearray()) == image

    doc = await app.bot.send_document(GROUP, document=b"a,b\n1,2\n", filename="laporan.csv")
    call = fake.sent(GROUP, "sendDocument")[-1]
    assert call.files["document"] == b"a,b\n1,2\n"
    assert call.file_names["document"] == "laporan.csv"
    assert doc.document.file_name == "laporan.csv"

    location = await app.bot.send_location(CHAT, latitude=-6.9, longitude=107.6)
    assert location.location.latitude == pytest.approx(-6.9)
    assert fake.texts_to(CHAT) == ["Foto <b>bukti</b>"]


async def test_realistic_validation(fake: FakeTelegram, app: Application) -> None:
    with pytest.raises(BadRequest, match="unsupported start tag"):
        await app.bot.send_message(CHAT, "baris<br>baru", parse_mode="HTML")
    with pytest.raises(BadRequest, match="reserved"):
        await app.bot.send_message(CHAT, "Terima kasih.", parse_mode="MarkdownV2")
    ok = await app.bot.send_message(CHAT, "Terima kasih\\. *Tiket* `A-1`", parse_mode="MarkdownV2")
    assert ok.message_id
    with pytest.raises(BadRequest, match="too long"):
        await app.bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await app.bot.send_message(
            CHAT,
            "menu",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("a", callback_data="x" * 65)]]
            ),
        )
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await app.bot.set_my_commands([("Start", "Mulai")])
    await app.bot.set_my_commands([("start", "Mulai"), ("lapor", "Buat laporan")])
    assert [c.command for c in await app.bot.get_my_commands()] == ["start", "lapor"]
    assert fake.commands()[1] == {"command": "lapor", "description": "Buat laporan"}
    await app.bot.delete_my_commands()
    assert await app.bot.get_my_commands() == ()

    with pytest.raises(Exception, match=r"(?i)not found"):
        await app.bot.do_api_request("notARealMethod")
    assert fake.calls_of("notARealMethod")[0].status == 404

    copied = await app.bot.copy_message(GROUP, from_chat_id=CHAT, message_id=ok.message_id)
    assert fake.message(GROUP, copied.message_id)["text"] == ok.text
    forwarded = await app.bot.forward_message(GROUP, from_chat_id=CHAT, message_id=ok.message_id)
    assert forwarded.forward_origin is not None
    assert await app.bot.send_chat_action(CHAT, "typing")
    assert [c.method for c in fake.sent(GROUP)] == ["copyMessage", "forwardMessage"]


async def test_other_update_kinds_parse(fake: FakeTelegram, app: Application) -> None:
    builders: list[dict[str, Any]] = [
        fake.photo_update(CHAT, USER, caption="rusak", file_id="photo-9", data=b"jpeg"),
        fake.document_update(CHAT, USER, "ktp.pdf", data=b"%PDF"),
        fake.location_update(CHAT, USER),
        fake.sticker_update(CHAT, USER),
        fake.edited_message_update(CHAT, USER, "diubah", 1),
        fake.channel_post_update(-1009999, "pengumuman"),
        fake.poll_update(votes=[3, 1]),
        fake.my_chat_member_update(CHAT, USER),
        fake.my_chat_member_update(GROUP, USER, "administrator"),
    ]
    for update in builders:
        fake.push_update(update)
    seen: list[Update] = app.bot_data["seen"]
    await fake.wait_for(lambda: len(seen) >= len(builders))
    photo, doc, loc, sticker, edited, post, poll, kicked, admin = seen[: len(builders)]
    assert photo.message.photo[-1].file_id == "photo-9"
    assert photo.message.caption == "rusak"
    assert bytes(await (await photo.message.photo[-1].get_file()).download_as_bytearray()) == (
        b"jpeg"
    )
    assert doc.message.document.file_name == "ktp.pdf"
    assert doc.message.document.mime_type == "application/pdf"
    assert loc.message.location.latitude == pytest.approx(-6.9147)
    assert sticker.message.sticker.emoji == "👍"
    assert edited.edited_message.text == "diubah"
    assert edited.edited_message.edit_date is not None
    assert post.channel_post.chat.type == "channel"
    assert post.channel_post.sender_chat.id == -1009999
    assert [o.voter_count for o in poll.poll.options] == [3, 1]
    assert kicked.my_chat_member.new_chat_member.status == "kicked"
    assert admin.my_chat_member.new_chat_member.status == "administrator"
    assert [u.update_id for u in seen] == sorted(u.update_id for u in seen)


def _api(fake: FakeTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{fake.base_url}999:RAW/{method}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_get_updates_offset_limit_and_long_poll(fake: FakeTelegram) -> None:
    ids = [
        fake.push_update(fake.message_update(CHAT, USER, f"m{i}"))["update_id"] for i in range(3)
    ]
    status, body = _api(fake, "getUpdates", limit=2)
    assert status == 200
    assert [u["update_id"] for u in body["result"]] == ids[:2]
    _, body = _api(fake, "getUpdates", offset=ids[1] + 1, timeout=0)
    assert [u["message"]["text"] for u in body["result"]] == ["m2"]
    assert fake.pending_updates == 1

    # Empty queue: the wait is capped (~1 s) even if the client asks for 30 s.
    started = time.monotonic()
    _, body = _api(fake, "getUpdates", offset=ids[2] + 1, timeout=30)
    assert body["result"] == []
    assert 0.8 < time.monotonic() - started < 2.0

    # An update pushed while a long poll waits is returned at once.
    threading.Timer(0.2, lambda: fake.push_update(fake.message_update(CHAT, USER, "late"))).start()
    started = time.monotonic()
    _, body = _api(fake, "getUpdates", offset=ids[2] + 1, timeout=30)
    assert [u["message"]["text"] for u in body["result"]] == ["late"]
    assert time.monotonic() - started < 0.8
    assert fake.token == "999:RAW"

    assert _api(fake, "setWebhook", url="https://example.go.id/hook")[0] == 200
    status, body = _api(fake, "getUpdates")
    assert status == 409
    assert body["ok"] is False
    assert _api(fake, "getWebhookInfo")[1]["result"]["url"] == "https://example.go.id/hook"
    assert _api(fake, "deleteWebhook", drop_pending_updates=True)[0] == 200
    assert fake.pending_updates == 0

    status, body = _api(fake, "fooBar")
    assert (status, body["error_code"], body["description"]) == (
        404,
        404,
        "Not Found: method not found",
    )

    fake.fail_next("sendMessage", retry_after=7)
    status, body = _api(fake, "sendMessage", chat_id=CHAT, text="x")
    assert (status, body["parameters"]) == (429, {"retry_after": 7})


def test_wait_for_reports_recent_calls(fake: FakeTelegram) -> None:
    _api(fake, "sendMessage", chat_id=CHAT, text="hanya ini")
    with pytest.raises(AssertionError, match="hanya ini"):
        fake.wait_for_sync(lambda: fake.texts_to(CHAT + 5), timeout=0.1)
