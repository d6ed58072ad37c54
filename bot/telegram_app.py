"""The Telegram channel: a python-telegram-bot Application around the channel-neutral core.

PTB callbacks only translate an ``Update`` into an :class:`~handlers.inbound.Inbound`, hand it
to the dispatcher (one transaction), and wake the outbox sender, which renders and delivers
everything the transaction queued.
"""

from __future__ import annotations

import asyncio
import html
import logging
import signal
import subprocess
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
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
from bot.intake import Intake
from bot.media import IMAGE_MIME_TYPES, strip_image_metadata
from bot.scheduler import run_escalation
from bot.sender import (
    UNPACED,
    OutboxSender,
    Pacer,
    PermanentFailure,
    RenderedMessage,
    RetryLater,
    database_unavailable,
)
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
    ("laporan", "Grafik dan berkas laporan (supervisor)"),
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
    """Sends rendered outbox messages with the Bot API and maps its errors.

    The sender paces the first API call of each message with its :class:`~bot.sender.Pacer`
    (overall rate, one message per interval to a citizen, the per-group window); every
    further call of the same message (long texts in parts, a location) waits for it here.
    A 429 becomes a flood ``RetryLater`` that blocks that chat for retry_after.
    """

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 pacer: Pacer | None = None) -> None:
        self.app = application
        self.pacer = pacer or Pacer(UNPACED)

    async def _pace(self, chat_id: int, calls: list[int]) -> None:
        if calls:
            await self.pacer.acquire(chat_id)
        calls.append(chat_id)

    async def _clean_image(self, file_id: str) -> bytes:
        """Download an image and re-encode it without metadata (anonymous reports)."""
        telegram_file = await self.app.bot.get_file(file_id)
        data = bytes(await telegram_file.download_as_bytearray())
        try:
            return await asyncio.to_thread(strip_image_metadata, data)
        except Exception as exc:  # not an image we can decode: never pass it on as is
            raise PermanentFailure(f"evidence image could not be cleaned: {exc}") from exc

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
        calls: list[int] = []  # the sender paced the first call already
        try:
            attachment = message.attachment
            if attachment and (attachment.get("file_id") or attachment.get("path")):
                kind = attachment.get("kind")
                caption = message.text[: MessageLimit.CAPTION_LENGTH] or None
                # Files generated by Sahut (reports) are uploaded from disk; evidence that
                # came through Telegram is re-sent by its file_id.
                media: Any = attachment.get("file_id")
                if attachment.get("path"):
                    media = await asyncio.to_thread(Path(attachment["path"]).read_bytes)
                elif attachment.get("strip_metadata") and (
                        kind == "photo" or attachment.get("mime_type") in IMAGE_MIME_TYPES):
                    media = await self._clean_image(attachment["file_id"])
                    kind = "photo"
                await self._pace(message.chat_id, calls)
                sent: Message
                if kind == "photo":
                    sent = await bot.send_photo(message.chat_id, media,
                                                caption=caption, parse_mode=ParseMode.HTML,
                                                reply_markup=markup, reply_parameters=reply)
                else:
                    sent = await bot.send_document(message.chat_id, media,
                                                   filename=attachment.get("file_name"),
                                                   caption=caption, parse_mode=ParseMode.HTML,
                                                   reply_markup=markup, reply_parameters=reply)
                return sent.message_id
            if attachment and attachment.get("latitude") is not None:
                await self._pace(message.chat_id, calls)
                await bot.send_location(message.chat_id, attachment["latitude"],
                                        attachment["longitude"], reply_parameters=reply)
            parts = split_text(message.text)
            last_id = 0
            for index, part in enumerate(parts):
                await self._pace(message.chat_id, calls)
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
            raise RetryLater(seconds, "flood control", flood=True) from exc
        except Forbidden as exc:
            raise PermanentFailure(f"forbidden: {exc.message}") from exc
        except BadRequest as exc:
            raise PermanentFailure(f"bad request: {exc.message}") from exc
        except (TimedOut, NetworkError) as exc:  # 5xx answers, timeouts, dropped connections
            raise RetryLater(0.0, f"network: {type(exc).__name__}") from exc


