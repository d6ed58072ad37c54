"""Benchmark ``sahut report`` over 100k, 300k and 1M synthetic tickets.

For each backend the database is created fresh (an SQLite file under --workdir; on
PostgreSQL a throwaway database ``sahut_bench_<hex>`` created and dropped on the server),
migrated, then filled with ``seed-demo`` history in increments up to each size. After each
increment the report over the whole period is timed: in process (queries + arithmetic,
median of --runs after one warm-up) and as the full ``sahut report --format json`` command
(process start included); both produce the JSON report, which needs no chart data.
Prints a markdown table.

    python benchmarks/report_bench.py                       # both backends, 100k/300k/1M
    python benchmarks/report_bench.py --backends sqlite --sizes 100000,300000
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.reports_cli import ProgressBar  # noqa: E402
from bot.services import build_services  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.reports import make_report  # noqa: E402
from db.seed import seed_demo  # noqa: E402

DAYS = 365


def _postgres_database(server: str) -> tuple[str, Any]:
    import psycopg

    name = f"sahut_bench_{secrets.token_hex(4)}"
    admin = server.rstrip("/") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{server.rstrip('/')}/{name}", drop


def bench_backend(backend: str, url: str, sizes: list[int], runs: int,
                  config_path: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "DATABASE_URL": url}
    config = load_config(config_path, env=env)
    engine = make_engine(url)
    upgrade(engine)
    services = build_services(config, engine=engine)
    now = services.clock()
    tz = config.province.tz
    end = now.astimezone(tz).date()
    start = end - timedelta(days=DAYS + 1)
    results = []
    seeded = 0
    for size in sizes:
        began = time.perf_counter()
        if size:  # 0: --time-only
            seed_demo(engine, calendar=services.calendar, sla=config.sla,
                      ppid_code=config.ppid_utama.code, tickets=size - seeded, days=DAYS,
                      now=now, progress=ProgressBar(f"{backend} seeding to {size:,}"))
        seed_seconds = time.perf_counter() - began
        seeded = size
        timings = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            report = make_report(engine, calendar=services.calendar, sla=config.sla,
                                 settings=config.report.metrics, start=start, end=end,
                                 now=services.clock(), charts=False)
            timings.append(time.perf_counter() - t0)
        in_process = statistics.median(timings[1:])
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config_path), "report", "--from",
             start.isoformat(), "--to", end.isoformat(), "--format", "json"],
            env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        command = time.perf_counter() - t0
        counted = sum(o.tickets for o in report.opds if not o.is_triage)
        results.append({"backend": backend, "tickets": size, "in_process": in_process,
                        "command": command, "seed": seed_seconds, "opd_tickets": counted,
                        "json_bytes": len(done.stdout)})
        print(f"{backend} {size:>9,}: report {in_process:.2f} s in process, "
              f"{command:.2f} s as a command (seeding took {seed_seconds:.0f} s)",
              file=sys.stderr)
    services.dispose()
    engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--workdir", default=str(ROOT / "var" / "bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--config", default=str(ROOT / "config.toml"))
    parser.add_argument("--time-only", metavar="URL",
                        help="only time the report on an existing database (no seeding)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows: list[dict[str, Any]] = []
    if args.time_only:
        rows += bench_backend("existing", args.time_only, [0], args.runs, Path(args.config))
        print(rows[-1])
        return 0
    for backend in args.backends.split(","):
        if backend == "sqlite":
            workdir = Path(args.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
            path = workdir / "report_bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            rows += bench_backend("SQLite", f"sqlite:///{path}", sizes, args.runs,
                                  Path(args.config))
        elif backend == "postgresql":
            url, drop = _postgres_database(args.pg_server)
            try:
                rows += bench_backend("PostgreSQL", url, sizes, args.runs, Path(args.config))
            finally:
                drop()
        else:
            parser.error(f"unknown backend {backend!r}")
    print("| Backend | Tickets | Report (in process) | `sahut report` command | "
          "per 100k tickets | Seeding |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['tickets']:,} | {r['in_process']:.2f} s | "
              f"{r['command']:.2f} s | {r['in_process'] / r['tickets'] * 100_000:.3f} s | "
              f"{r['seed']:.0f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
