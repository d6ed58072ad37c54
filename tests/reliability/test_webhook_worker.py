"""`sahut run --webhook --listen HOST:PORT --public-url URL`, as an operator starts it.

A real worker process behind its webhook: it registers the webhook with the secret from
TELEGRAM_WEBHOOK_SECRET, refuses updates without that secret, answers a citizen, treats a
redelivered update as already handled, reports health and Prometheus metrics, and stops
cleanly on SIGTERM.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.reliability.workers import Worker, scalar, write_worker_config
from tests.telegram_fake import FakeTelegram

pytestmark = [pytest.mark.e2e, pytest.mark.db]

SECRET = "webhook-secret-for-the-test"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
CITIZEN = 630_001
PUBLIC_URL = "https://sahut.example.go.id"  # the bot serves and registers URL/telegram


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram()
    server.start()
    yield server
    server.stop()


def _wait(check: Callable[[], bool], limit: float, worker: Worker, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert worker.alive, f"the worker exited while waiting for {what}:\n{worker.log_tail()}"
        assert time.monotonic() < deadline, f"no {what} in {limit}s:\n{worker.log_tail()}"
        time.sleep(0.05)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_webhook_worker_checks_the_secret_answers_once_and_reports_its_health(
        tmp_path: Path, db_url: str, engine: Engine, fake: FakeTelegram,
        worker_factory: Callable[..., Worker]) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    worker = worker_factory(write_worker_config(tmp_path, db_url), db_url, fake,
                            extra_env={"TELEGRAM_WEBHOOK_SECRET": SECRET},
                            run_args=["--webhook", "--listen", f"127.0.0.1:{port}",
                                      "--public-url", PUBLIC_URL])
    worker.start()
    _wait(lambda: _healthy(base), 60, worker, "healthy /healthz")

    # Registered at start-up, with the secret Telegram must send back.
    assert fake.webhook_url == PUBLIC_URL + "/telegram"
    [registration] = fake.calls_of("setWebhook")
    assert registration.params["secret_token"] == SECRET

    update = fake.message_update(CITIZEN, CITIZEN, "min gmn cara bayar pajak kendaraan bermotor?")
    update["update_id"] = 7001  # what Telegram puts in every webhook call
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.post("/telegram", json=update).status_code == 403
        assert client.post("/telegram", json=update,
                           headers={HEADER: "not-the-secret"}).status_code == 403
        assert scalar(engine, "SELECT count(*) FROM processed_updates") == 0

        assert client.post("/telegram", content=b"{not json",
                           headers={HEADER: SECRET}).status_code == 400
        # The worker answers only after the reply is committed, and once per update.
        assert client.post("/telegram", json=update, headers={HEADER: SECRET}).status_code == 200
        assert client.post("/telegram", json=update, headers={HEADER: SECRET}).status_code == 200
        assert scalar(engine, "SELECT count(*) FROM processed_updates") == 1
        assert scalar(engine, "SELECT count(*) FROM outbox WHERE chat_id = :chat",
                      chat=CITIZEN) == 1
        _wait(lambda: bool(fake.texts_to(CITIZEN)), 30, worker, "reply to the citizen")
        assert len(fake.texts_to(CITIZEN)) == 1

        health = client.get("/healthz").json()
        assert health["status"] == "ok"
        assert health["database"] == "ok"
        assert set(health["outbox"]) == {"depth", "lag_seconds"}
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        # Both deliveries were handled (the second one found the update already done).
        assert 'sahut_updates_handled_total{channel="telegram"} 2' in metrics.text
        assert "sahut_bad_updates_total 1" in metrics.text
        assert "sahut_handler_latency_seconds_bucket" in metrics.text
        assert "sahut_outbox_depth" in metrics.text

    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught so the process ends
    # "by SIGTERM", which systemd counts as a clean stop.
    assert worker.stop() in (0, -signal.SIGTERM), worker.log_tail()
    assert "Application.stop() complete" in worker.log_tail()
    assert worker.tracebacks() == []
