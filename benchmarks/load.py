"""Load and fault benchmark: the real bot (``python -m bot run``) against a fake Bot API.

Workers are real processes. Each scenario:

* starts the fake Bot API on 127.0.0.1 (``tests/telegram_fake.py``) in this process,
* creates a fresh database (a SQLite file, or ``sahut_bench_<random>`` on PostgreSQL),
  migrates it, imports the sample FAQ and registers staff with the ``sahut`` CLI,
* starts N workers (polling: ``sahut run``; webhook: ``sahut run --webhook``),
* **latency**: offers a steady 200 updates/s per worker for a few seconds (each on a fresh
  citizen chat) and reports p50/p95/p99 of "update received → reply queued": for webhooks the
  round trip of the POST (the worker answers only after the reply is committed to the
  outbox); for polling the time from putting the update in getUpdates to the outbox row's
  ``created_at``,
* **throughput**: offers ``--updates`` updates as fast as the workers take them and reports
  sustained updates/s (first to last processed),
* reports each worker's peak RSS (VmHWM).

The mix: FAQ questions, complaints (become ticket proposals), ``/status`` checks, greetings,
and staff in OPD groups listing their queue (``/antrian``).

``--burst N`` instead queues 2,000 digests and cards first, then N citizens' questions in a
few seconds, with the sender's cap raised to ``--cap`` messages/s, and reports: updates lost,
citizens unanswered, sustained send rate vs the cap, and how many cards/digests were sent
while a citizen's first reply was waiting (at most the sends already in flight).

Examples (see docs/benchmarks.md, "## Load")::

    python benchmarks/load.py --db sqlite --mode polling --workers 1
    python benchmarks/load.py --db sqlite --mode webhook --workers 1
    python benchmarks/load.py --db postgresql://postgres@127.0.0.1:5432/postgres --workers 3
    python benchmarks/load.py --db sqlite --mode polling --burst 10000 --cap 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.engine import normalise_url  # noqa: E402
from tests.telegram_fake import FakeTelegram  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
SECRET = "bench-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
STAFF = {"BAPENDA": (7101, -1001000000001), "DISDIK": (7102, -1001000000002)}
SUPERVISOR = 7201
QUESTIONS = [
    "min gmn cara bayar pajak kendaraan bermotor?",
    "kapan pendaftaran spmb sma negeri dibuka",
    "syarat balik nama kendaraan dari provinsi lain apa aja",
    "apakah ada pemutihan denda pajak motor tahun ini",
]
COMPLAINTS = [
    "petugas samsat minta uang tambahan tanpa kuitansi, tolong ditindak",
    "jalan provinsi di km 12 rusak parah sudah 3 bulan tidak diperbaiki",
    "sekolah minta pungutan seragam padahal katanya gratis",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _postgres_cpu_seconds() -> float:
    """CPU time used so far by this host's PostgreSQL processes (server and backends)."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            is_postgres = comm.read_text().strip() == "postgres"
        except OSError:  # the process ended meanwhile
            continue
        if is_postgres:
            seconds = _cpu_seconds(int(comm.parent.name))
            if not math.isnan(seconds):  # NaN: it ended meanwhile
                total += seconds
    return total


