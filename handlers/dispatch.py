"""Route each inbound message to one handler inside one transaction, channel-neutral.

The processed-update mark, the handler's effects and every queued reply commit together, so
a redelivered update has no second effect and a crash loses nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from handlers import citizen, staff, supervisor
from handlers.context import HandlerContext
from handlers.inbound import Inbound
from handlers.ratelimit import RateLimiter
from routing.errors import DomainError, InvalidTransition, NotAllowed, TicketNotFound
from routing.policy import PrincipalKind
from routing.ports import UnitOfWork

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[HandlerContext], None]

PRIVATE_COMMANDS: dict[str, Handler] = {
    "start": citizen.start,
    "bantuan": citizen.help_,
    "help": citizen.help_,
    "status": citizen.status,
    "batal": citizen.cancel,
    "ringkasan": supervisor.summary,
    "terlambat": supervisor.overdue,
    "laporan": supervisor.report,
    "antrian": staff.queue,
    "hapusdata": citizen.erase_request,
}
GROUP_COMMANDS: dict[str, Handler] = {"antrian": staff.queue}
CARD_COMMANDS = frozenset({"tunggu", "alihkan", "perpanjang", "tutup", "tolak"})
SUPERVISOR_COMMANDS = frozenset({"ringkasan", "terlambat", "laporan"})


class Dispatcher:
    """Turns an Inbound into exactly one committed transaction of effects and replies."""

    def __init__(self, services: Services, limiter: RateLimiter | None = None) -> None:
        self.services = services
        self.extra_private: dict[str, Handler] = {}
        limits = services.config.limits
        self.limiter = limiter or RateLimiter(limits.messages_per_minute, limits.burst)

    def handle(self, inbound: Inbound) -> list[int]:
        """Handle one inbound message; return the outbox ids of the replies queued."""
        started = time.perf_counter()
        try:
            limited = self._limited(inbound)
            return limited if limited is not None else self._handle_alone(inbound)
        finally:
            self._observe(inbound, started)

    def handle_batch(self, inbounds: Sequence[Inbound]) -> list[list[int] | Exception]:
        """Handle several messages in one transaction; per message, its replies or its error.

        Group commit: under load one BEGIN/COMMIT (on PostgreSQL one WAL flush) serves the
        whole batch. If any message fails (a refusal, a conflict, an outage) the batch rolls
        back and each message is handled again in a transaction of its own, so every message
        ends with exactly the effects and replies it would have had alone.
        """
        started = time.perf_counter()
        results: list[list[int] | Exception] = [[] for _ in inbounds]
        todo: list[int] = []
        for i, inbound in enumerate(inbounds):
            try:
                limited = self._limited(inbound)
            except Exception as exc:
                results[i] = exc
                continue
            if limited is None:
                todo.append(i)
            else:
                results[i] = limited
        metrics = self.services.metrics
        metrics.inc("intake_batches_total")
        metrics.inc("intake_batch_updates_total", float(len(inbounds)))
        if len(todo) > 1:
            try:
                with self.services.uow() as uow:
                    contexts = [self._apply(uow, inbounds[i]) for i in todo]
                    uow.commit()
            except Exception as exc:
                metrics.inc("intake_batch_rollbacks_total", reason=type(exc).__name__)
                log.debug("batch of %d rolled back (%s); one transaction per update",
                          len(todo), type(exc).__name__)
            else:
                for i, ctx in zip(todo, contexts, strict=True):
                    results[i] = self._committed(ctx)
                todo = []
        for i in todo:
            try:
                results[i] = self._handle_alone(inbounds[i])
            except Exception as exc:
                results[i] = exc
        for inbound in inbounds:
            self._observe(inbound, started)
        return results

    def _observe(self, inbound: Inbound, started: float) -> None:
        metrics = self.services.metrics
        metrics.inc("updates_handled_total", channel=inbound.channel)
        metrics.observe_latency(time.perf_counter() - started)

    def _committed(self, ctx: HandlerContext | None) -> list[int]:
        """Replies of a committed context; its counters go to the metrics now."""
        if ctx is None:
            return []
        for name, labels in ctx.counts:
            self.services.metrics.inc(name, 1.0, **labels)
        return ctx.replies

    def _limited(self, inbound: Inbound) -> list[int] | None:
        """Apply the per-user limit; staff in their groups are never limited."""
        if inbound.user_id is None or not inbound.is_private:
            return None
        allowed, notify, wait = self.limiter.check(f"{inbound.channel}:{inbound.user_id}")
        if allowed:
            return None
        self.services.metrics.inc("rate_limited_total")
        if not notify:
            return []
        with self.services.uow() as uow:
            ctx = HandlerContext(inbound, uow, self.services)
            ctx.reply("citizen/rate_limited", {"seconds": wait})
            uow.commit()
            return ctx.replies

    def _apply(self, uow: UnitOfWork, inbound: Inbound) -> HandlerContext | None:
        """Claim the update and run its handler in ``uow`` (None: a redelivery, skipped)."""
        if inbound.update_id is not None and not uow.updates.claim(
                inbound.channel, inbound.update_id, self.services.clock()):
            log.info("duplicate update %s ignored", inbound.update_id)
            return None
        ctx = HandlerContext(inbound, uow, self.services)
        handler = self.route(ctx)
        if handler is not None:
            handler(ctx)
        return ctx

    def _handle_alone(self, inbound: Inbound) -> list[int]:
        try:
            with self.services.uow() as uow:
                ctx = self._apply(uow, inbound)
                uow.commit()
            return self._committed(ctx)
        except DomainError as exc:
            return self._refuse(inbound, exc)

    def _refuse(self, inbound: Inbound, exc: DomainError) -> list[int]:
        """Nothing of the refused action stays; only the polite refusal is queued."""
        log.info("refused: %s", type(exc).__name__)  # never the text: it may hold user input
        with self.services.uow() as uow:
            if inbound.update_id is not None:
                uow.updates.claim(inbound.channel, inbound.update_id, self.services.clock())
            reply_ctx = HandlerContext(inbound, uow, self.services)
            principal = reply_ctx.principal()
            command = inbound.command or ""
            if (isinstance(exc, NotAllowed) and inbound.is_private
                    and command in SUPERVISOR_COMMANDS):
                reply_ctx.reply("supervisor/refused")
            elif isinstance(exc, TicketNotFound) and inbound.is_private and inbound.args:
                reply_ctx.reply("citizen/not_found", {"reference": inbound.args[0].upper()})
            elif not inbound.is_private and isinstance(exc, TicketNotFound) and (
                    principal.kind is PrincipalKind.ANONYMOUS):
                pass  # strangers chatting in a staff group get no noise from the bot
            else:
                reply_ctx.reply("common/domain_error", {
                    "code": exc.code, "private": inbound.is_private,
                    "state": exc.state if isinstance(exc, InvalidTransition) else "",
                    "name": principal.name or inbound.user_name,
                    "codes": ", ".join(o.code for o in uow.opds.all()),
                    "reopen_days": self.services.config.tickets.reopen_days,
                }, quote=not inbound.is_private)
            uow.commit()
            return reply_ctx.replies

    def route(self, ctx: HandlerContext) -> Handler | None:
        """Pick the handler for an inbound message (None: ignore it)."""
        inbound = ctx.inbound
        if inbound.callback_data is not None:
            return self._route_callback(inbound.callback_data, inbound.is_private)
        if inbound.command:
            if not inbound.is_private:
                if inbound.command in CARD_COMMANDS and inbound.reply_to_message_id:
                    return staff.command_on_card
                return GROUP_COMMANDS.get(inbound.command)
            handler = self.extra_private.get(inbound.command) or PRIVATE_COMMANDS.get(
                inbound.command)
            return handler or (lambda c: c.reply("common/unknown_command"))
        if not inbound.is_private:
            if inbound.reply_to_message_id is not None and (inbound.text or inbound.attachment):
                link = ctx.uow.links.find(inbound.channel, inbound.chat_id,
                                          inbound.reply_to_message_id)
                if link is not None and link.purpose == "card":
                    return staff.reply_to_card
            return None
        if inbound.reply_to_message_id is not None:
            link = ctx.uow.links.find(inbound.channel, inbound.chat_id,
                                      inbound.reply_to_message_id)
            if link is not None and link.purpose == "relay":
                ticket_id = link.ticket_id
                return lambda c: citizen.follow_up(c, ticket_id)
        if inbound.attachment is not None:
            return citizen.attachment
        if inbound.text and inbound.text.strip():
            return citizen.question
        return lambda c: c.reply("citizen/unsupported")

    @staticmethod
    def _route_callback(data: str, private: bool) -> Handler:
        parts = data.split(":")
        kind = parts[0]
        try:
            if kind == "d" and private and len(parts) >= 3:
                nonce, op = parts[1], parts[2]
                arg = parts[3] if len(parts) > 3 else None
                return lambda c: citizen.draft_button(c, nonce, op, arg)
            if kind == "r" and private and len(parts) == 3:
                ticket_id, rating = int(parts[1]), int(parts[2])
                return lambda c: citizen.rate(c, ticket_id, rating)
            if kind == "x" and private and len(parts) == 2:
                answer = parts[1]
                return lambda c: citizen.erase_button(c, answer)
            if kind == "o" and private and len(parts) == 2:
                ticket_id = int(parts[1])
                return lambda c: citizen.reopen(c, ticket_id)
            if kind == "t" and not private and len(parts) >= 3:
                ticket_id, op = int(parts[1]), parts[2]
                arg = parts[3] if len(parts) > 3 else None
                return lambda c: staff.card_button(c, ticket_id, op, arg)
        except ValueError:
            pass
        if private:
            return lambda c: c.reply("citizen/stale_button")

        def forged(_: HandlerContext) -> None:
            raise NotAllowed("unknown button")

        return forged
