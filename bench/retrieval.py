"""Retrieval evaluation: hit@K, recall@K, mAP, per category, and per-stage latency.

    python -m bench retrieval --index DIR --queries DIR --truth CSV [--k 1,5,10,20,50] [--json]
    python -m bench retrieval --index DIR --inshop ROOT      # DeepFashion In-shop protocol

Search flags mirror the search CLI (--weight, --no-restore, --alpha, --beta,
--filter) plus the stage backends (--parser, --inpainter).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

from . import metrics, readers
from .common import machine, pct, stamp


def configure(p) -> None:
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--queries", type=Path, help="query folder (paths in --truth are resolved here if not beside it)")
    p.add_argument("--truth", type=Path, help="truth CSV: query,item_id")
    p.add_argument("--inshop", type=Path, help="DeepFashion In-shop root (list_eval_partition.txt)")
    p.add_argument("--k", default="1,5,10,20,50")
    p.add_argument("--limit", type=int)
    p.add_argument("--weight", type=float)
    p.add_argument("--no-restore", dest="restore", action="store_const", const=False)
    p.add_argument("--alpha", type=float)
    p.add_argument("--beta", type=float)
    p.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--parser")
    p.add_argument("--inpainter")
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")


def load_queries(args) -> readers.QuerySet:
    if args.inshop:
        return readers.inshop(args.inshop)
    if args.truth:
        roots = [args.truth.parent] + ([args.queries, args.queries.parent] if args.queries else [])
        return readers.truth_csv(args.truth, roots)
    if args.queries:
        return readers.folder_pairs(args.queries)
    raise ValueError("give --truth CSV (with --queries DIR), --inshop ROOT, or a --queries folder mirroring the gallery")


def category_of(index, item_id: str, cache: dict[str, str]) -> str:
    if item_id not in cache:
        got = index.get([item_id])
        cache[item_id] = (got[0].category if got else "") or item_id.split("/", 1)[0]
    return cache[item_id]


def evaluate(engine, queries: list[tuple[Path, set[str]]], ks: list[int], weight: float | None = None,
             restore: bool | None = None, alpha: float | None = None, beta: float | None = None,
             filters: dict | None = None, progress: Callable | None = None) -> dict[str, Any]:
    """Run every query through the engine; return metrics, per-category metrics and latency."""
    runs, by_cat, stages, cats = [], {}, {}, {}
    depth = max(ks)
    failed = 0
    for path, relevant in (progress(queries) if progress else queries):
        try:
            res = engine.search(path, weight=weight, top_k=depth, restore=restore, filters=filters,
                                alpha=alpha, beta=beta)
        except Exception as exc:  # one unreadable query must not void the run
            print(f"query {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        ranked = [h.item.id for h in res.hits]
        runs.append((ranked, relevant))
        cat = category_of(engine.index, next(iter(relevant)), cats)
        by_cat.setdefault(cat, []).append((ranked, relevant))
        for k, v in res.timings.items():
            stages.setdefault(k, []).append(v * 1000)
        stages.setdefault("total", []).append(sum(res.timings.values()) * 1000)
    out = metrics.summarise(runs, ks)
    out["failed"] = failed
    out["per_category"] = {c: metrics.summarise(r, ks) for c, r in sorted(by_cat.items())}
    out["latency_ms"] = {k: {"p50": round(pct(v, 50), 2), "p95": round(pct(v, 95), 2)} for k, v in stages.items()}
    return out


def run(args) -> int:
    from tqdm import tqdm

    from pipeline import config
    from pipeline.cli import parse_filters
    from pipeline.engine import Engine
    from pipeline.index import open_index

    ks = sorted({int(k) for k in args.k.split(",")})
    settings = config.load(args.config, {"index_dir": args.index, "parser": args.parser, "inpainter": args.inpainter})
    engine = Engine(settings)
    engine.index = open_index(settings, engine.signature())
    qs = load_queries(args)
    queries = qs.queries[: args.limit or None]
    result = evaluate(engine, queries, ks, args.weight, args.restore, args.alpha, args.beta,
                      parse_filters(args.filter), progress=lambda q: tqdm(q, desc="queries", disable=None))
    result.update(machine=machine(), date=stamp(), index=str(args.index), weight=args.weight or settings.weight,
                  restore=settings.restore if args.restore is None else args.restore,
                  parser=settings.parser, inpainter=settings.inpainter)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['queries']} queries — {result['machine']} — {result['date']}")
    print(" ".join(f"hit@{k} {result[f'hit@{k}']:.3f}" for k in ks) + f"  mAP {result['mAP']:.3f}")
    print(" ".join(f"recall@{k} {result[f'recall@{k}']:.3f}" for k in ks))
    print("| category | n | " + " | ".join(f"hit@{k}" for k in ks) + " |")
    print("|---|---:|" + "---:|" * len(ks))
    for cat, m in result["per_category"].items():
        print(f"| {cat} | {m['queries']} | " + " | ".join(f"{m[f'hit@{k}']:.3f}" for k in ks) + " |")
    print("latency ms: " + ", ".join(f"{k} p50 {v['p50']} p95 {v['p95']}" for k, v in result["latency_ms"].items()))
    return 0
