"""Citizens in their private chat: questions, FAQ answers, tickets, status, ratings."""

from __future__ import annotations

import secrets
from typing import Any

from faq.model import Decision, DecisionKind
from handlers.context import HandlerContext
from routing.errors import TicketNotFound
from routing.intake import guess_kind
from routing.outbox import Button
from routing.people import Draft
from routing.tickets import TicketKind

MAX_SUGGESTIONS = 3


def start(ctx: HandlerContext) -> None:
    """/start: who answers, what the bot does, the privacy notice."""
    ctx.citizen()
    ctx.reply("citizen/start")


def help_(ctx: HandlerContext) -> None:
    """/bantuan: how to use the bot."""
    ctx.reply("citizen/help")


def _draft(ctx: HandlerContext) -> Draft | None:
    return ctx.uow.drafts.get(ctx.inbound.channel, ctx.inbound.chat_id)


def _save(ctx: HandlerContext, data: dict[str, Any]) -> Draft:
    draft = Draft(ctx.inbound.channel, ctx.inbound.chat_id, data)
    ctx.uow.drafts.put(draft, ctx.services.clock())
    return draft


def _proposal(ctx: HandlerContext, draft: Draft, *, after_faq: bool = False) -> None:
    """Show the ticket proposal: destination, kind, evidence, and the one-tap Kirim button."""
    data = draft.data
    nonce = data["nonce"]
    opd_name = ctx.services.faq.opd_name(data["opd"], ctx.uow)  # the snapshot: no query
    kind_rows = tuple(
        Button("kind", f"d:{nonce}:kind:{k.value}",
               {"label": ctx.services.renderer.env.filters["jenis"](k.value),
                "selected": data["kind"] == k.value})
        for k in TicketKind
    )
    ctx.reply("citizen/ticket_proposal", {
        "text": data["text"], "opd_name": opd_name, "kind": data["kind"],
        "triage": data.get("triage", False), "after_faq": after_faq,
        "attachments": len(data.get("attachments", [])),
        "anonymous": bool(data.get("anonymous")),
        "confidential": bool(data.get("confidential")),
    }, buttons=(
        (Button("send", f"d:{nonce}:send", {"opd": data["opd"]}),),
        kind_rows,
        (Button("anonymous", f"d:{nonce}:anon", {"on": bool(data.get("anonymous"))}),
         Button("confidential", f"d:{nonce}:conf", {"on": bool(data.get("confidential"))})),
        (Button("other_opd", f"d:{nonce}:opds"), Button("cancel", f"d:{nonce}:cancel")),
    ))


def _route_target(ctx: HandlerContext, decision: Decision) -> tuple[str, bool]:
    """Where a ticket would go: the decided OPD, else PPID Utama (triage)."""
    ppid = ctx.services.config.ppid_utama.code
    if decision.opd and decision.decision in (DecisionKind.ROUTE, DecisionKind.ANSWER):
        return decision.opd, False
    opds = {c.opd for c in decision.candidates[:MAX_SUGGESTIONS]}
    if decision.decision is DecisionKind.SUGGEST and len(opds) == 1:
        return opds.pop(), False
    return ppid, True


def question(ctx: HandlerContext) -> None:
    """Free text: answer from the FAQ, offer choices, or propose a ticket."""
    text = (ctx.inbound.text or "").strip()
    limit = ctx.services.config.tickets.max_text_chars
    if len(text) > limit:
        ctx.reply("citizen/too_long", {"limit": limit})
        return
    ctx.citizen()
    decision = ctx.services.faq.matcher(ctx.uow).decide(text)
    ctx.count("decisions_total", decision=decision.decision.value)
    if decision.decision is DecisionKind.SMALLTALK:
        lowered = text.lower()
        thanks = any(w in lowered for w in ("makasih", "terima kasih", "trims", "thanks", "tq",
                                            "nuhun", "suwun"))
        ctx.reply("citizen/smalltalk", {"kind": "thanks" if thanks else "greeting"})
        return
    previous = _draft(ctx)
    target, triage = _route_target(ctx, decision)
    data: dict[str, Any] = {
        "nonce": secrets.token_hex(3), "text": text, "decision": decision.decision.value,
        "opd": target, "triage": triage, "kind": guess_kind(text).value,
        "candidates": [c.faq_id for c in decision.candidates[:MAX_SUGGESTIONS]],
        "faq_id": decision.faq_id,
        # Evidence sent just before the words stays with the new question.
        "attachments": (previous.data.get("attachments", []) if previous else []),
    }
    if decision.decision is DecisionKind.ANSWER and decision.faq_id:
        # _show_faq saves the draft with the answer's OPD: one write instead of two.
        _show_faq(ctx, Draft(ctx.inbound.channel, ctx.inbound.chat_id, data), decision.faq_id)
        return
    draft = _save(ctx, data)
    if decision.decision is DecisionKind.SUGGEST and data["candidates"]:
        entries = [ctx.services.faq.entry(fid, ctx.uow) for fid in data["candidates"]]
        shown = [e for e in entries if e is not None]
        nonce = data["nonce"]
        ctx.reply("citizen/faq_suggest",
                  {"candidates": [{"question": e.question} for e in shown]},
                  buttons=(
                      *((Button("suggestion", f"d:{nonce}:pick:{i}",
                                {"question": _short(e.question)}),)
                        for i, e in enumerate(shown)),
                      (Button("forward", f"d:{nonce}:fwd"),),
                  ))
    else:
        _proposal(ctx, draft)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _show_faq(ctx: HandlerContext, draft: Draft, faq_id: str) -> None:
    entry = ctx.services.faq.entry(faq_id, ctx.uow)
    if entry is None:
        ctx.uow.drafts.put(draft, ctx.services.clock())
        _proposal(ctx, draft)
        return
    nonce = draft.data["nonce"]
    draft.data["faq_id"] = faq_id
    draft.data["opd"] = entry.opd
    draft.data["triage"] = False
    ctx.uow.drafts.put(draft, ctx.services.clock())
    ctx.reply("citizen/faq_answer", {
        "question": entry.question, "answer": entry.answer,
        "opd_name": ctx.services.faq.opd_name(entry.opd, ctx.uow),
    }, buttons=((Button("helpful_yes", f"d:{nonce}:yes"),
                 Button("helpful_no", f"d:{nonce}:no")),))


