"""In-process cost of delivering one outbox message: claim, render, Bot API call, record.

The sender's share of a worker's CPU (``benchmarks/load.py`` reports the whole worker). The
outbox is filled by handling citizens' questions with the real dispatcher (so the messages
are the real replies), then the production delivery loop (``OutboxSender.run``, unpaced)
sends them through python-telegram-bot to the fake Bot API on 127.0.0.1, which runs in a
process of its own (its CPU is not counted).

    python benchmarks/send_bench.py --messages 2000
    python benchmarks/send_bench.py --db postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/send_bench.py --profile 40 --sort tottime
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import multiprocessing
import pstats
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load import Deployment, Traffic  # noqa: E402
from telegram import Update  # noqa: E402

from bot.config import load_config  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.telegram_app import build_application, inbound_from_message  # noqa: E402
from handlers.dispatch import Dispatcher  # noqa: E402
from tests.telegram_fake import FakeTelegram  # noqa: E402


class _NullTransport:
    """Accepts every message at once: what is left is claiming, rendering and recording."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)

    async def send(self, message: Any) -> int:
        return next(self.ids)


def _serve_fake(pipe: Any) -> None:
    """Child process: run a fake Bot API until the parent says stop."""
    fake = FakeTelegram(strict_formatting=False)
    fake.start()
    pipe.send((fake.base_url, fake.base_file_url))
    pipe.recv()
    fake.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Fill the outbox, then time the delivery loop until it is empty."""
    # The fake Bot API answers from its own process, so its CPU is not counted; a second,
    # idle instance here only builds the test updates.
    fake = FakeTelegram(strict_formatting=False)
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve_fake, args=(theirs,))
    server.start()
    base_url, base_file_url = ours.recv()
    api = SimpleNamespace(base_url=base_url, base_file_url=base_file_url)
    dep = Deployment(args.db, "polling", 1, api,  # type: ignore[arg-type]
                     {"overall_per_second": 30.0, "max_in_flight": args.in_flight})
    try:
        dep.prepare()
        config = load_config(dep.config, env=dep.env)
        services = build_services(config)
        app = build_application(config, services, rate_limit=False, background=False)
        await app.initialize()
        runtime = app.bot_data["runtime"]
        dispatcher = Dispatcher(services)
        dispatcher.limiter.check = lambda key: (True, False, 0)  # type: ignore[method-assign]
        traffic = Traffic(fake)
        # Citizens' questions only: every one queues one reply to its own chat.
        for n in range(args.messages):
            update, _ = traffic.update(n * 10 + 1)
            inbound = inbound_from_message(Update.de_json(update, app.bot))
            if inbound is not None:
                dispatcher.handle(inbound)
        sender = runtime.sender
        if args.null_transport:
            sender.transport = _NullTransport()
        queued = await asyncio.to_thread(sender.pending)
        stop = asyncio.Event()

        async def watch() -> None:
            # Counted in memory: polling the outbox here would add to the measured CPU.
            while sender.sent + sender.failed < queued:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            stop.set()

        profiler = cProfile.Profile() if args.profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await asyncio.gather(sender.run(stop, idle_seconds=0.05), watch())
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await app.shutdown()
        services.dispose()
        result = {"db": "sqlite" if args.db == "sqlite" else "postgresql", "messages": queued,
                  "sent": sender.sent, "messages_per_s": round(sender.sent / elapsed, 1),
                  "cpu_ms_per_message": round(cpu * 1000 / max(sender.sent, 1), 3)}
        if profiler:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.profile)
        return result
    finally:
        dep.cleanup()
        ours.send("stop")
        server.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite or a PostgreSQL server URL")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--null-transport", action="store_true",
                        help="no Bot API call: measure the database and rendering share")
    parser.add_argument("--in-flight", type=int, default=16, help="[sender] max_in_flight")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (tottime...)")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
