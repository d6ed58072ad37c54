"""Flood limits, size limits and quiet logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.services import Services
from db.models import OutboxRow
from handlers.dispatch import Dispatcher
from handlers.inbound import Inbound
from handlers.ratelimit import RateLimiter

FLOODER, NEIGHBOUR = 6001, 6002


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_refuses_and_refills() -> None:
    ticker = Ticker()
    limiter = RateLimiter(rate_per_minute=6, burst=3, clock=ticker)
    assert [limiter.check("a")[0] for _ in range(3)] == [True, True, True]
    allowed, notify, wait = limiter.check("a")
    assert (allowed, notify) == (False, True)
    assert 1 <= wait <= 10
    assert limiter.check("a")[1] is False  # told once per minute, not on every message
    assert limiter.check("b")[0] is True  # other people are not affected
    ticker.now += 10
    assert limiter.check("a")[0] is True


def _texts_to(services: Services, chat: int) -> list[str]:
    with services.session_factory() as session:
        return list(session.scalars(select(OutboxRow.template).where(
            OutboxRow.chat_id == chat).order_by(OutboxRow.id)))


@pytest.mark.db
def test_a_flooding_citizen_gets_one_polite_notice_and_others_are_served(
        services: Services) -> None:
    dispatcher = Dispatcher(services, RateLimiter(rate_per_minute=1, burst=2))
    for n in range(10):
        dispatcher.handle(Inbound(channel="telegram", chat_id=FLOODER, user_id=FLOODER,
                                  update_id=100 + n, text="/bantuan", command="bantuan"))
    dispatcher.handle(Inbound(channel="telegram", chat_id=NEIGHBOUR, user_id=NEIGHBOUR,
                              update_id=500, text="/bantuan", command="bantuan"))
    flooder = _texts_to(services, FLOODER)
    assert flooder.count("citizen/help") == 2
    assert flooder.count("citizen/rate_limited") == 1
    assert _texts_to(services, NEIGHBOUR) == ["citizen/help"]


@pytest.mark.db
def test_an_overlong_message_is_refused_politely_without_a_ticket(services: Services) -> None:
    limit = services.config.tickets.max_text_chars
    Dispatcher(services).handle(Inbound(channel="telegram", chat_id=FLOODER, user_id=FLOODER,
                                        text="x" * (limit + 1)))
    assert _texts_to(services, FLOODER) == ["citizen/too_long"]


@pytest.mark.db
def test_an_oversized_or_unexpected_attachment_is_refused(services: Services) -> None:
    dispatcher = Dispatcher(services)
    huge = services.config.tickets.max_attachment_mb * 1_000_000 + 1
    dispatcher.handle(Inbound(channel="telegram", chat_id=FLOODER, user_id=FLOODER,
                              attachment={"kind": "photo", "file_id": "f", "size": huge}))
    dispatcher.handle(Inbound(channel="telegram", chat_id=FLOODER, user_id=FLOODER,
                              attachment={"kind": "document", "file_id": "g",
                                          "mime_type": "application/x-msdownload"}))
    assert _texts_to(services, FLOODER) == ["citizen/attachment_refused"] * 2


@pytest.mark.db
def test_info_logs_never_contain_message_text_or_personal_data(
        services: Services, caplog: pytest.LogCaptureFixture) -> None:
    secret = "NIK 3201234567891234 rahasia pribadi"
    dispatcher = Dispatcher(services)
    with caplog.at_level(logging.INFO):
        dispatcher.handle(Inbound(channel="telegram", chat_id=FLOODER, user_id=FLOODER,
                                  user_name="Nama Rahasia", text=secret))
        dispatcher.handle(Inbound(channel="telegram", chat_id=FLOODER, user_id=FLOODER,
                                  text=f"/status {secret}", command="status",
                                  args=tuple(secret.split())))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "3201234567891234" not in logged
    assert "rahasia" not in logged
    assert "Nama Rahasia" not in logged