def draft_button(ctx: HandlerContext, nonce: str, op: str, arg: str | None) -> None:
    """Buttons on FAQ answers, suggestions and ticket proposals (``d:<nonce>:<op>``)."""
    draft = _draft(ctx)
    if draft is None or draft.data.get("nonce") != nonce:
        ctx.reply("citizen/stale_button")
        return
    data = draft.data
    if op == "yes":
        ctx.uow.drafts.delete(draft.channel, draft.chat_id)
        ctx.reply("citizen/faq_thanks")
    elif op in ("no", "fwd"):
        _proposal(ctx, draft, after_faq=True)
    elif op == "pick" and arg is not None and arg.isdigit():
        candidates = data.get("candidates", [])
        index = int(arg)
        if index >= len(candidates):
            ctx.reply("citizen/stale_button")
            return
        _show_faq(ctx, draft, candidates[index])
    elif op == "opds":
        opds = [o for o in ctx.uow.opds.all()]
        ctx.reply("citizen/pick_opd", buttons=tuple(
            (Button("pick_opd", f"d:{nonce}:opd:{o.code}", {"name": _short(o.name, 40)}),)
            for o in opds))
    elif op == "opd" and arg:
        opd = ctx.uow.opds.get(arg)
        if opd is None:
            ctx.reply("citizen/stale_button")
            return
        data["opd"] = opd.code
        data["triage"] = opd.is_ppid_utama
        _save(ctx, data)
        _proposal(ctx, draft)
    elif op == "kind" and arg in {k.value for k in TicketKind}:
        data["kind"] = arg
        _save(ctx, data)
        _proposal(ctx, draft)
    elif op == "anon":
        # SP4N-LAPOR!-style anonymous report: the OPD never sees who sent it.
        data["anonymous"] = not data.get("anonymous")
        _save(ctx, data)
        _proposal(ctx, draft)
    elif op == "conf":
        # SP4N-LAPOR!-style confidential report: the content stays out of public statistics.
        data["confidential"] = not data.get("confidential")
        _save(ctx, data)
        _proposal(ctx, draft)
    elif op == "cancel":
        ctx.uow.drafts.delete(draft.channel, draft.chat_id)
        ctx.reply("citizen/cancelled")
    elif op == "send":
        _send(ctx, draft)
    else:
        ctx.reply("citizen/stale_button")


def _send(ctx: HandlerContext, draft: Draft) -> None:
    data = draft.data
    citizen = ctx.citizen()
    view = ctx.helpdesk.open_ticket(
        ctx.uow, citizen=citizen, text=data["text"], opd_code=data["opd"],
        kind=TicketKind(data["kind"]), anonymous=bool(data.get("anonymous")),
        confidential=bool(data.get("confidential")),
        attachments=data.get("attachments", []),
    )
    ctx.uow.drafts.delete(draft.channel, draft.chat_id)
    ctx.count("tickets_opened_total", kind=view.ticket.kind.value)
    sla = ctx.services.config.sla
    legal_days = sla.legal_days(view.ticket)
    ctx.reply("citizen/ticket_opened", {
        **view.context(),
        "first_response_days": sla.for_kind(view.ticket.kind).first_response_days,
        "legal_days": legal_days,
    }, ticket_id=view.ticket.id, link_purpose="relay")


def _refuse_attachment(ctx: HandlerContext, item: dict[str, Any]) -> bool:
    """Size and type limits on evidence; True when the item was refused (and told so)."""
    limits = ctx.services.config.tickets
    size = item.get("size") or 0
    if size > limits.max_attachment_mb * 1_000_000:
        ctx.reply("citizen/attachment_refused", {"reason": "size",
                                                 "limit": limits.max_attachment_mb})
        return True
    mime = (item.get("mime_type") or "").lower()
    if item.get("kind") == "document" and mime not in limits.allowed_mime_types:
        ctx.reply("citizen/attachment_refused", {"reason": "type"})
        return True
    return False