@dataclass
class TelegramRuntime:
    """What the PTB callbacks need: the services, the dispatcher and the outbox sender."""

    services: Services
    dispatcher: Dispatcher
    sender: OutboxSender
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None
    escalation: asyncio.Task[None] | None = None
    #: Run the outbox sender (and escalation) in this process (False: `sahut send` does).
    background: bool = True
    #: How long an update waits out a database outage before it is given up: short behind a
    #: webhook (Telegram redelivers what got a 503), long when polling (acknowledged).
    db_retry_seconds: float = 300.0
    #: Updates that could not be handled because the database was unreachable.
    unavailable: set[int] = field(default_factory=set)
    #: The one thread that writes updates to the database (batched under load).
    intake: Intake = field(init=False)

    def __post_init__(self) -> None:
        self.intake = Intake(self.dispatcher.handle_batch,
                             lanes=self.services.config.database.lanes())


class IntakeUnavailable(Exception):
    """The database stayed unreachable: the update was not handled (nothing committed)."""


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


async def dispatch_with_retry(runtime: TelegramRuntime, inbound: Inbound, *,
                              meanwhile: Callable[[], Awaitable[object]] | None = None
                              ) -> list[int]:
    """Handle an update, waiting out a database outage (its transaction rolled back).

    The update is queued for the intake thread before anything else is awaited, so updates
    are handled in the order they arrived; ``meanwhile`` (e.g. acknowledging a button) runs
    while it waits. Raises :class:`IntakeUnavailable` after ``runtime.db_retry_seconds``; the
    webhook then answers 503 so Telegram delivers the update again.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + runtime.db_retry_seconds
    pause = 0.1
    pending = runtime.intake.submit(inbound)
    if meanwhile is not None:
        try:
            await meanwhile()
        except Exception:
            log.debug("could not run the side task of an update", exc_info=True)
    while True:
        try:
            return await pending
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            if loop.time() + pause > deadline or runtime.stop.is_set():
                if inbound.update_id is not None:
                    runtime.unavailable.add(inbound.update_id)
                raise IntakeUnavailable("database unavailable") from exc
            log.warning("database unavailable (%s); update retried in %.1fs",
                        type(exc).__name__, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
            pending = runtime.intake.submit(inbound)


async def _dispatch(context: BotContext, inbound: Inbound, *,
                    meanwhile: Callable[[], Awaitable[object]] | None = None) -> None:
    runtime = context.runtime
    queued = await dispatch_with_retry(runtime, inbound, meanwhile=meanwhile)
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
    """A button press: queue it, and acknowledge it (the spinner stops) while it is handled."""
    query = update.callback_query
    inbound = inbound_from_callback(update)

    async def acknowledge() -> None:
        if query is None:
            return
        try:
            await query.answer()
        except (BadRequest, NetworkError):
            log.debug("could not acknowledge callback", exc_info=True)

    if inbound is None:
        await acknowledge()
        return
    await _dispatch(context, inbound, meanwhile=acknowledge)


async def on_my_chat_member(update: Update, context: BotContext) -> None:
    """A citizen blocked (or unblocked) the bot."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    if change.new_chat_member.status in ("kicked", "left"):
        log.info("a citizen blocked the bot")


async def on_error(update: object, context: BotContext) -> None:
    """Log first, tell operators, and give the citizen a polite message — never a traceback."""
    if isinstance(context.error, IntakeUnavailable) and isinstance(update, Update) and (
            update.update_id in context.bot_data["runtime"].unavailable):
        log.warning("update %s not handled: database unavailable", update.update_id)
        return  # the webhook answers 503 and Telegram delivers it again
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


