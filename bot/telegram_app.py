"""The Telegram channel: a python-telegram-bot Application around the channel-neutral core.

PTB callbacks only translate an ``Update`` into an :class:`~handlers.inbound.Inbound`, hand it
to the dispatcher (one transaction), and wake the outbox sender, which renders and delivers
everything the transaction queued.
"""

from __future__ import annotations

import asyncio
import html
import logging
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Config
from bot.context import CONTEXT_TYPES, BotContext
from bot.sender import OutboxSender, PermanentFailure, RenderedMessage, RetryLater
from bot.services import Services, build_services
from handlers.dispatch import Dispatcher
from handlers.inbound import Inbound

log = logging.getLogger(__name__)
CHANNEL = "telegram"

PRIVATE_COMMANDS = (
    ("start", "Mulai dan pemberitahuan privasi"),
    ("status", "Lihat tiket Anda"),
    ("bantuan", "Cara menggunakan layanan"),
    ("batal", "Batalkan tiket yang sedang disiapkan"),
    ("ringkasan", "Ringkasan kinerja OPD (supervisor)"),
    ("terlambat", "Tiket yang terlambat (supervisor)"),
)
GROUP_COMMANDS = (("antrian", "Antrian tiket OPD ini"),)


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split a long text at line breaks (or spaces) into parts Telegram accepts."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p] or [""]