def _box_cpu() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class CpuQuota:
    """One cgroup per worker capped at ``share`` of a core (what a container limit does).

    On a box with fewer cores than workers + database + load driver, an uncapped comparison
    of 1 and N workers only measures the box. Capping each worker to the same CPU budget
    leaves the database and the driver headroom, so N workers vs one shows whether the
    design itself scales (no lock or queue contention between workers). Linux, root only.
    """

    def __init__(self, share: float) -> None:
        self.share = share
        v1 = Path("/sys/fs/cgroup/cpu")
        self.v1 = (v1 / "cpu.cfs_quota_us").exists()
        self.root = v1 if self.v1 else Path("/sys/fs/cgroup")
        self.groups: list[Path] = []

    def add(self, pid: int) -> None:
        """Put process ``pid`` (and the threads it starts) in a new capped cgroup."""
        group = self.root / f"sahut-load-{pid}"
        group.mkdir()
        self.groups.append(group)
        # A short period spreads the budget finely (a throttled worker stalls for the rest
        # of its period: with the default 100 ms that shows up as latency spikes).
        period = 20_000
        if self.v1:
            (group / "cpu.cfs_period_us").write_text(str(period))
            (group / "cpu.cfs_quota_us").write_text(str(int(self.share * period)))
        else:
            (group / "cpu.max").write_text(f"{int(self.share * period)} {period}")
        (group / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        """Delete the cgroups (their processes have exited)."""
        for group in self.groups:
            with contextlib.suppress(OSError):  # still busy or already gone
                group.rmdir()


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Deployment:
    """A database, a config file and N worker processes."""

    def __init__(self, db: str, mode: str, workers: int, fake: FakeTelegram,
                 sender: dict[str, Any], lanes: int = 0, quota: CpuQuota | None = None) -> None:
        self.mode, self.workers_n, self.fake, self.quota = mode, workers, fake, quota
        self.tmp = Path(tempfile.mkdtemp(prefix="sahut-load-"))
        self.admin_url: str | None = None
        if db == "sqlite":
            self.url = f"sqlite:///{self.tmp / 'sahut.db'}"
        else:
            self.admin_url = db
            name = f"sahut_bench_{secrets.token_hex(4)}"
            with psycopg.connect(db, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self.url = db.rsplit("/", 1)[0] + "/" + name
        config = (ROOT / "config.toml").read_text(encoding="utf-8")
        config = config.replace("\n[sender]\n", "\n[sender]\n" + "".join(
            f"{k} = {v!r}\n" for k, v in sender.items()), 1)
        config = config.replace("messages_per_minute = 20", "messages_per_minute = 600")
        config = config.replace("\n[database]\n", f"\n[database]\nintake_lanes = {lanes}\n", 1)
        self.config = self.tmp / "config.toml"
        self.config.write_text(config, encoding="utf-8")
        self.env = {**os.environ, "DATABASE_URL": self.url, "TELEGRAM_BOT_TOKEN": TOKEN,
                    "TELEGRAM_BASE_URL": fake.base_url,
                    "TELEGRAM_BASE_FILE_URL": fake.base_file_url,
                    "TELEGRAM_WEBHOOK_SECRET": SECRET, "SAHUT_CONFIG": str(self.config)}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "bot", *args], env=self.env, check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)

    def prepare(self) -> None:
        self.cli("db", "upgrade")
        self.cli("faq", "import", str(ROOT / "bot" / "sample" / "faq.csv"))
        for code, (person, _) in STAFF.items():
            self.cli("staff", "add", "--telegram-id", str(person), "--name", f"Staf {code}",
                     "--opd", code)
        self.cli("staff", "add", "--telegram-id", str(SUPERVISOR), "--name", "Kepala",
                 "--supervisor")

    def start(self) -> None:
        for _ in range(self.workers_n):
            args = [sys.executable, "-m", "bot", "run"]
            if self.mode == "webhook":
                port = _free_port()
                self.ports.append(port)
                args += ["--webhook", "--listen", f"127.0.0.1:{port}",
                         "--public-url", f"https://bench.example/{port}"]
            self.procs.append(subprocess.Popen(args, env=self.env, cwd=ROOT))
            if self.quota:
                self.quota.add(self.procs[-1].pid)
        deadline = time.monotonic() + 60
        for port in self.ports:
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        time.sleep(1.5)

    def cpu(self) -> float:
        """CPU seconds used by all workers so far."""
        return sum(_cpu_seconds(p.pid) for p in self.procs)

    def counters(self) -> tuple[dict[str, float], dict[str, float]]:
        """Intake (batches, average size, rollbacks) and sender counters, from /metrics."""
        totals: dict[str, float] = {}
        for port in self.ports:
            page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            for line in page.splitlines():
                name = line.split("{")[0].split(" ")[0]
                if name.startswith(("sahut_intake_batch", "sahut_outbox_", "sahut_messages_sent")):
                    totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        batches = totals.get("sahut_intake_batches_total", 0.0)
        updates = totals.get("sahut_intake_batch_updates_total", 0.0)
        intake = {"batches": batches,
                  "avg_batch": round(updates / batches, 2) if batches else 0.0,
                  "rollbacks": totals.get("sahut_intake_batch_rollbacks_total", 0.0)}
        # The sender's activity over the whole run (latency phase included).
        sender = {"claims": totals.get("sahut_outbox_claims_total", 0.0),
                  "deferrals": totals.get("sahut_outbox_deferrals_total", 0.0),
                  "sent": totals.get("sahut_messages_sent_total", 0.0)}
        return intake, sender

    def rss(self) -> list[float]:
        return [round(_peak_rss_mb(p.pid), 1) for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.quota:
            self.quota.remove()

    def cleanup(self) -> None:
        if self.admin_url:
            name = self.url.rsplit("/", 1)[1]
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)

    def engine(self) -> Any:
        return create_engine(normalise_url(self.url))


