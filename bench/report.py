"""The whole evaluation report in one command: suite → index → ablations → mask IoU → latency.

    python -m bench report --gallery ../shared/data/clothing-small/test --work /tmp/drape-eval --out docs/evaluation

Makes the occlusion suite (2 queries per item, seed 0) unless it exists,
indexes the gallery unless indexed, runs the ablation grid, measures the
parser's occluder-mask IoU on the suite's ground truth, and writes
evaluation.md, ablation.json and hit_vs_w.png into --out.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .common import SHARED, machine, pct, stamp


def configure(p) -> None:
    p.add_argument("--gallery", type=Path, default=SHARED / "test")
    p.add_argument("--work", type=Path, default=Path("/tmp/drape-eval"))
    p.add_argument("--out", type=Path, default=Path("docs/evaluation"))
    p.add_argument("--per-item", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default="0,0.25,0.5,0.75,1")
    p.add_argument("--rows", default="off,removal,telea,ns,fsr,oracle")
    p.add_argument("--limit", type=int, help="evaluate only the first N queries (a quick look)")
    p.add_argument("--config")


def mask_iou(engine, suite: Path, queries, limit=None) -> dict:
    """IoU of the predicted occluder mask vs the drawn occluder inside the predicted product region."""
    from pipeline.region import product_region

    from .ablate import _mask_for

    ious, ms = [], []
    for path, _ in queries[: limit or None]:
        rgb, _ = engine.prepare(path)
        parsing = engine.parser.parse(rgb)
        ms.append(parsing.seconds * 1000 if parsing.seconds else 0.0)
        region = product_region(parsing)
        truth = _mask_for(suite, path, rgb.shape[:2]) & region.product
        union = (truth | region.occluder).sum()
        if union:
            ious.append(float((truth & region.occluder).sum() / union))
    return {"parser": engine.settings.parser, "queries": len(ious), "mean_iou": float(np.mean(ious)) if ious else None,
            "median_iou": float(np.median(ious)) if ious else None, "parse_ms_p50": pct(ms, 50)}


def run(args) -> int:
    from tqdm import tqdm

    from pipeline import config
    from pipeline.engine import Engine
    from pipeline.index import open_index
    from pipeline.ingest import ingest

    from . import ablate, occlude, readers

    suite, idx = args.work / "suite", args.work / "index"
    if not (suite / "truth.csv").exists():
        p = argparse.ArgumentParser()
        occlude.configure(p)
        occlude.run(p.parse_args(["--gallery", str(args.gallery), "--out", str(suite),
                                  "--per-item", str(args.per_item), "--seed", str(args.seed)]))
    settings = config.load(args.config, {"index_dir": idx})
    engine = Engine(settings)
    engine.index = open_index(settings, engine.signature(), create=True)
    ingest(engine, engine.index, args.gallery)  # resumes: a built index costs nothing
    rows = [r for r in args.rows.split(",") if r]
    weights = [float(w) for w in args.weights.split(",")]
    ks = [1, 5, 10]
    results = ablate.ablate(engine, suite, rows, weights, ks, args.limit,
                            progress=lambda q: tqdm(q, desc="ablation", disable=None))
    queries = readers.truth_csv(suite / "truth.csv").queries
    iou = mask_iou(engine, suite, queries, args.limit)
    meta = {"queries": results[next(iter(results))]["queries"], "gallery": engine.index.count(),
            "machine": machine(), "date": stamp(), "parser": settings.parser, "mask_iou": iou}
    table = ablate.write_report(results, rows, weights, ks, args.out, meta)
    best = {r: max(weights, key=lambda w: results[f"{r}@{w:g}"]["hit@1"]) for r in rows}
    lines = ["# Evaluation: occluded queries on clothing-small", "",
             f"Gallery `{args.gallery.name}` ({meta['gallery']} items), {meta['queries']} synthetic occluded queries "
             f"({args.per_item} per item, seed {args.seed}: arms and hands, hair, straps and bags, then crop, "
             f"scale, tilt, light, colour cast and JPEG). Regenerate: `python -m bench report`.", "",
             f"Machine: {meta['machine']}. Date: {meta['date']}. Similarity only (rerank off), so rows differ "
             "only in how occluders are handled.", "",
             table, "", "![hit@K against w](hit_vs_w.png)", "",
             "Best w per row (hit@1): " + ", ".join(f"{ablate.LABELS.get(r, r)} w={w:g} "
                                                     f"({results[f'{r}@{w:g}']['hit@1']:.3f})" for r, w in best.items()),
             "", f"Occluder-mask IoU of the `{iou['parser']}` parser against the drawn occluders (inside the "
             f"predicted product region), {iou['queries']} queries with a non-empty union: mean "
             f"{iou['mean_iou']:.3f}, median {iou['median_iou']:.3f}."]
    (args.out / "evaluation.md").write_text("\n".join(lines) + "\n")
    (args.out / "mask_iou.json").write_text(json.dumps(iou, indent=2))
    print("\n".join(lines))
    return 0
