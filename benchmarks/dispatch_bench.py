"""In-process cost of handling one update: Telegram parsing plus ``Dispatcher.handle``.

No HTTP, no worker process: this isolates the CPU the bot spends per update so that
changes to the hot path can be compared (``benchmarks/load.py`` measures the whole
deployment). The database is prepared with the ``sahut`` CLI like the load benchmark and
the traffic mix is the same (see ``benchmarks/load.py``).

    python benchmarks/dispatch_bench.py --updates 3000
    python benchmarks/dispatch_bench.py --db postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/dispatch_bench.py --profile 40      # cProfile, top 40 by cumulative
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402
from telegram import Bot, Update  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from load import Deployment, Traffic, _postgres_cpu_seconds  # noqa: E402

from bot.config import load_config  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.telegram_app import inbound_from_message  # noqa: E402
from handlers.dispatch import Dispatcher  # noqa: E402
from tests.telegram_fake import FakeTelegram  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite or a PostgreSQL server URL")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=1,
                        help="updates per Dispatcher.handle_batch call (1: handle)")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (tottime...)")
    parser.add_argument("--statements", action="store_true",
                        help="count SQL statements per update, by statement")
    args = parser.parse_args()
    fake = FakeTelegram(strict_formatting=False)
    fake.start()
    dep = Deployment(args.db, "polling", 1, fake, {"overall_per_second": 30.0})
    try:
        dep.prepare()
        config = load_config(dep.config, env=dep.env)
        services = build_services(config)
        dispatcher = Dispatcher(services)
        dispatcher.limiter.check = lambda key: (True, False, 0)  # type: ignore[method-assign]
        bot = Bot("123456:BENCH-TOKEN")
        traffic = Traffic(fake)
        raw = [traffic.update(n)[0] for n in range(args.updates + 200)]

        def parse(update: dict[str, Any]) -> Any:
            return inbound_from_message(Update.de_json(update, bot))

        def handle(update: dict[str, Any]) -> None:
            inbound = parse(update)
            if inbound is not None:
                dispatcher.handle(inbound)

        def handle_all(updates: list[dict[str, Any]]) -> None:
            if args.batch <= 1:
                for update in updates:
                    handle(update)
                return
            for start in range(0, len(updates), args.batch):
                inbounds = [parse(u) for u in updates[start:start + args.batch]]
                dispatcher.handle_batch([i for i in inbounds if i is not None])

        for update in raw[:200]:  # warm-up: FAQ index, statement caches
            handle(update)
        statements: Counter[str] = Counter()
        if args.statements:
            def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
                statements[" ".join(statement.split())[:90]] += 1

            event.listen(services.engine, "before_cursor_execute", count)
        profiler = cProfile.Profile() if args.profile else None
        started, cpu, pg_cpu = time.perf_counter(), time.process_time(), _postgres_cpu_seconds()
        if profiler:
            profiler.enable()
        handle_all(raw[200:])
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        pg_cpu = _postgres_cpu_seconds() - pg_cpu
        services.dispose()
        result = {"db": "sqlite" if args.db == "sqlite" else "postgresql",
                  "updates": args.updates, "batch": args.batch,
                  "updates_per_s": round(args.updates / elapsed, 1),
                  "cpu_ms_per_update": round(cpu * 1000 / args.updates, 3)}
        if args.db != "sqlite":
            # The server's share: backends, WAL writer, checkpointer (all of this host's).
            result["postgres_cpu_ms_per_update"] = round(pg_cpu * 1000 / args.updates, 3)
        print(json.dumps(result))
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.profile)
        if args.statements:
            # COMMIT/BEGIN are not cursor executions; one per handle (or batch) call.
            print(f"statements per update: {sum(statements.values()) / args.updates:.2f}")
            for statement, n in statements.most_common():
                print(f"{n / args.updates:7.3f}  {statement}")
    finally:
        dep.cleanup()
        fake.stop()


if __name__ == "__main__":
    asyncio.run(asyncio.sleep(0))
    main()
