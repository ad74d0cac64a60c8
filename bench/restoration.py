"""Restoration quality inside the occluder mask (PSNR, SSIM) and retrieval hit@1, per inpainter.

    python -m bench occlude --gallery GALLERY --out SUITE --no-jitter
    python -m pipeline ingest GALLERY --index IDX
    python -m bench restoration --suite SUITE --gallery GALLERY [--index IDX] [--backends telea,fsr,learned]

Quality uses the suite's true masks and the clean gallery photo as reference,
at the photo's own resolution (jitter off, so query and photo align):
- PSNR: 10·log10(255² / MSE), the MSE over the mask's pixels (all three
  channels), per query, then the mean over queries.
- SSIM: scikit-image `structural_similarity` (7×7 uniform window, data range
  255, per channel) on the mask's bounding box grown by 8 px, its SSIM map
  averaged over the mask's pixels only, per query, then the mean.
Retrieval runs the whole pipeline (the parser finds the occluder itself) with
Settings.inpainter set to each backend, against IDX; hit@1 = the share of
queries whose first result is the photo the query was made from.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .common import machine, stamp

PAD = 8


def configure(p) -> None:
    p.add_argument("--suite", type=Path, required=True, help="output of `python -m bench occlude --no-jitter`")
    p.add_argument("--gallery", type=Path, required=True, help="the clean photos the suite was made from")
    p.add_argument("--index", type=Path, help="index of --gallery; without it retrieval is skipped")
    p.add_argument("--backends", default="telea,fsr,learned", help="comma-separated inpainters")
    p.add_argument("--restore-model", help="checkpoint for 'learned' (default: Settings.restore_model)")
    p.add_argument("--limit", type=int, help="first N queries of the suite")
    p.add_argument("--no-retrieval", action="store_true")
    p.add_argument("--json", type=Path, help="also write per-backend results here")


def masked_psnr(restored, clean, mask) -> float:
    import numpy as np

    diff = restored[mask].astype(np.float64) - clean[mask].astype(np.float64)
    mse = float((diff ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def masked_ssim(restored, clean, mask, pad: int = PAD) -> float:
    import numpy as np
    from skimage.metrics import structural_similarity

    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    a, b = restored[y0:y1, x0:x1], clean[y0:y1, x0:x1]
    win = min(7, min(a.shape[:2]) // 2 * 2 - 1)  # odd and no larger than the box
    _, smap = structural_similarity(a, b, win_size=win, channel_axis=2, data_range=255, full=True)
    return float(smap.mean(axis=2)[mask[y0:y1, x0:x1]].mean())


def _suite(args) -> list[dict]:
    rows = [json.loads(line) for line in (args.suite / "meta.jsonl").read_text().splitlines() if line.strip()]
    return rows[: args.limit] if args.limit else rows


def _settings(name: str, args, index: Path | None = None):
    from pipeline import config

    over = {"inpainter": name, "restore_model": args.restore_model, "threads": int(os.environ.get("DRAPE_THREADS", 2))}
    if index is not None:
        over["index_dir"] = index
    return config.load(overrides=over)


def quality(name: str, rows: list[dict], args) -> dict:
    import cv2
    import numpy as np
    from tqdm import tqdm

    from pipeline import profiles
    from pipeline.engine import Engine
    from pipeline.imageio import load_image

    engine = Engine(_settings(name, args))
    inp = profiles.REGISTRIES["inpainter"].create(name, **profiles.backend_kwargs("inpainter", name, engine.settings))
    psnr, ssim, secs = [], [], []
    for r in tqdm(rows, desc=f"quality {name}", unit="q", disable=None):
        query = load_image(args.suite / r["query"])
        mask = cv2.imread(str(args.suite / r["mask"]), cv2.IMREAD_GRAYSCALE) > 127
        clean = load_image(args.gallery / r["item_id"])
        if not mask.any() or clean.shape != query.shape:
            continue
        t = time.perf_counter()
        out = inp.inpaint(query, mask)
        secs.append(time.perf_counter() - t)
        assert np.array_equal(out[~mask], query[~mask]), f"{name} changed pixels outside the mask"
        psnr.append(masked_psnr(out, clean, mask))
        ssim.append(masked_ssim(out, clean, mask))
    return {"n": len(psnr), "psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim)),
            "psnr_median": float(np.median(psnr)), "ms_per_image": 1000 * float(np.median(secs)),
            "per_query_psnr": psnr, "per_query_ssim": ssim}


def retrieval(name: str, rows: list[dict], args) -> dict:
    from tqdm import tqdm

    from pipeline.engine import Engine
    from pipeline.index import open_index

    engine = Engine(_settings(name, args, args.index))
    engine.index = open_index(engine.settings, engine.signature())
    depth = engine.settings.rerank_depth
    ranks, sim_ranks = [], []  # 1-based rank of the source photo in the top 5, 0 when absent: per query
    rank = lambda ids, want: ids[:5].index(want) + 1 if want in ids[:5] else 0  # noqa: E731
    for r in tqdm(rows, desc=f"search {name}", unit="q", disable=None):
        hits = engine.search(str(args.suite / r["query"]), top_k=depth).hits
        ranks.append(rank([h.item.id for h in hits], r["item_id"]))
        # The same candidates by similarity alone: an attribute flip in the rerank (t-shirt read as
        # long-sleeve) moves a query more than a restoration does, so both are reported.
        sim_ranks.append(rank([h.item.id for h in sorted(hits, key=lambda h: -h.score)], r["item_id"]))
    return {"hit@1": sum(k == 1 for k in ranks) / len(rows), "hit@5": sum(k > 0 for k in ranks) / len(rows),
            "sim_hit@1": sum(k == 1 for k in sim_ranks) / len(rows), "per_query_rank": ranks,
            "per_query_sim_rank": sim_ranks, "notices": engine.notices}


def run(args) -> int:
    rows = _suite(args)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results: dict[str, dict] = {}
    for name in backends:
        results[name] = quality(name, rows, args)
        if args.index and not args.no_retrieval:
            results[name].update(retrieval(name, rows, args))
    load = os.getloadavg()
    print(f"\n{len(rows)} queries from {args.suite}; {machine()}; {stamp()}; "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print("| inpainter | PSNR in mask (dB) | SSIM in mask | hit@1 | hit@5 | hit@1, similarity only | "
          "ms/image (median) |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        h1, h5, s1 = (f"{r[k]:.3f}" if k in r else "–" for k in ("hit@1", "hit@5", "sim_hit@1"))
        print(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {h1} | {h5} | {s1} | {r['ms_per_image']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"suite": str(args.suite), "date": stamp(), "machine": machine(),
                                         "load": load, "results": results}, indent=1))
    return 0