class TelegramTransport:
    """Sends rendered outbox messages with the Bot API and maps its errors."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 per_chat_interval: float = 1.0) -> None:
        self.app = application
        self.per_chat_interval = per_chat_interval
        self._last_sent: dict[int, float] = {}

    async def _pace(self, chat_id: int) -> None:
        # AIORateLimiter covers the global and group limits, not "about 1 message per second"
        # to one chat: multi-part replies to one citizen are paced here.
        loop = asyncio.get_running_loop()
        last = self._last_sent.get(chat_id)
        if last is not None:
            wait = self.per_chat_interval - (loop.time() - last)
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_sent[chat_id] = loop.time()

    async def send(self, message: RenderedMessage) -> int:
        """Deliver one message; return the id of the message that carries the buttons."""
        bot = self.app.bot
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup([
                [InlineKeyboardButton(label[:64], callback_data=data) for label, data in row]
                for row in message.buttons
            ])
        reply = (ReplyParameters(message.reply_to_message_id, allow_sending_without_reply=True)
                 if message.reply_to_message_id else None)
        try:
            attachment = message.attachment
            if attachment and attachment.get("file_id"):
                kind = attachment.get("kind")
                caption = message.text[: MessageLimit.CAPTION_LENGTH] or None
                await self._pace(message.chat_id)
                sent: Message
                if kind == "photo":
                    sent = await bot.send_photo(message.chat_id, attachment["file_id"],
                                                caption=caption, parse_mode=ParseMode.HTML,
                                                reply_markup=markup, reply_parameters=reply)
                else:
                    sent = await bot.send_document(message.chat_id, attachment["file_id"],
                                                   caption=caption, parse_mode=ParseMode.HTML,
                                                   reply_markup=markup, reply_parameters=reply)
                return sent.message_id
            if attachment and attachment.get("latitude") is not None:
                await self._pace(message.chat_id)
                await bot.send_location(message.chat_id, attachment["latitude"],
                                        attachment["longitude"], reply_parameters=reply)
            parts = split_text(message.text)
            last_id = 0
            for index, part in enumerate(parts):
                await self._pace(message.chat_id)
                sent = await bot.send_message(
                    message.chat_id, part, parse_mode=ParseMode.HTML,
                    reply_markup=markup if index == len(parts) - 1 else None,
                    reply_parameters=reply if index == 0 else None,
                    disable_web_page_preview=True,
                )
                last_id = sent.message_id
            return last_id
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            raise RetryLater(seconds, "flood control") from exc
        except Forbidden as exc:
            raise PermanentFailure(f"forbidden: {exc.message}") from exc
        except BadRequest as exc:
            raise PermanentFailure(f"bad request: {exc.message}") from exc
        except (TimedOut, NetworkError) as exc:
            raise RetryLater(5.0, f"network: {exc}") from exc


@dataclass
class TelegramRuntime:
    """What the PTB callbacks need: the services, the dispatcher and the outbox sender."""

    services: Services
    dispatcher: Dispatcher
    sender: OutboxSender
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None


def _display_name(user: Any) -> str | None:
    if user is None:
        return None
    name = " ".join(p for p in (user.first_name, user.last_name) if p)
    return name[:200] or None


def _attachment(message: Message) -> dict[str, Any] | None:
    caption = message.caption
    if message.photo:
        photo = message.photo[-1]
        return {"kind": "photo", "file_id": photo.file_id, "size": photo.file_size,
                "caption": caption}
    if message.document:
        doc = message.document
        return {"kind": "document", "file_id": doc.file_id, "file_name": doc.file_name,
                "mime_type": doc.mime_type, "size": doc.file_size, "caption": caption}
    if message.location:
        return {"kind": "location", "latitude": message.location.latitude,
                "longitude": message.location.longitude}
    return None


def inbound_from_message(update: Update) -> Inbound | None:
    """Translate a new message into an Inbound (None for what Sahut ignores)."""
    message = update.message
    if message is None or message.chat is None:
        return None
    text = message.text
    command, args = Inbound.split_command(text) if text else (None, ())
    return Inbound(
        channel=CHANNEL, chat_id=message.chat.id,
        user_id=message.from_user.id if message.from_user else None,
        is_private=message.chat.type == "private", update_id=update.update_id,
        message_id=message.message_id, user_name=_display_name(message.from_user),
        text=text, command=command, args=args,
        reply_to_message_id=(message.reply_to_message.message_id
                             if message.reply_to_message else None),
        attachment=_attachment(message),
        extra={"unsupported": text is None and _attachment(message) is None},
    )


def inbound_from_callback(update: Update) -> Inbound | None:
    """Translate a button press into an Inbound."""
    query = update.callback_query
    if query is None or query.message is None or query.data is None:
        return None
    chat = query.message.chat
    return Inbound(
        channel=CHANNEL, chat_id=chat.id, user_id=query.from_user.id,
        is_private=chat.type == "private", update_id=update.update_id,
        user_name=_display_name(query.from_user), callback_data=query.data[:64],
        callback_message_id=query.message.message_id,
    )


async def _dispatch(context: BotContext, inbound: Inbound) -> None:
    runtime = context.runtime
    queued = await asyncio.to_thread(runtime.dispatcher.handle, inbound)
    if queued:
        runtime.sender.wakeup.set()


async def on_message(update: Update, context: BotContext) -> None:
    """Any new message: text, command, reply, photo, document, location."""
    inbound = inbound_from_message(update)
    if inbound is None:
        return
    if inbound.extra.get("unsupported") and not inbound.is_private:
        return  # stickers and the like in staff groups: nothing to do
    await _dispatch(context, inbound)


async def on_callback(update: Update, context: BotContext) -> None:
    """A button press: acknowledge at once (the spinner stops), then handle it."""
    query = update.callback_query
    if query is not None:
        try:
            await query.answer()
        except (BadRequest, NetworkError):
            log.debug("could not acknowledge callback", exc_info=True)
    inbound = inbound_from_callback(update)
    if inbound is not None:
        await _dispatch(context, inbound)


async def on_my_chat_member(update: Update, context: BotContext) -> None:
    """A citizen blocked (or unblocked) the bot."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    if change.new_chat_member.status in ("kicked", "left"):
        log.info("a citizen blocked the bot")


