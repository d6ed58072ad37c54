"""OPD staff in their queue group: answer by replying to a card, buttons, /antrian."""

from __future__ import annotations

from handlers.context import HandlerContext
from routing.errors import NotAllowed, TicketNotFound
from routing.outbox import Button
from routing.policy import Action, Principal, PrincipalKind, authorize
from routing.tickets import Ticket


def _queue_code(ctx: HandlerContext) -> str | None:
    """The OPD whose queue group this chat is."""
    for opd in ctx.uow.opds.all():
        if opd.queue_chat_id is not None and opd.queue_chat_id == ctx.inbound.chat_id:
            return opd.code
    return None


def _linked_ticket(ctx: HandlerContext, message_id: int | None) -> Ticket:
    """The ticket a message in this chat belongs to (a card or a follow-up)."""
    if message_id is None:
        raise TicketNotFound("no message")
    return ctx.helpdesk.ticket_for_message(ctx.uow, ctx.inbound.channel, ctx.inbound.chat_id,
                                           message_id)


def _staff_name(ctx: HandlerContext, principal: Principal) -> str:
    return principal.name or ctx.inbound.user_name or "Petugas"


def reply_to_card(ctx: HandlerContext) -> None:
    """A reply to a ticket card: relay the answer (text, photo or document) to the citizen."""
    ticket = _linked_ticket(ctx, ctx.inbound.reply_to_message_id)
    principal = ctx.principal()
    text = (ctx.inbound.text or (ctx.inbound.attachment or {}).get("caption") or "").strip()
    first = ticket.first_response_at is None
    assert ticket.id is not None
    ctx.helpdesk.answer(ctx.uow, principal, ticket.id, text, attachment=ctx.inbound.attachment)
    ctx.reply("staff/answered", {"reference": ticket.reference, "first": first}, quote=True)


def command_on_card(ctx: HandlerContext) -> None:
    """/tunggu, /alihkan, /perpanjang, /tutup, /tolak sent as a reply to a ticket card."""
    ticket = _linked_ticket(ctx, ctx.inbound.reply_to_message_id)
    assert ticket.id is not None
    principal = ctx.principal()
    command = ctx.inbound.command
    rest = ctx.inbound.rest_text
    base = {"reference": ticket.reference, "staff_name": _staff_name(ctx, principal)}
    if command == "tunggu":
        ctx.helpdesk.wait_for_citizen(ctx.uow, principal, ticket.id, rest)
        ctx.reply("staff/waiting", base, quote=True)
    elif command == "alihkan":
        code, _, reason = rest.partition(" ")
        if not code:
            ctx.reply("staff/error", {"reason": "Tulis kode OPD tujuan: /alihkan KODE ALASAN"})
            return
        view = ctx.helpdesk.transfer(ctx.uow, principal, ticket.id, code,
                                     reason.strip() or f"bukan wewenang {ticket.opd_code}")
        ctx.reply("staff/transferred", {**base, "opd_name": view.opd.name}, quote=True)
    elif command == "perpanjang":
        view = ctx.helpdesk.extend(ctx.uow, principal, ticket.id, rest)
        ctx.reply("staff/extended", view.context(), quote=True)
    elif command == "tutup":
        ctx.helpdesk.close(ctx.uow, principal, ticket.id, rest)
        ctx.reply("staff/closed", base, quote=True)
    elif command == "tolak":
        ctx.helpdesk.reject(ctx.uow, principal, ticket.id, rest or "spam")
        ctx.reply("staff/rejected", base, quote=True)


def card_button(ctx: HandlerContext, ticket_id: int, op: str, arg: str | None) -> None:
    """Buttons on a ticket card (``t:<id>:<op>``); refused unless pressed on that card."""
    message_id = ctx.inbound.callback_message_id
    link = (ctx.uow.links.find(ctx.inbound.channel, ctx.inbound.chat_id, message_id)
            if message_id is not None else None)
    # A forged or replayed press (another ticket's id, another chat) is refused outright.
    if link is None or link.ticket_id != ticket_id:
        raise NotAllowed("this button does not belong to that ticket")
    principal = ctx.principal()
    helpdesk = ctx.helpdesk
    base = {"staff_name": _staff_name(ctx, principal)}
    if op == "claim":
        view = helpdesk.claim(ctx.uow, principal, ticket_id)
        ctx.reply("staff/claimed", {**view.context(for_staff=True), **base})
    elif op == "xfer":
        view = helpdesk.show_ticket(ctx.uow, principal, ticket_id)
        authorize(principal, Action.TRANSFER, view.ticket)  # only show choices to who may use them
        targets = [o for o in ctx.uow.opds.all() if o.code != view.ticket.opd_code]
        ctx.reply("staff/transfer_pick", view.context(for_staff=True), buttons=tuple(
            (Button("transfer_to", f"t:{ticket_id}:to:{o.code}", {"name": o.name[:40]}),)
            for o in targets), ticket_id=ticket_id, link_purpose="card")
    elif op == "to" and arg:
        view = helpdesk.show_ticket(ctx.uow, principal, ticket_id)
        new = helpdesk.transfer(ctx.uow, principal, ticket_id, arg,
                                f"bukan wewenang {view.ticket.opd_code}")
        ctx.reply("staff/transferred", {**base, "reference": new.ticket.reference,
                                        "opd_name": new.opd.name})
    elif op == "wait":
        view = helpdesk.show_ticket(ctx.uow, principal, ticket_id)
        authorize(principal, Action.WAIT, view.ticket)
        ctx.reply("staff/wait_hint", view.context(for_staff=True))
    elif op == "close":
        view = helpdesk.show_ticket(ctx.uow, principal, ticket_id)
        authorize(principal, Action.CLOSE, view.ticket)
        if not view.ticket.is_active:
            raise NotAllowed("the ticket is no longer active")
        ctx.reply("staff/close_confirm", view.context(for_staff=True), buttons=((
            Button("close_yes", f"t:{ticket_id}:close!"),
            Button("close_no", f"t:{ticket_id}:keep"),
        ),), ticket_id=ticket_id, link_purpose="card")
    elif op == "close!":
        view = helpdesk.close(ctx.uow, principal, ticket_id)
        ctx.reply("staff/closed", {**base, "reference": view.ticket.reference})
    elif op == "keep":
        view = helpdesk.show_ticket(ctx.uow, principal, ticket_id)
        ctx.reply("staff/close_cancelled", {"reference": view.ticket.reference})
    else:
        raise NotAllowed("unknown button")


def queue(ctx: HandlerContext) -> None:
    """/antrian: the open tickets of this group's OPD (or of the staff member's own OPD)."""
    principal = ctx.principal()
    code = _queue_code(ctx) if not ctx.inbound.is_private else principal.opd_code
    if ctx.inbound.args and principal.kind in (PrincipalKind.ADMIN, PrincipalKind.SUPERVISOR):
        code = ctx.inbound.args[0].upper()
    if code is None:
        raise NotAllowed("no queue here")
    views = ctx.helpdesk.queue(ctx.uow, principal, code)
    opd = ctx.uow.opds.get(code)
    ctx.reply("staff/queue", {"opd_name": opd.name if opd else code,
                              "tickets": [v.context(for_staff=True) for v in views[:30]]})
