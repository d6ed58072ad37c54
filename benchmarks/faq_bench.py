"""Benchmark of FAQ matching: build time, throughput, latency, memory at shipped size and 10k FAQs.

Run from the repository root:  python benchmarks/faq_bench.py [--sizes 156,10000] [--queries 2000]
Prints a markdown table. The naive baseline is rapidfuzz.process.extractOne(query, all_phrasings,
scorer=fuzz.WRatio), measured in the same run on the same queries.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faq.loader import load_corpus  # noqa: E402
from faq.matcher import FaqMatcher  # noqa: E402
from faq.model import FaqEntry, OpdProfile  # noqa: E402

DATA = ROOT.parent / "shared" / "faq-eval"


def _perturb(word: str, rng: random.Random) -> str:
    """A plausible new word: one letter changed, so the vocabulary grows like a real corpus."""
    if len(word) < 5 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i + 1 :]


def _mix(text: str, other: str, rng: random.Random) -> str:
    words = text.split()
    extra = other.split()
    words = [_perturb(w, rng) if rng.random() < 0.1 else w for w in words]
    if extra:
        k = min(len(extra), rng.randint(1, 3))
        words.extend(rng.sample(extra, k))
    return " ".join(words)


def synthesise(
    base: Sequence[FaqEntry], opds: Sequence[OpdProfile], size: int, seed: int = 7
) -> tuple[list[FaqEntry], list[OpdProfile]]:
    """`size` FAQs recombined and perturbed from the corpus, spread over 5x as many OPDs."""
    if size <= len(base):
        return list(base[:size]), list(opds)
    rng = random.Random(seed)
    out = list(base)
    # Four more agencies per base OPD (e.g. the same service in other provinces or UPTDs), with
    # their own codes and perturbed descriptions.
    new_opds = list(opds) + [
        OpdProfile(
            code=f"{o.code}{k}",
            name=f"{o.name} Wilayah {k}",
            description=_mix(o.description, rng.choice(opds).description, rng),
        )
        for k in range(1, 5)
        for o in opds
    ]
    counters: dict[str, int] = {}
    while len(out) < size:
        a, b = rng.choice(base), rng.choice(base)
        # Clones of the base FAQ's OPD, as a bigger government would have more, similar agencies.
        opd = f"{a.opd}{rng.randint(1, 4)}" if rng.random() < 0.8 else a.opd
        counters[opd] = counters.get(opd, 100) + 1
        out.append(
            FaqEntry(
                id=f"{opd.lower()}-{counters[opd]:04d}",
                opd=opd,
                question=_mix(a.question, b.question, rng),
                answer=_mix(a.answer, b.answer, rng),
                variants=tuple(_mix(v, b.question, rng) for v in a.variants),
                keywords=tuple(
                    _perturb(k, rng) if rng.random() < 0.1 else k
                    for k in a.keywords + b.keywords[:1]
                ),
            )
        )
    return out, new_opds


def _queries(n: int) -> list[str]:
    texts: list[str] = []
    for name in ("dev.jsonl", "dev-hard.jsonl"):
        with (DATA / name).open(encoding="utf-8") as fh:
            texts.extend(json.loads(line)["text"] for line in fh if line.strip())
    rng = random.Random(11)
    # Cycle the labelled messages, with a share of fresh typos so caches do not answer everything.
    return [
        " ".join(
            _perturb(w, rng) if rng.random() < 0.15 else w for w in texts[i % len(texts)].split()
        )
        for i in range(n)
    ]


def _measure(fn: Callable[[str], object], queries: Sequence[str]) -> dict[str, float]:
    lat = []
    start = time.perf_counter()
    cpu = time.process_time()
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        lat.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    lat.sort()
    return {
        "per_s": len(queries) / total,
        "cpu_per_s": len(queries) / cpu if cpu > 0 else float("inf"),
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def run(size: int, n_queries: int) -> list[dict[str, object]]:
    base, opds = load_corpus(DATA / "faq.csv", DATA / "opd.toml")
    entries, all_opds = synthesise(base, opds, size)
    queries = _queries(n_queries)
    rows: list[dict[str, object]] = []

    gc.collect()
    t0 = time.perf_counter()
    matcher = FaqMatcher.build(entries, all_opds)
    build_s = time.perf_counter() - t0
    del matcher
    gc.collect()
    # Peak memory of a second build under tracemalloc (which slows it down several times).
    tracemalloc.start()
    matcher = FaqMatcher.build(entries, all_opds)
    _, peak_build = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The index is long-lived: freezing it keeps the cyclic GC from rescanning it (the app should
    # do the same).
    gc.freeze()
    matcher.decide(queries[0])
    stats = _measure(matcher.decide, queries)
    rank_stats = _measure(matcher.rank, queries)
    tracemalloc.start()
    for q in queries[:200]:
        matcher.decide(q)
    _, peak_q = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_mb = max(peak_build, peak_q) / 2**20
    rows.append(
        {
            "size": len(entries),
            "method": "FaqMatcher.decide",
            "build_s": build_s,
            "peak_mb": peak_mb,
            **stats,
        }
    )
    rows.append(
        {
            "size": len(entries),
            "method": "FaqMatcher.rank",
            "build_s": build_s,
            "peak_mb": peak_mb,
            **rank_stats,
        }
    )
    gc.unfreeze()
    del matcher

    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    phrasings: list[str] = []
    owners: list[str] = []
    for e in entries:
        for p in (e.question, *e.variants):
            phrasings.append(p.lower())
            owners.append(e.id)
    build_s = time.perf_counter() - t0
    _, peak_build = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    base_queries = queries[: max(50, n_queries // 10)] if size > 1000 else queries

    def naive(q: str) -> object:
        return process.extractOne(q.lower(), phrasings, scorer=fuzz.WRatio)

    stats = _measure(naive, base_queries)
    tracemalloc.start()
    for q in base_queries[:50]:
        naive(q)
    _, peak_q = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_mb = max(peak_build, peak_q) / 2**20
    rows.append(
        {
            "size": len(entries),
            "method": "naive extractOne WRatio",
            "build_s": build_s,
            "peak_mb": peak_mb,
            **stats,
        }
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="156,10000", help="comma-separated FAQ counts")
    ap.add_argument("--queries", type=int, default=2000, help="messages per size")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"data folder {DATA} not found", file=sys.stderr)
        return 2
    rows: list[dict[str, object]] = []
    for size in (int(s) for s in args.sizes.split(",")):
        rows.extend(run(size, args.queries))
    print(
        f"Python {sys.version.split()[0]}, {args.queries} messages per size "
        "(naive baseline: a tenth at 10k); build time measured without tracemalloc, peak memory "
        "(Python allocations) with it; matches/s is wall clock, CPU matches/s is per CPU-second "
        "of this process (one core, independent of other load on the machine)\n"
    )
    print(
        "| FAQs | method | build (s) | matches/s | CPU matches/s | p50 (ms) | p99 (ms) "
        "| peak memory (MiB) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']} | {r['method']} | {r['build_s']:.2f} | {r['per_s']:,.0f} | "
            f"{r['cpu_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['peak_mb']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