async def start_background(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the command list and start the outbox sender (and other background work).

    PTB calls ``post_init`` only from ``run_polling``/``run_webhook``; the webhook server and
    the tests start the application themselves and call this after ``application.start()``.
    """
    runtime: TelegramRuntime = application.bot_data["runtime"]
    if runtime.task is not None or not runtime.background:
        return
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
    runtime.escalation = asyncio.create_task(run_escalation(runtime.services, runtime.stop))


async def stop_background(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop background work, letting the message in flight finish (nothing is sent twice)."""
    runtime: TelegramRuntime = application.bot_data["runtime"]
    runtime.stop.set()
    runtime.sender.wakeup.set()
    await asyncio.to_thread(runtime.intake.stop)  # what was accepted is handled first
    if runtime.task is not None:
        await asyncio.wait_for(runtime.task, timeout=45)  # drains the sends in flight
        runtime.task = None
    if runtime.escalation is not None:
        await asyncio.wait_for(runtime.escalation, timeout=30)
        runtime.escalation = None


def build_application(config: Config, services: Services, *, token: str | None = None,
                      request: BaseRequest | None = None, rate_limit: bool = True,
                      per_chat_interval: float | None = None, background: bool = True
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """Wire the services into a PTB Application (tests pass a fake server's base_url).

    Sending is paced by ``config.sender`` (``rate_limit=False``: not at all);
    ``per_chat_interval`` overrides the private-chat interval, and 0 also lifts the group
    window (tests). ``background=False``: this process only handles updates and a separate
    ``sahut send`` process delivers the outbox.
    """
    token = token or config.telegram.token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder().token(token).context_types(CONTEXT_TYPES)
        .post_init(start_background).post_stop(stop_background)
    )
    if config.telegram.base_url:
        builder = builder.base_url(config.telegram.base_url)
    if config.telegram.base_file_url:
        builder = builder.base_file_url(config.telegram.base_file_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    # No AIORateLimiter: it halts every call on one chat's 429; the sender paces itself.
    app = builder.build()
    settings = config.sender
    if not rate_limit:
        settings = replace(settings, overall_per_second=UNPACED.overall_per_second,
                           group_per_minute=UNPACED.group_per_minute,
                           private_chat_interval=0.0)
    elif per_chat_interval is not None:
        settings = replace(settings, private_chat_interval=per_chat_interval)
        if per_chat_interval == 0:
            settings = replace(settings, group_per_minute=UNPACED.group_per_minute)
    pacer = Pacer(settings)
    sender = OutboxSender(session_factory=services.session_factory, renderer=services.renderer,
                          transport=TelegramTransport(app, pacer), channel=CHANNEL,
                          helpdesk=services.helpdesk, clock=services.clock,
                          metrics=services.metrics, settings=settings, pacer=pacer)
    app.bot_data["runtime"] = TelegramRuntime(services, Dispatcher(services), sender,
                                              asyncio.Event(), background=background)
    app.add_handler(CallbackQueryHandler(on_callback))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, on_message))
    app.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(on_error)
    return app


def _sender_command(senders: int) -> list[str]:
    """The command line of one ``sahut send`` child with 1/senders of the overall rate."""
    argv = [sys.executable, "-m", "bot"]
    if "--config" in sys.argv:
        argv += ["--config", sys.argv[sys.argv.index("--config") + 1]]
    if "--json-logs" in sys.argv:
        argv.append("--json-logs")
    return [*argv, "send", "--share", str(senders)]


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()


def run_bot(config: Config, *, webhook: bool = False, listen: str = "127.0.0.1:8080",
            public_url: str | None = None, senders: int = 0) -> int:
    """``sahut run``: poll Telegram (or serve a webhook) until SIGINT/SIGTERM.

    ``senders`` > 0 (polling): this process only polls and handles updates; that many
    ``sahut send`` processes deliver the outbox (PostgreSQL; they claim with SKIP LOCKED).
    """
    from db.engine import is_sqlite
    from db.migrate import SchemaOutOfDate

    if not config.telegram.token:
        print("error: TELEGRAM_BOT_TOKEN is not set. Set it to your bot's token to run on "
              "Telegram, or try everything offline with `sahut chat`.", file=sys.stderr)
        return 1
    if senders and webhook:
        print("error: --senders is for polling; in webhook mode run several workers behind "
              "the load balancer, each delivers the outbox itself.", file=sys.stderr)
        return 1
    if senders and is_sqlite(config.database.url):
        print("error: --senders needs PostgreSQL; SQLite is for a single process.",
              file=sys.stderr)
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
    app = build_application(config, services, background=not senders)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    children = [subprocess.Popen(_sender_command(senders)) for _ in range(senders)]
    log.info("polling Telegram%s", f" with {senders} sender process(es)" if senders else "")
    try:
        asyncio.run(poll_confirming_after_commit(app))
    finally:
        _stop_children(children)
        services.dispose()
    return 0


