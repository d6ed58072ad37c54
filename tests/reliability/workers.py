"""Real worker processes (``python -m bot run``) polling the fake Bot API, for crash tests,
and the citizens and staff who talk to them through it.

Each incarnation of a worker gets a token of its own (same bot, as if the token had been
rotated between restarts), so every request the fake Bot API records can be attributed to
the process that made it: ``FakeTelegram.calls[i].token``. Output goes to a log file per
incarnation (never to a pipe nobody reads, which would block the worker when it fills).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from bot.config import load_config
from bot.render import Renderer
from bot.sender import render_row
from bot.services import build_services, system_clock
from db.engine import is_sqlite, normalise_url
from db.models import OutboxRow
from routing.people import Role, Staff
from tests.builders import to_toml
from tests.telegram_fake import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
#: Telegram ids of the staff members seed_staff registers (one per queue group).
STAFF_BASE = 7100

#: Sending is not the bottleneck: no pacing to speak of, fast retries, and a lease short
#: enough that a killed worker's in-flight rows are taken over within the test, yet longer
#: than a send can take (PTB's connect + write + read timeouts are 5 s each); a shorter
#: lease lets a live worker claim a row again while its first send is still under way.
FAST_SENDER: dict[str, Any] = {
    "overall_per_second": 5000.0, "group_per_minute": 10_000,
    "private_chat_interval": 0.0, "retry_base_seconds": 0.05, "retry_max_seconds": 0.5,
    "max_attempts": 30, "lease_seconds": 15.0, "max_in_flight": 32,
}


def token_for(incarnation: int) -> str:
    """The bot token of the ``incarnation``-th worker process (1-based)."""
    return f"123456:TEST-TOKEN-W{incarnation}"


def incarnation_of(token: str) -> int:
    """Inverse of :func:`token_for` (0 for a token no worker used)."""
    _, _, suffix = token.rpartition("-W")
    return int(suffix) if suffix.isdigit() else 0


def write_worker_config(directory: Path, db_url: str, **sender: Any) -> Path:
    """The sample config.toml (14 OPD groups and PPID Utama) with fast sending.

    Many groups matter: a chat's messages go out one after the other, so the deliveries of
    hundreds of tickets spread over 15 queue groups instead of 4 finish much sooner.
    """
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    data["database"]["url"] = db_url
    data["calendar"].update(first_year=2025, last_year=2027)  # fewer holidays to load
    data["sender"] = {**FAST_SENDER, **sender}
    data["limits"] = {"messages_per_minute": 600, "burst": 100}
    path = directory / "worker.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def seed_staff(db_url: str, engine: Engine, config: Path) -> dict[int, tuple[int, str]]:
    """Register one staff member per queue group; {group chat: (staff id, OPD code)}."""
    loaded = load_config(config, env={"DATABASE_URL": db_url})
    queues = [(opd.queue_chat_id, opd.code) for opd in loaded.opds]
    queues.append((loaded.ppid_utama.queue_chat_id, loaded.ppid_utama.code))
    staff = {chat: (STAFF_BASE + number, code)
             for number, (chat, code) in enumerate(queues) if chat is not None}
    services = build_services(loaded, clock=system_clock, engine=engine)
    with services.uow() as uow:
        now = services.clock()
        for person, opd in staff.values():
            uow.staff.add(Staff(person, f"Staf {opd}", Role.STAFF, opd), now)
        uow.commit()
    return staff


class Worker:
    """One ``python -m bot run`` process at a time; ``start`` begins the next incarnation."""

    def __init__(self, config: Path, db_url: str, fake: FakeTelegram, log_dir: Path,
                 extra_env: Mapping[str, str] | None = None,
                 run_args: Sequence[str] = ()) -> None:
        self.config, self.db_url, self.fake, self.log_dir = config, db_url, fake, log_dir
        self.extra_env = dict(extra_env or {})
        #: Arguments after ``run`` (e.g. ``--webhook --listen ...``).
        self.run_args = list(run_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.incarnation = 0
        self.logs: list[Path] = []

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TELEGRAM_", "SAHUT_", "DATABASE_URL"))}
        env.update({"DATABASE_URL": self.db_url, "TELEGRAM_BASE_URL": self.fake.base_url,
                    "TELEGRAM_BASE_FILE_URL": self.fake.base_file_url,
                    "TELEGRAM_BOT_TOKEN": token_for(self.incarnation),
                    "PYTHONUNBUFFERED": "1", **self.extra_env})
        return env

    def start(self) -> None:
        """Start the next incarnation (the previous one must be gone)."""
        assert self.process is None or self.process.poll() is not None
        self.incarnation += 1
        log = self.log_dir / f"worker-{self.incarnation}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--verbose", "--config", str(self.config), "run",
                 *self.run_args],
                env=self._env(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)

    @property
    def token(self) -> str:
        return token_for(self.incarnation)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def started(self) -> bool:
        """Whether this incarnation has registered its commands (it is polling by then)."""
        token = self.token
        return any(call.token == token for call in self.fake.calls_of("setMyCommands"))

    def wait_started(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while not self.started():
            if not self.alive:
                raise AssertionError(f"worker exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not start in {limit}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no final getUpdates, transactions cut wherever they are."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 45.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not end in time); the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        return process.returncode

    def log_tail(self, chars: int = 4000) -> str:
        if not self.logs:
            return ""
        return self.logs[-1].read_text(encoding="utf-8", errors="replace")[-chars:]

    def tracebacks(self) -> list[str]:
        """Log files (all incarnations) that contain a Python traceback."""
        return [log.name for log in self.logs
                if "Traceback" in log.read_text(encoding="utf-8", errors="replace")]


def observer_engine(db_url: str) -> Engine:
    """An engine only for watching a database the workers write to.

    The application's SQLite engine starts every transaction with BEGIN IMMEDIATE (it takes
    the write lock, even to read); watching with it would stall the workers. This one reads
    with SQLite's deferred transactions, and has a small pool.
    """
    return create_engine(normalise_url(db_url), pool_size=2, max_overflow=4) \
        if not is_sqlite(db_url) else create_engine(normalise_url(db_url))


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    """One value from a query on a fresh connection."""
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


# -- conversations through the fake Bot API ---------------------------------------------------

#: Complaints no FAQ answers (the test databases have none): each becomes a ticket proposal
#: for one of the sample config's OPDs (a different group for each; the last two go to PPID
#: Utama for triage). Where exactly they go is the matcher's business and is not asserted.
COMPLAINTS = (
    "petugas samsat minta uang tambahan tanpa kuitansi, tolong ditindak",
    "sekolah minta pungutan seragam padahal katanya gratis",
    "rumah sakit daerah menolak pasien pbi tanpa alasan jelas",
    "jalan provinsi di km 12 rusak parah sudah 3 bulan tidak diperbaiki",
    "terminal bus antarkota kotor dan lampunya mati sudah seminggu",
    "bantuan sosial untuk lansia di desa kami belum cair tiga bulan",
    "perusahaan tempat saya bekerja belum membayar thr karyawan",
    "izin usaha saya di oss tidak diproses sudah dua bulan",
    "pabrik di dekat sungai membuang limbah sampai airnya hitam",
    "situs web pemerintah provinsi sering mati dan tidak bisa diakses",
    "pengumuman seleksi pppk guru ditunda tanpa kejelasan",
    "pupuk bersubsidi langka di kios tani desa kami",
    "tiket masuk destinasi wisata milik provinsi dipungut dua kali",
    "longsor menutup jalan desa dan warga butuh bantuan darurat",
    "saya mau lapor pungli di kantor kelurahan",
)
STAFF_ANSWER = "Terima kasih, laporan Anda kami tindak lanjuti hari ini."


@dataclass
class Conversations:
    """Citizens (private chats from ``first_citizen`` up) and staff, driven like people.

    A citizen sends a complaint; when the proposal arrives they press its "Kirim" button;
    when the ticket's card is recorded as delivered, the group's staff member replies to it.
    Every update pushed is remembered with what it was (``pushed``).
    """

    fake: FakeTelegram
    engine: Engine
    first_citizen: int
    staff: dict[int, tuple[int, str]] = field(default_factory=dict)
    pushed: dict[int, tuple[str, int]] = field(default_factory=dict)
    pressed: set[int] = field(default_factory=set)
    answered: set[int] = field(default_factory=set)
    seen_calls: int = 0

    def push(self, kind: str, key: int, update: dict[str, Any]) -> None:
        self.pushed[self.fake.push_update(update)["update_id"]] = (kind, key)

    def complain(self, citizens: Iterable[int]) -> None:
        for citizen in citizens:
            words = COMPLAINTS[(citizen - self.first_citizen) % len(COMPLAINTS)]
            self.push("complaint", citizen, self.fake.message_update(citizen, citizen, words))

    def press_proposals(self) -> None:
        """Each citizen presses "Kirim" on the first proposal the fake delivered to them."""
        calls = self.fake.calls[self.seen_calls:]
        self.seen_calls += len(calls)
        for call in calls:
            if not call.ok or call.method.lower() != "sendmessage":
                continue
            chat = call.chat_id
            if not isinstance(chat, int) or chat < self.first_citizen or chat in self.pressed:
                continue
            for button in FakeTelegram.buttons(call):
                data = button.get("callback_data") or ""
                if data.startswith("d:") and data.endswith(":send"):
                    self.pressed.add(chat)
                    self.push("press", chat, self.fake.callback_update(
                        chat, chat, data, call.result["message_id"]))
                    break

    def cards(self) -> list[tuple[int, int, int]]:
        """(ticket, chat, message id) of every card whose delivery was recorded."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT ticket_id, chat_id, message_id FROM message_links "
                "WHERE purpose = 'card'")).all()
        return [(int(t), int(c), int(m)) for t, c, m in rows]

    def answer_cards(self, cards: list[tuple[int, int, int]]) -> None:
        """Staff reply to each recorded card (the copy the bot linked to the ticket)."""
        for ticket, chat, message_id in cards:
            if ticket in self.answered:
                continue
            self.answered.add(ticket)
            staff, _ = self.staff[chat]
            self.push("answer", ticket, self.fake.message_update(
                chat, staff, STAFF_ANSWER, reply_to_message_id=message_id,
                first_name="Staf"))

    def progress(self) -> tuple[int, int, int]:
        """(updates handled, outbox rows not yet settled, outbox rows sent)."""
        with self.engine.connect() as conn:
            done = conn.execute(text("SELECT count(*) FROM processed_updates")).scalar()
            states: dict[str, int] = dict(conn.execute(text(
                "SELECT state, count(*) FROM outbox GROUP BY state")).all())
        waiting = states.get("pending", 0) + states.get("sending", 0)
        return int(done or 0), int(waiting), int(states.get("sent", 0))

    def never_handled(self) -> dict[int, tuple[str, int]]:
        """Pushed updates with no processed-update mark (yet)."""
        with self.engine.connect() as conn:
            handled = {int(i) for i in conn.execute(text(
                "SELECT update_id FROM processed_updates")).scalars()}
        return {uid: info for uid, info in self.pushed.items() if uid not in handled}

    def describe_lost(self) -> str:
        lost = self.never_handled()
        kinds = Counter(kind for kind, _ in lost.values())
        return (f"{len(lost)} of {len(self.pushed)} pushed updates never handled "
                f"{dict(kinds)} (ids {sorted(lost)[:15]}...); fake queue "
                f"{self.fake.pending_updates}")