class Traffic:
    """Simulated citizens and staff as Telegram updates."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.ids = itertools.count(1)
        self.chats = itertools.count(600_000)

    def update(self, n: int) -> tuple[dict[str, Any], int]:
        kind = n % 10
        if kind == 9:
            code = list(STAFF)[n % 2]
            person, group = STAFF[code]
            update = self.fake.message_update(group, person, "/antrian",
                                              chat_type="supergroup")
            chat = group
        else:
            chat = next(self.chats)
            text_ = (COMPLAINTS[n % len(COMPLAINTS)] if kind in (0, 1, 2) else
                     "/status" if kind == 3 else "halo min" if kind == 4 else
                     QUESTIONS[n % len(QUESTIONS)])
            update = self.fake.message_update(chat, chat, text_)
        update["update_id"] = next(self.ids)
        return update, chat


def _processed(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM processed_updates")).scalar() or 0)


def _first_reply_at(engine: Any, chats: list[int]) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    with engine.connect() as conn:
        for start in range(0, len(chats), 500):
            part = chats[start:start + 500]
            rows = conn.execute(text(
                "SELECT chat_id, min(created_at) FROM outbox WHERE chat_id IN ("
                + ",".join(str(c) for c in part) + ") GROUP BY chat_id"))
            for chat, created in rows:
                if isinstance(created, str):
                    created = datetime.fromisoformat(created)
                out[int(chat)] = created if created.tzinfo else created.replace(tzinfo=UTC)
    return out


class WebhookClient:
    """A lean HTTP/1.1 keep-alive client for POSTing updates (the load driver).

    httpx costs ~3 ms of CPU per request here, so a driver built on it saturated before
    the worker did (~340 requests/s at best, on the cores the workers need). This writes
    the request bytes itself and reads only the status line and Content-Length.
    """

    def __init__(self, connections: int = 200) -> None:
        self._idle: dict[int, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self._limit = asyncio.Semaphore(connections)

    async def _connection(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        idle = self._idle.setdefault(port, [])
        if idle:
            return idle.pop()
        return await asyncio.open_connection("127.0.0.1", port)

    async def post(self, port: int, body: bytes) -> int:
        """POST /telegram; the HTTP status (0: the connection failed)."""
        head = (f"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\n{SECRET_HEADER}: {SECRET}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        async with self._limit:
            try:
                reader, writer = await self._connection(port)
                writer.write(head + body)
                status_line = await reader.readuntil(b"\r\n")
                length = 0
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                return 0
            self._idle[port].append((reader, writer))
            return int(status_line.split()[1])

    async def close(self) -> None:
        """Close the idle connections."""
        for idle in self._idle.values():
            for _, writer in idle:
                writer.close()
        self._idle.clear()


async def _post(client: WebhookClient, port: int, update: dict[str, Any]) -> float:
    started = time.perf_counter()
    body = json.dumps(update).encode()
    while True:  # like Telegram: anything but 200 (or no answer) is delivered again
        if await client.post(port, body) == 200:
            return time.perf_counter() - started
        await asyncio.sleep(0.1)


async def latency_phase(dep: Deployment, traffic: Traffic, rate: float,
                        seconds: float) -> list[float]:
    """Steady offered load; latencies in seconds."""
    total = int(rate * seconds)
    latencies: list[float] = []
    if dep.mode == "webhook":
        ports = itertools.cycle(dep.ports)
        client = WebhookClient()
        try:
            tasks = []
            started = time.perf_counter()
            for n in range(total):
                delay = started + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                update, _ = traffic.update(n)
                tasks.append(asyncio.create_task(_post(client, next(ports), update)))
            latencies = list(await asyncio.gather(*tasks))
        finally:
            await client.close()
        return latencies
    pushed: dict[int, datetime] = {}
    started = time.perf_counter()
    engine = dep.engine()
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        update, chat = traffic.update(n)
        if chat > 0:
            pushed[chat] = datetime.now(UTC)
        dep.fake.push_update(update)
    while dep.fake.pending_updates:  # noqa: ASYNC110 - a counter in another thread
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    replies = await asyncio.to_thread(_first_reply_at, engine, list(pushed))
    engine.dispose()
    return [(replies[c] - at).total_seconds() for c, at in pushed.items() if c in replies]


async def throughput_phase(dep: Deployment, traffic: Traffic, total: int) -> float:
    """Offer ``total`` updates as fast as they are taken; sustained updates/s."""
    engine = dep.engine()
    before = await asyncio.to_thread(_processed, engine)
    updates = [traffic.update(n)[0] for n in range(total)]
    started = time.perf_counter()
    if dep.mode == "webhook":
        ports = itertools.cycle(dep.ports)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for update in updates:
            queue.put_nowait(update)

        async def pump(client: WebhookClient, port: int) -> None:
            while not queue.empty():
                await _post(client, port, queue.get_nowait())

        client = WebhookClient()
        try:
            await asyncio.gather(*(pump(client, next(ports))
                                   for _ in range(16 * dep.workers_n)))
        finally:
            await client.close()
    else:
        for update in updates:
            dep.fake.push_update(update)
        while await asyncio.to_thread(_processed, engine) < before + total:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return total / elapsed


def _outbox_stats(engine: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, chat_id, priority, state, created_at, sent_at FROM outbox")).all()
    return {"rows": rows}


def _as_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def burst(dep: Deployment, traffic: Traffic, total: int, cap: float) -> dict[str, Any]:
    """Digests and cards queued first, then ``total`` citizens at once."""
    engine = dep.engine()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for n in range(2000):
            conn.execute(text(
                "INSERT INTO outbox (channel, chat_id, template, context, priority, state, "
                "attempts, created_at, available_at) VALUES ('telegram', :chat, "
                "'common/unknown_command', '{}', :priority, 'pending', 0, :now, :now)"),
                {"chat": -1002000000000 - n if n % 2 else 900_000 + n,
                 "priority": 2 if n % 2 else 4, "now": now})
    citizens = []
    started = time.perf_counter()
    for n in range(total):
        chat = next(traffic.chats)
        update = dep.fake.message_update(chat, chat, QUESTIONS[n % len(QUESTIONS)])
        update["update_id"] = next(traffic.ids)
        citizens.append(chat)
        if dep.mode == "webhook":
            raise SystemExit("--burst drives the polling mode")
        dep.fake.push_update(update)
    offered = time.perf_counter() - started
    deadline = time.monotonic() + 3600
    handled_in = float("nan")
    while True:
        with engine.connect() as conn:
            waiting = conn.execute(text(
                "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')")).scalar()
            done = _processed(engine)
        if done >= total and handled_in != handled_in:
            handled_in = time.perf_counter() - started  # every update handled, replies queued
        if not waiting and done >= total:
            break
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    rows = _outbox_stats(engine)["rows"]
    engine.dispose()
    delivered = {str(call.chat_id) for call in dep.fake.sent()}  # one pass over the calls
    answered = {chat for chat in citizens if str(chat) in delivered}
    sent = sorted(_as_dt(r.sent_at) for r in rows if r.state == "sent")  # type: ignore[type-var]
    span = (sent[-1] - sent[0]).total_seconds() if len(sent) > 1 else 0.0
    # Steady state: the middle 80 % of the sends.
    lo, hi = sent[len(sent) // 10], sent[len(sent) * 9 // 10]
    steady = (len(sent) * 0.8) / max((hi - lo).total_seconds(), 1e-9)
    citizen_set = set(citizens)
    replies = [r for r in rows if r.chat_id in citizen_set]
    low = sorted(_as_dt(r.sent_at) for r in rows  # type: ignore[type-var]
                 if r.priority >= 2 and r.state == "sent")
    worst = 0
    import bisect
    for reply in replies:
        created, sent_at = _as_dt(reply.created_at), _as_dt(reply.sent_at)
        if created is None or sent_at is None:
            continue
        worst = max(worst, bisect.bisect_left(low, sent_at) - bisect.bisect_right(low, created))
    return {"citizens": total, "offered_in_s": round(offered, 2),
            "all_handled_in_s": round(handled_in, 1),
            "updates_processed": done, "lost": total - min(done, total),
            "unanswered": total - len(answered), "messages_sent": len(sent),
            "send_span_s": round(span, 1), "steady_send_rate": round(steady, 1),
            "cap": cap, "rate_vs_cap": round(steady / cap, 3),
            "max_low_priority_sent_while_a_reply_waited": worst}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite or a PostgreSQL server URL")
    parser.add_argument("--mode", choices=("polling", "webhook"), default="webhook")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=200.0, help="latency phase, per worker")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=0)
    parser.add_argument("--cap", type=float, default=300.0, help="burst: overall_per_second")
    parser.add_argument("--lanes", type=int, default=0, help="database.intake_lanes (0: auto)")
    parser.add_argument("--send-rate", type=float, default=30.0,
                        help="[sender] overall_per_second of the bot, shared by the workers")
    parser.add_argument("--worker-cpu", type=float, default=0.0, metavar="SHARE",
                        help="cap each worker at SHARE of a core (cgroup; Linux, root)")
    args = parser.parse_args()
    if args.workers > 1 and args.db == "sqlite":
        raise SystemExit("several workers need PostgreSQL")
    fake = FakeTelegram(strict_formatting=False)
    fake.start()
    # The overall cap belongs to the bot token, so N workers share it (as config.toml says).
    sender = {"overall_per_second": float(args.cap if args.burst else args.send_rate)
              / args.workers,
              "private_chat_interval": 1.0}
    quota = CpuQuota(args.worker_cpu) if args.worker_cpu else None
    dep = Deployment(args.db, "polling" if args.burst else args.mode, args.workers, fake, sender,
                     args.lanes, quota)
    result: dict[str, Any] = {"db": "sqlite" if args.db == "sqlite" else "postgresql",
                              "mode": dep.mode, "workers": args.workers, "lanes": args.lanes,
                              "worker_cpu_cap": args.worker_cpu or None,
                              "send_rate_per_worker": sender["overall_per_second"]}
    try:
        dep.prepare()
        dep.start()
        traffic = Traffic(fake)
        if args.burst:
            result.update(await burst(dep, traffic, args.burst, args.cap))
        else:
            await latency_phase(dep, traffic, 50, 1.0)  # warm-up
            latencies = await latency_phase(dep, traffic, args.rate * args.workers, args.seconds)
            result.update({
                "latency_samples": len(latencies),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p95_ms": round(_percentile(latencies, 0.95) * 1000, 1),
                "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
            })
            cpu, pg_cpu, box = dep.cpu(), _postgres_cpu_seconds(), _box_cpu()
            rate = await throughput_phase(dep, traffic, args.updates)
            # Worker CPU per update (sending included): what one dedicated core would sustain.
            cpu_ms = (dep.cpu() - cpu) * 1000 / args.updates
            result["worker_cpu_ms_per_update"] = round(cpu_ms, 2)
            if dep.admin_url:
                pg_ms = (_postgres_cpu_seconds() - pg_cpu) * 1000 / args.updates
                result["postgres_cpu_ms_per_update"] = round(pg_ms, 2)
            busy, total = (a - b for a, b in zip(_box_cpu(), box, strict=True))
            # Share of all cores busy during the throughput phase: 1.0 means the box was full.
            result["box_cpu_busy"] = round(busy / total, 2) if total else None
            if dep.mode == "webhook":
                result["intake"], result["sender"] = dep.counters()
            result["updates_per_s"] = round(rate, 1)
            result["updates_per_s_per_worker"] = round(rate / args.workers, 1)
        result["peak_rss_mb"] = dep.rss()
    finally:
        dep.stop()
        fake.stop()
        dep.cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
