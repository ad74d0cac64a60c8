"""Ablations: restoration off / removal only / each inpainter / oracle masks, across a grid of w.

    python -m bench ablate --index DIR --suite OCCLUDE_OUT --out DIR [--weights 0,0.25,0.5,0.75,1]

Each query is parsed once; every row then restores (or not) and embeds;
every w only re-ranks. Writes ablation.md, ablation.json and hit_vs_w.png.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import metrics, readers
from .common import machine, stamp

ROWS = ("off", "removal", "telea", "ns", "fsr", "oracle")
LABELS = {"off": "restoration off", "removal": "removal only", "telea": "removal + Telea",
          "ns": "removal + Navier–Stokes", "fsr": "removal + FSR", "oracle": "oracle masks + Telea",
          "learned": "removal + learned", "lama": "removal + LaMa"}


def configure(p) -> None:
    p.add_argument("--index", type=Path, required=True, help="index of the suite's gallery")
    p.add_argument("--suite", type=Path, required=True, help="output of `python -m bench occlude`")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--weights", default="0,0.25,0.5,0.75,1")
    p.add_argument("--k", default="1,5,10")
    p.add_argument("--rows", default=",".join(ROWS), help=f"subset of {','.join(ROWS)},learned,lama")
    p.add_argument("--limit", type=int)
    p.add_argument("--config")


def _mask_for(suite: Path, query: Path, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    rel = query.relative_to(suite / "queries")
    m = cv2.imread(str((suite / "masks" / rel).with_suffix(".png")), cv2.IMREAD_GRAYSCALE)
    if m is None:
        raise FileNotFoundError(f"no ground-truth mask for {rel}")
    return cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 127


def ablate(engine, suite: Path, rows: list[str], weights: list[float], ks: list[int], limit: int | None = None,
           progress=None) -> dict:
    from pipeline.restore import INPAINTERS
    from pipeline.types import Region

    qs = readers.truth_csv(suite / "truth.csv").queries[: limit or None]
    inpainters = {r: INPAINTERS.create("none" if r == "removal" else "telea" if r in ("oracle", "off") else r)
                  for r in rows}
    ranked: dict[tuple[str, float], list] = {(r, w): [] for r in rows for w in weights}
    depth = max(ks)
    for path, relevant in (progress(qs) if progress else qs):
        rgb, _ = engine.prepare(path)
        parsing = engine.parser.parse(rgb)
        from pipeline.region import product_region

        region = product_region(parsing)
        for row in rows:
            reg = region
            if row == "oracle":
                gt = _mask_for(suite, path, rgb.shape[:2])
                reg = Region(region.product | gt, gt, region.garment_label)
            a = engine.analyse(rgb, restore=row != "off", parsing=parsing, region=reg, inpainter=inpainters[row])
            for w in weights:
                hits = engine.rank(a, weight=w, top_k=depth, alpha=0, beta=0).hits  # similarity only: isolate restoration
                ranked[(row, w)].append(([h.item.id for h in hits], relevant))
    return {f"{row}@{w:g}": metrics.summarise(runs, ks) for (row, w), runs in ranked.items()}


def write_report(results: dict, rows: list[str], weights: list[float], ks: list[int], out: Path, meta: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    lines = [f"{meta['queries']} queries, gallery {meta['gallery']} — {meta['machine']} — {meta['date']}", "",
             "| row | w | " + " | ".join(f"hit@{k}" for k in ks) + " | mAP |", "|---|---:|" + "---:|" * (len(ks) + 1)]
    for row in rows:
        for w in weights:
            m = results[f"{row}@{w:g}"]
            lines.append(f"| {LABELS.get(row, row)} | {w:g} | " + " | ".join(f"{m[f'hit@{k}']:.3f}" for k in ks)
                         + f" | {m['mAP']:.3f} |")
    table = "\n".join(lines)
    (out / "ablation.md").write_text(table + "\n")
    fig, axes = plt.subplots(1, len(ks), figsize=(5 * len(ks), 4), sharey=True)
    for ax, k in zip(np.atleast_1d(axes), ks):
        for row in rows:
            ax.plot(weights, [results[f"{row}@{w:g}"][f"hit@{k}"] for w in weights], marker="o", label=LABELS.get(row, row))
        ax.set_xlabel("w (shape weight)")
        ax.set_title(f"hit@{k}")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("fraction of queries")
    np.atleast_1d(axes)[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "hit_vs_w.png", dpi=90)
    plt.close(fig)
    return table


def run(args) -> int:
    from tqdm import tqdm

    from pipeline import config
    from pipeline.engine import Engine
    from pipeline.index import open_index

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    weights = [float(w) for w in args.weights.split(",")]
    ks = sorted({int(k) for k in args.k.split(",")})
    settings = config.load(args.config, {"index_dir": args.index})
    engine = Engine(settings)
    engine.index = open_index(settings, engine.signature())
    results = ablate(engine, args.suite, rows, weights, ks, args.limit,
                     progress=lambda q: tqdm(q, desc="ablation", disable=None))
    meta = {"queries": results[next(iter(results))]["queries"], "gallery": engine.index.count(),
            "machine": machine(), "date": stamp(), "parser": settings.parser}
    print(write_report(results, rows, weights, ks, args.out, meta))
    return 0
