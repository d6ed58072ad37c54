"""Hostile input: random text, control characters, huge messages, malformed updates and
forged callback data go through the real parsing and handlers without an exception escaping
and without corrupting a ticket."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import Bot, Update

from bot.services import Services
from bot.telegram_app import inbound_from_callback, inbound_from_message
from db.models import TicketEventRow, TicketRow
from handlers.dispatch import Dispatcher
from handlers.inbound import Inbound
from handlers.ratelimit import RateLimiter
from routing.tickets import TicketState
from tests.builders import BAPENDA_CHAT

pytestmark = pytest.mark.db

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

texts = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=50),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(500, 3000)),
    st.sampled_from(["", " ", "/", "//", "/status", "/status PPID-2026-999999", "/start@x y",
                     "/ringkasan tahun", "/antrian", "/hapusdata", "🙏🙏🙏", "1234567890123456",
                     "<b>x</b>", "=cmd|' /C calc'!A0", "\u202etxet", "ㅋㅋ", "مرحبا", "..."]),
)
callback_data = st.one_of(
    st.text(max_size=64),
    st.builds(lambda kind, a, b: f"{kind}:{a}:{b}", st.sampled_from(["d", "t", "r", "o", "x"]),
              st.one_of(st.integers(-5, 10**9).map(str), st.text(max_size=8)),
              st.one_of(st.sampled_from(["send", "claim", "close!", "xfer", "to:DISHUB",
                                         "kind:aspirasi", "pick:7", "opd:NOPE", "yes"]),
                        st.text(max_size=10))),
)
users = st.sampled_from([5001, 5002, 7101, 7999])
chats = st.sampled_from([5001, 5002, BAPENDA_CHAT, -1009])


def _dispatcher(services: Services) -> Dispatcher:
    # No rate limit here: the fuzzer is one very fast user on purpose.
    return Dispatcher(services, RateLimiter(10**9, 10**9))


def _check_tickets(services: Services) -> None:
    with services.session_factory() as session:
        tickets = session.scalars(select(TicketRow)).all()
        for ticket in tickets:
            assert re.fullmatch(r"PPID-\d{4}-\d{6}", ticket.reference)
            assert TicketState(ticket.state)
            assert ticket.created_at.tzinfo is not None
            first = session.scalars(select(TicketEventRow).where(
                TicketEventRow.ticket_id == ticket.id).order_by(TicketEventRow.id)).first()
            assert first is not None
            assert first.type == "opened"


@given(chat=chats, user=users, text=texts, reply_to=st.one_of(st.none(), st.integers(1, 50)))
@FUZZ
def test_random_messages_never_escape_the_handlers(services: Services, chat: int, user: int,
                                                   text: str, reply_to: int | None) -> None:
    command, args = Inbound.split_command(text)
    inbound = Inbound(channel="telegram", chat_id=chat, user_id=user, is_private=chat > 0,
                      text=text, command=command, args=args, reply_to_message_id=reply_to,
                      user_name="\u0000Nama\u202e")
    _dispatcher(services).handle(inbound)
    _check_tickets(services)


@given(chat=chats, user=users, data=callback_data, message_id=st.integers(-3, 60))
@FUZZ
def test_random_callback_data_is_refused_or_handled_never_crashes(
        services: Services, chat: int, user: int, data: str, message_id: int) -> None:
    inbound = Inbound(channel="telegram", chat_id=chat, user_id=user, is_private=chat > 0,
                      callback_data=data, callback_message_id=message_id)
    _dispatcher(services).handle(inbound)
    _check_tickets(services)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.text(max_size=40)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def _update_like(draw_message: dict[str, Any], noise: dict[str, Any]) -> dict[str, Any]:
    update: dict[str, Any] = {"update_id": 1, **noise}
    update.update(draw_message)
    return update


messages = st.fixed_dictionaries({
    "message": st.fixed_dictionaries({
        "message_id": st.integers(1, 100), "date": st.integers(0, 2**31),
        "chat": st.fixed_dictionaries({"id": chats, "type": st.sampled_from(
            ["private", "group", "supergroup", "channel", "weird"])}),
        "from": st.fixed_dictionaries({"id": users, "is_bot": st.booleans(),
                                       "first_name": st.text(max_size=30)}),
    }, optional={"text": texts, "caption": texts,
                 "photo": st.lists(st.fixed_dictionaries({
                     "file_id": st.text(min_size=1, max_size=20),
                     "file_unique_id": st.text(min_size=1, max_size=5),
                     "width": st.integers(1, 9), "height": st.integers(1, 9),
                     "file_size": st.integers(0, 10**9)}), max_size=2),
                 "reply_to_message": st.fixed_dictionaries({
                     "message_id": st.integers(1, 50), "date": st.integers(0, 10),
                     "chat": st.fixed_dictionaries({"id": chats, "type": st.just("private")})}),
                 "extra": json_values}),
})
callbacks = st.fixed_dictionaries({
    "callback_query": st.fixed_dictionaries({
        "id": st.text(min_size=1, max_size=8), "chat_instance": st.text(max_size=8),
        "from": st.fixed_dictionaries({"id": users, "is_bot": st.just(False),
                                       "first_name": st.text(max_size=10)}),
    }, optional={"data": callback_data, "message": st.fixed_dictionaries({
        "message_id": st.integers(1, 60), "date": st.integers(0, 10),
        "chat": st.fixed_dictionaries({"id": chats, "type": st.just("private")})})}),
})


@given(payload=st.one_of(messages, callbacks),
       noise=st.dictionaries(st.sampled_from(["edited_message", "poll", "bogus"]), json_values,
                             max_size=2))
@FUZZ
def test_malformed_updates_are_parsed_safely_and_never_crash_the_handlers(
        services: Services, payload: dict[str, Any], noise: dict[str, Any]) -> None:
    bot = Bot("123:FUZZ")
    try:
        update = Update.de_json(_update_like(payload, noise), bot)
    except (TypeError, ValueError, KeyError, AttributeError):
        return  # PTB refused to parse it; the webhook answers 400 and nothing happens
    if update is None:
        return
    inbound = inbound_from_message(update) or inbound_from_callback(update)
    if inbound is not None:
        _dispatcher(services).handle(inbound)
    _check_tickets(services)