@dataclass
class Delivery:
    """A successful sendMessage at the fake, attributed to a worker incarnation."""

    message_id: int
    incarnation: int
    at: float


def outbox_rows(engine: Engine) -> list[OutboxRow]:
    """Every outbox row, detached, in id order."""
    with Session(engine) as session:
        rows = list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        session.expunge_all()
    return rows


def deliveries_by_row(fake: FakeTelegram, rows: list[OutboxRow], renderer: Renderer
                      ) -> dict[int, list[Delivery]]:
    """Each outbox row's deliveries at the fake (matched by chat and rendered text), in
    message-id order. Fails on a message no row explains (e.g. an error notice)."""
    delivered: dict[tuple[int, str], list[Delivery]] = defaultdict(list)
    for call in fake.sent(method="sendMessage"):
        delivered[(int(call.chat_id), call.text or "")].append(
            Delivery(int(call.result["message_id"]), incarnation_of(call.token), call.at))
    out: dict[int, list[Delivery]] = {}
    keys: set[tuple[int, str]] = set()
    for row in rows:
        key = (row.chat_id, render_row(row, renderer).text)
        assert key not in keys, f"two outbox rows render the same text in chat {row.chat_id}"
        keys.add(key)
        out[row.id] = sorted(delivered.get(key, []), key=lambda d: d.message_id)
    stray = {key: len(found) for key, found in delivered.items() if key not in keys}
    assert not stray, f"messages delivered that no outbox row explains: {stray}"
    return out