async def poll_confirming_after_commit(
        app: Application[Any, Any, Any, Any, Any, Any], *, long_poll: int = 10) -> None:
    """``sahut run`` (polling): start the application, poll until SIGTERM/SIGINT, drain."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        await app.bot.delete_webhook(drop_pending_updates=False)
        await app.start()
        await start_background(app)
        try:
            await poll_updates(app, stop, long_poll=long_poll)
        finally:
            await stop_background(app)
            await app.stop()


def _backoff(pause: float) -> float:
    return min(max(pause * 2, 0.5), 30.0)


async def poll_updates(app: Application[Any, Any, Any, Any, Any, Any], stop: asyncio.Event,
                       *, long_poll: int = 10) -> None:
    """Long-poll getUpdates until ``stop``; confirm a batch only once it is handled.

    PTB's Updater confirms what it fetched with its very next getUpdates, before the handlers
    ran: a crash then loses every fetched, uncommitted update. Here a batch is handled (each
    update committed, or given up) before the offset moves past it; after a crash Telegram
    delivers the batch again and the processed-update log makes the repeats no-ops.
    """
    runtime: TelegramRuntime = app.bot_data["runtime"]
    offset = 0
    pause = 0.0
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            fetch = asyncio.ensure_future(app.bot.get_updates(
                offset=offset, timeout=long_poll, allowed_updates=Update.ALL_TYPES))
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                break
            try:
                updates = fetch.result()
                pause = 0.0
            except NetworkError as exc:  # includes TimedOut
                pause = _backoff(pause)
                log.warning("getUpdates failed (%s); retrying in %.1fs", exc, pause)
                await asyncio.sleep(pause)
                continue
            if not updates:
                continue
            # Handled concurrently (they reach the intake in order), confirmed after.
            await asyncio.gather(*(app.process_update(u) for u in updates))
            offset = updates[-1].update_id + 1
            unhandled = [u.update_id for u in updates if u.update_id in runtime.unavailable]
            if unhandled:
                # The database stayed away: confirm nothing from there on, so Telegram keeps
                # them; the handled ones after it are skipped as already processed.
                runtime.unavailable.difference_update(unhandled)
                offset = min(unhandled)
                pause = _backoff(pause)
                await asyncio.sleep(pause)
        if offset:
            try:  # confirm what was handled, without waiting
                await app.bot.get_updates(offset=offset, timeout=0)
            except NetworkError:
                log.warning("could not confirm the last updates; they will be "
                            "delivered again (and skipped as already handled)")
    finally:
        stopping.cancel()


async def _serve_outbox(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        runtime: TelegramRuntime = app.bot_data["runtime"]
        await start_background(app)
        await stop.wait()
        log.info("stopping: draining the messages in flight")
        runtime.sender.wakeup.set()
        await stop_background(app)


def run_sender(config: Config, *, senders: int = 1, share: int = 1) -> int:
    """``sahut send``: deliver the outbox (and run escalation) until SIGTERM, then drain.

    ``senders`` > 1 starts that many processes, each paced to 1/senders of the overall rate.
    """
    from db.engine import is_sqlite
    from db.migrate import SchemaOutOfDate

    if not config.telegram.token:
        print("error: TELEGRAM_BOT_TOKEN is not set.", file=sys.stderr)
        return 1
    if senders > 1:
        if is_sqlite(config.database.url):
            print("error: several senders need PostgreSQL; SQLite is for a single process.",
                  file=sys.stderr)
            return 1
        children = [subprocess.Popen(_sender_command(senders)) for _ in range(senders)]
        stopping: list[int] = []

        def forward(signum: int, _frame: Any) -> None:
            stopping.append(signum)
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        codes = [child.wait() for child in children]
        return 0 if stopping or not any(codes) else 1
    try:
        services = build_services(config)
    except SchemaOutOfDate as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if share > 1:
        config = replace(config, sender=replace(
            config.sender, overall_per_second=config.sender.overall_per_second / share))
    app = build_application(config, services)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    log.info("delivering the outbox (%.1f messages/s)", config.sender.overall_per_second)
    try:
        asyncio.run(_serve_outbox(app))
    finally:
        services.dispose()
    return 0
