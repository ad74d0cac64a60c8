"""Per-stage query latency (p50/p95) of the pipeline over a folder of images."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .common import SHARED, images_under, machine, pct, stamp


def configure(p):
    p.add_argument("--images", type=Path, default=SHARED / "test", help="query images (default: clothing-small test)")
    p.add_argument("--index", type=Path, help="index to search (optional: without it, the search stage is skipped)")
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--max-side", type=int, default=512)
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from tqdm import tqdm

    from pipeline import config
    from pipeline.engine import Engine
    from pipeline.index import open_index

    settings = config.load(args.config, {"max_side": args.max_side, "index_dir": args.index})
    engine = Engine(settings)
    if args.index:
        engine.index = open_index(settings, engine.signature())
    files = images_under(args.images, args.limit)
    engine.analyse(files[0])  # warm-up: model load and first-call allocations are not query latency
    stages: dict[str, list[float]] = {}
    for f in tqdm(files, desc="queries", disable=None):
        # CPU time too: on a shared box wall time measures the neighbours as much as the query.
        c0 = time.process_time()
        a = engine.analyse(f)
        timings = engine.rank(a, top_k=50).timings if engine.index else a.timings
        stages.setdefault("cpu (all threads)", []).append((time.process_time() - c0) * 1000)
        for k, v in timings.items():
            stages.setdefault(k, []).append(v * 1000)
        stages.setdefault("total", []).append(sum(timings.values()) * 1000)
    rows = {k: {"p50": pct(v, 50), "p95": pct(v, 95)} for k, v in stages.items()}
    if args.json:
        print(json.dumps({"machine": machine(), "date": stamp(), "queries": len(files), "ms": rows}, indent=2))
        return 0
    print(f"{len(files)} queries at {args.max_side} px — {machine()} — {stamp()} — load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| stage | p50 ms | p95 ms |\n|---|---:|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v['p50']:.1f} | {v['p95']:.1f} |")
    return 0