def attachment(ctx: HandlerContext) -> None:
    """Photos, documents and locations become evidence of the ticket being prepared."""
    inbound = ctx.inbound
    assert inbound.attachment is not None
    if _refuse_attachment(ctx, inbound.attachment):
        return
    caption = (inbound.attachment.get("caption") or "").strip()
    draft = _draft(ctx)
    if draft is None and caption:
        # A photo with a caption is a question with evidence: decide on the caption.
        _save(ctx, {"nonce": "", "attachments": [inbound.attachment]})
        question_ctx = HandlerContext(
            inbound=_with_text(inbound, caption), uow=ctx.uow, services=ctx.services)
        question(question_ctx)
        return
    if draft is None:
        _save(ctx, {"nonce": "", "attachments": [inbound.attachment]})
        ctx.reply("citizen/attachment_without_draft")
        return
    items = draft.data.setdefault("attachments", [])
    limit = ctx.services.config.tickets.max_attachments
    if len(items) >= limit:
        ctx.reply("citizen/refused", {"reason": f"maksimal {limit} lampiran per tiket"})
        return
    items.append(inbound.attachment)
    _save(ctx, draft.data)
    if draft.data.get("nonce"):
        ctx.reply("citizen/attachment_added", {"count": len(items)})
    else:
        ctx.reply("citizen/attachment_without_draft")


def _with_text(inbound: Any, text: str) -> Any:
    from dataclasses import replace

    return replace(inbound, text=text, attachment=None)


def cancel(ctx: HandlerContext) -> None:
    """/batal: forget the ticket being prepared."""
    ctx.uow.drafts.delete(ctx.inbound.channel, ctx.inbound.chat_id)
    ctx.reply("citizen/cancelled")


def status(ctx: HandlerContext) -> None:
    """/status [REF]: the citizen's own tickets, or one of them."""
    principal = ctx.citizen_principal()
    if ctx.inbound.args:
        reference = ctx.inbound.args[0].upper()
        try:
            view = ctx.helpdesk.show_ticket(ctx.uow, principal, reference)
        except TicketNotFound:
            ctx.reply("citizen/not_found", {"reference": reference})
            return
        ctx.reply("citizen/status_one", view.context())
        return
    views = ctx.helpdesk.citizen_tickets(ctx.uow, principal)
    ctx.reply("citizen/status_list", {"tickets": [v.context() for v in views[:20]]})


def rate(ctx: HandlerContext, ticket_id: int, rating: int) -> None:
    """Rating buttons under a closed ticket (``r:<id>:<n>``)."""
    view = ctx.helpdesk.rate(ctx.uow, ctx.citizen_principal(), ticket_id, rating)
    ctx.reply("citizen/rated", {**view.context(), "rating": rating})


def reopen(ctx: HandlerContext, ticket_id: int) -> None:
    """The reopen button under a closed ticket (``o:<id>``)."""
    view = ctx.helpdesk.reopen(ctx.uow, ctx.citizen_principal(), ticket_id)
    ctx.reply("citizen/reopened", view.context(), ticket_id=view.ticket.id,
              link_purpose="relay")


def erase_request(ctx: HandlerContext) -> None:
    """/hapusdata: explain what deletion means and ask for confirmation."""
    principal = ctx.citizen_principal()
    tickets = ctx.helpdesk.citizen_tickets(ctx.uow, principal)
    ctx.reply("citizen/delete_confirm", {
        "tickets": len(tickets), "hours": ctx.services.config.privacy.deletion_hours,
    }, buttons=((Button("erase_yes", "x:yes"), Button("erase_no", "x:no")),))


def erase_button(ctx: HandlerContext, answer: str) -> None:
    """The confirmation buttons of /hapusdata (``x:yes`` / ``x:no``)."""
    if answer != "yes":
        ctx.reply("citizen/delete_cancelled")
        return
    principal = ctx.citizen_principal()
    placeholder = ctx.services.renderer.render("common/erased_placeholder", {})
    count = ctx.helpdesk.erase_citizen(ctx.uow, principal, placeholder)
    ctx.uow.drafts.delete(ctx.inbound.channel, ctx.inbound.chat_id)
    ctx.reply("citizen/data_erased", {"tickets": count})


def follow_up(ctx: HandlerContext, ticket_id: int) -> None:
    """A citizen replied to a message about a ticket: pass it on to the OPD."""
    text = (ctx.inbound.text or (ctx.inbound.attachment or {}).get("caption") or "").strip()
    principal = ctx.citizen_principal()
    if ctx.inbound.attachment and _refuse_attachment(ctx, ctx.inbound.attachment):
        return
    view = ctx.helpdesk.citizen_follow_up(ctx.uow, principal, ticket_id, text or "(lampiran)")
    if ctx.inbound.attachment and view.ticket.id is not None:
        ctx.uow.tickets.add_attachment(view.ticket.id, ctx.inbound.attachment,
                                       ctx.services.clock())
    ctx.reply("citizen/follow_up_received", view.context())
