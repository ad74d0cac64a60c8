"""Sketch search hit@K: pseudo-sketches of gallery items (outline, some seams, colour scribbles) → their item.

Every gallery image gets one pseudo-sketch per condition (pipeline.sketch.pseudo,
seeded by --seed and the item's position), drawn from its own photo, then
read exactly as the app reads a canvas. The gallery side is what
`python -m pipeline.sketch index` stores: the edge map's line picture
embedded, plus the photo index's colour vector. Conditions:
  lines            outline + interior lines, no colour (w forced to 1)
  lines+colour@w   the same drawing with colour scribbles, for each --weights w
  outline+colour@w silhouette only (no interior lines), with colour
  colourised@w     (with --colouriser) the sketch colourised and searched as a photo
  fused@w          (with --colouriser) sketch and colourised-photo scores mixed, for each --photo-shares
Edge maps and photo vectors are cached under --cache (HED costs seconds per image).

    python -m bench sketch --gallery ../shared/data/clothing-small/test --edges hed,canny
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .common import SHARED, machine, stamp

KS = (1, 5, 10, 20)


def configure(p) -> None:
    p.add_argument("--gallery", type=Path, default=SHARED / "test", help="folder of catalogue images")
    p.add_argument("--edges", default="hed,canny", help="edge backends to compare (comma-separated)")
    p.add_argument("--weights", default="0.3,0.5,0.7", help="w values for the runs with colour")
    p.add_argument("--limit", type=int, default=None, help="first N gallery images only (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--colouriser", type=Path, default=None, help="trained colouriser folder (adds two rows)")
    p.add_argument("--photo-shares", default="0.5", help="share of the colourised-photo score in the fused rows")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "drape-sketch-bench")
    p.add_argument("--home", type=Path, default=None, help="DRAPE home (models); default: the configured one")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")


def hits(scores, truth, ks=KS) -> dict[str, float]:
    """hit@K for one relevant item per query (so hit@K = recall@K) and the mean reciprocal rank."""
    import numpy as np

    own = scores[np.arange(len(truth)), truth][:, None]
    rank = 1 + (scores > own).sum(axis=1)  # ties count in the query's favour, as a stable sort by id would not
    out = {f"hit@{k}": float((rank <= k).mean()) for k in ks}
    out["mrr"] = float((1.0 / rank).mean())
    return out


def _weighted(q_s, q_c, g_s, g_c, w):
    return w * (q_s @ g_s.T) + (1.0 - w) * (q_c @ g_c.T)


def run(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from pipeline import config
    from pipeline.edges import create
    from pipeline.engine import Engine
    from pipeline.ingest import scan
    from pipeline.sketch import canvas, features, pseudo

    overrides = {"home": args.home} if args.home else {}
    engine = Engine(config.load(overrides=overrides))
    records = scan(args.gallery)[: args.limit or None]
    weights = [float(w) for w in args.weights.split(",") if w.strip()]
    colouriser = None
    if args.colouriser:
        from pipeline.sketch.colourise import Colouriser

        colouriser = Colouriser.load(args.colouriser, threads=engine.settings.threads)
    report = {"date": stamp(), "machine": machine(), "load_average": os.getloadavg(), "gallery": str(args.gallery),
              "items": len(records), "seed": args.seed, "embedder": engine.settings.embedder, "results": {}}
    for backend in [b.strip() for b in args.edges.split(",") if b.strip()]:
        detector = create(backend, threads=engine.settings.threads, fallback=None)
        t0 = time.perf_counter()
        items = [features.cached_item_edges(engine, detector, r.path, args.cache)
                 for r in tqdm(records, desc=f"{backend} edges", unit="img")]
        cost = {k: float(np.mean([e.seconds[k] for e in items])) for k in ("analyse", "edges")}
        g_sketch = features.embed_pictures(engine, [features.catalogue_picture(e) for e in items])
        g_colour = np.stack([e.colour for e in items])
        g_photo = np.stack([e.shape for e in items])
        truth = np.arange(len(items))
        rows: dict[str, dict] = {}
        styles = {"lines": pseudo.Style(colour=False), "lines+colour": pseudo.Style(),
                  "outline+colour": pseudo.Style(interior=False)}
        queries = {}
        for name, style in styles.items():
            shapes, colours, drawings = [], [], []
            for i, e in enumerate(tqdm(items, desc=f"{backend} {name}", unit="q")):
                d = canvas.read(pseudo.draw(e.crop, e.mask, e.strength, np.random.default_rng([args.seed, i]), style))
                drawings.append(d)
                shapes.append(features.query_picture(d))
                c = features.colour_vector(engine, d)
                colours.append(np.zeros(g_colour.shape[1], np.float32) if c is None else c)
            queries[name] = (features.embed_pictures(engine, shapes), np.stack(colours), drawings)
        rows["lines (w=1)"] = hits(queries["lines"][0] @ g_sketch.T, truth)
        for name in ("lines+colour", "outline+colour"):
            q_s, q_c, _ = queries[name]
            for w in weights:
                rows[f"{name} w={w:g}"] = hits(_weighted(q_s, q_c, g_sketch, g_colour, w), truth)
            rows[f"{name} colour only (w=0)"] = hits(q_c @ g_colour.T, truth)
        if colouriser is not None:
            q_s, q_c, drawings = queries["lines+colour"]
            p_s, p_c = [], []
            for d in tqdm(drawings, desc=f"{backend} colourise", unit="q"):
                photo, mask = colouriser.colourise(d)
                p_s.append(engine.embedder.embed([photo])[0])
                p_c.append(engine.colour.histogram(photo, mask))
            p_s, p_c = np.stack(p_s), np.stack(p_c)
            for w in weights:
                photo_scores = _weighted(p_s, p_c, g_photo, g_colour, w)
                sketch_scores = _weighted(q_s, q_c, g_sketch, g_colour, w)
                rows[f"colourised photo w={w:g}"] = hits(photo_scores, truth)
                for share in [float(x) for x in args.photo_shares.split(",") if x.strip()]:
                    fused = share * photo_scores + (1 - share) * sketch_scores
                    rows[f"fused (photo share {share:g}) w={w:g}"] = hits(fused, truth)
        report["results"][backend] = {"seconds_per_image": cost, "rows": rows,
                                      "wall_seconds": time.perf_counter() - t0}
        _print(backend, cost, rows)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _print(backend: str, cost: dict, rows: dict) -> None:
    print(f"\n## edges = {backend}  (per catalogue image: analyse {cost['analyse'] * 1000:.0f} ms, "
          f"edges {cost['edges'] * 1000:.0f} ms)")
    print(f"| query | {' | '.join(f'hit@{k}' for k in KS)} | MRR |")
    print("|---|" + "---|" * (len(KS) + 1))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r[f'hit@{k}']:.3f}" for k in KS) + f" | {r['mrr']:.3f} |")