async def on_error(update: object, context: BotContext) -> None:
    """Log first, tell operators, and give the citizen a polite message — never a traceback."""
    log.error("error while handling an update", exc_info=context.error)
    runtime: TelegramRuntime | None = context.bot_data.get("runtime")
    if runtime is None:
        return
    ops_chat = runtime.services.config.telegram.ops_chat_id
    if ops_chat is not None and context.error is not None:
        trace = "".join(traceback.format_exception(context.error))[-3000:]
        try:
            await context.bot.send_message(
                ops_chat, f"<b>Sahut error</b>\n<pre>{html.escape(trace)}</pre>",
                parse_mode=ParseMode.HTML)
        except Exception:
            log.exception("could not report the error to the ops chat")
    if isinstance(update, Update) and update.effective_chat and (
            update.effective_chat.type == "private"):
        try:
            text = runtime.services.renderer.render("citizen/error", {})
            await context.bot.send_message(update.effective_chat.id, text,
                                           parse_mode=ParseMode.HTML)
        except Exception:
            log.exception("could not send the error notice")


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    runtime: TelegramRuntime = application.bot_data["runtime"]
    try:
        await application.bot.set_my_commands(
            [BotCommand(c, d) for c, d in PRIVATE_COMMANDS],
            scope=BotCommandScopeAllPrivateChats())
        await application.bot.set_my_commands(
            [BotCommand(c, d) for c, d in GROUP_COMMANDS], scope=BotCommandScopeAllGroupChats())
    except (NetworkError, BadRequest):
        log.warning("could not register the command list", exc_info=True)
    runtime.stop.clear()
    runtime.task = asyncio.create_task(runtime.sender.run(runtime.stop))


async def _post_stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    runtime: TelegramRuntime = application.bot_data["runtime"]
    runtime.stop.set()
    runtime.sender.wakeup.set()
    if runtime.task is not None:
        # Let the sender finish the message in flight: nothing confirmed is sent twice.
        await asyncio.wait_for(runtime.task, timeout=30)
        runtime.task = None


def build_application(config: Config, services: Services, *, token: str | None = None,
                      request: BaseRequest | None = None, rate_limit: bool = True,
                      per_chat_interval: float = 1.0
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """Wire the services into a PTB Application (tests pass a fake server's base_url)."""
    token = token or config.telegram.token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder().token(token).context_types(CONTEXT_TYPES)
        .post_init(_post_init).post_stop(_post_stop)
    )
    if config.telegram.base_url:
        builder = builder.base_url(config.telegram.base_url)
    if config.telegram.base_file_url:
        builder = builder.base_file_url(config.telegram.base_file_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=0))
    app = builder.build()
    sender = OutboxSender(session_factory=services.session_factory, renderer=services.renderer,
                          transport=TelegramTransport(app, per_chat_interval), channel=CHANNEL,
                          helpdesk=services.helpdesk, clock=services.clock)
    app.bot_data["runtime"] = TelegramRuntime(services, Dispatcher(services), sender,
                                              asyncio.Event())
    app.add_handler(CallbackQueryHandler(on_callback))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, on_message))
    app.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(on_error)
    return app


def run_bot(config: Config, *, webhook: bool = False, listen: str = "127.0.0.1:8080",
            public_url: str | None = None) -> int:
    """``sahut run``: poll Telegram (or serve a webhook) until SIGINT/SIGTERM."""
    from db.migrate import SchemaOutOfDate

    if not config.telegram.token:
        print("error: TELEGRAM_BOT_TOKEN is not set. Set it to your bot's token to run on "
              "Telegram, or try everything offline with `sahut chat`.", file=sys.stderr)
        return 1
    if webhook:
        if not config.telegram.webhook_secret:
            print("error: webhook mode needs TELEGRAM_WEBHOOK_SECRET (1-256 characters of "
                  "A-Z, a-z, 0-9, _ and -); refusing to start without it.", file=sys.stderr)
            return 1
        from bot.webhook import run_webhook

        return run_webhook(config, listen=listen, public_url=public_url)
    try:
        services = build_services(config)
    except SchemaOutOfDate as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app = build_application(config, services)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    log.info("polling Telegram")
    try:
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
    finally:
        services.dispose()
    return 0
