"""`sahut run` as an operator starts it: a real process polling a Bot API on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.services import Services, build_services
from tests.builders import BAPENDA_CHAT, DISHUB_CHAT, PPID_CHAT, FixedClock, build_config
from tests.e2e.harness import BAPENDA_STAFF, CITIZEN, TOKEN, Harness
from tests.telegram_fake import FakeTelegram

pytestmark = [pytest.mark.e2e, pytest.mark.db]
ROOT = Path(__file__).resolve().parents[2]


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(f"""
        [province]
        name = "Provinsi Uji"
        timezone = "Asia/Jakarta"

        [database]
        url = "sqlite:///unused.db"

        [telegram]

        [[opd]]
        code = "BAPENDA"
        name = "Badan Pendapatan Daerah"
        description = "Pajak kendaraan bermotor dan layanan Samsat."
        queue_chat_id = {BAPENDA_CHAT}

        [[opd]]
        code = "DISHUB"
        name = "Dinas Perhubungan"
        description = "Angkutan antarkota, terminal, rambu lalu lintas."
        queue_chat_id = {DISHUB_CHAT}

        [ppid_utama]
        code = "PPID"
        name = "PPID Utama"
        queue_chat_id = {PPID_CHAT}

        [calendar]
        first_year = 2025
        last_year = 2027
        """), encoding="utf-8")
    return path


def _env(db_url: str, fake: FakeTelegram, *, token: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SAHUT_"))}
    env.update({"DATABASE_URL": db_url, "TELEGRAM_BASE_URL": fake.base_url,
                "TELEGRAM_BASE_FILE_URL": fake.base_file_url, "PYTHONUNBUFFERED": "1"})
    if token:
        env["TELEGRAM_BOT_TOKEN"] = TOKEN
    return env


def _sahut(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.fixture
def observer(db_url: str, engine: Engine) -> Iterator[Services]:
    """Services on the same database, only to watch what the bot process did."""
    services = build_services(build_config(db_url), clock=FixedClock(), engine=engine)
    yield services
    services.dispose()


async def test_sahut_run_serves_a_whole_conversation_and_stops_cleanly_on_sigterm(
        tmp_path: Path, db_url: str, fake: FakeTelegram, observer: Services) -> None:
    config = _config_file(tmp_path)
    env = _env(db_url, fake)
    added = _sahut(config, env, "staff", "add", "--telegram-id", str(BAPENDA_STAFF),
                   "--name", "Sari", "--opd", "BAPENDA")
    assert added.returncode == 0, added.stderr
    # Starting the process does not block; the test then talks to it only through the fake.
    process = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        await fake.wait_for(lambda: fake.calls_of("setMyCommands"), timeout=30)
        bot = Harness(fake, observer)
        await bot.say(CITIZEN, CITIZEN, "/start")
        assert "Provinsi Uji" in bot.last_text(CITIZEN)

        reference = await bot.open_ticket(CITIZEN, "petugas samsat minta uang tambahan",
                                          "Badan Pendapatan")
        card = bot.card(BAPENDA_CHAT, reference)
        await bot.say(BAPENDA_CHAT, BAPENDA_STAFF, "Kami tindak lanjuti hari ini.",
                      reply_to=card["message_id"])
        assert "Tanggapan dari Badan Pendapatan Daerah" in bot.last_text(CITIZEN)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_sahut_run_without_a_token_points_to_the_chat_console(
        tmp_path: Path, db_url: str, fake: FakeTelegram, engine: Engine) -> None:
    result = _sahut(_config_file(tmp_path), _env(db_url, fake, token=False), "run")
    assert result.returncode != 0
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "sahut chat" in result.stderr
    assert "Traceback" not in result.stderr
