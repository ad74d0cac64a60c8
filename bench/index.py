"""Local-index top-k latency on synthetic vectors: exact vs HNSW, with recall@k against exact."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import machine, pct, stamp


def configure(p):
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--shape-dim", type=int, default=1280)
    p.add_argument("--colour-dim", type=int, default=256)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--weights", default="0,0.5,1")
    p.add_argument("--json", action="store_true")


def clustered(rng, n: int, dim: int, clusters: int = 200) -> np.ndarray:
    """Vectors in clusters, like real embeddings (uniform noise makes ANN look easy or hopeless)."""
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    v = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def run(args) -> int:
    from tqdm import tqdm

    from pipeline.index import INDEXES
    from pipeline.types import Item

    rng = np.random.default_rng(0)
    ds, dc = args.shape_dim, args.colour_dim
    out = {"machine": machine(), "date": stamp(), "n": args.n, "k": args.k, "dims": ds + dc, "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        idx = INDEXES.create("local", path=Path(tmp) / "idx", create=True, shape_dim=ds, colour_dim=dc, ann="exact")
        for i in tqdm(range(0, args.n, 10_000), desc="add", disable=None):
            m = min(10_000, args.n - i)
            idx.add([Item(id=str(i + j), image="") for j in range(m)], clustered(rng, m, ds), np.abs(clustered(rng, m, dc)))
        qs, qc = clustered(rng, args.queries, ds), np.abs(clustered(rng, args.queries, dc))
        weights = [float(w) for w in args.weights.split(",")]
        truth = {}
        for mode in ("exact", "hnsw"):
            idx.ann = mode
            t = time.perf_counter()
            idx.flush()
            build = time.perf_counter() - t
            res = {"build_s": round(build, 1)}
            for w in weights:
                lat, rec = [], []
                for q in range(args.queries):
                    t = time.perf_counter()
                    hits = idx.search(qs[q], qc[q], w, args.k)
                    lat.append((time.perf_counter() - t) * 1000)
                    ids = [h.item.id for h in hits]
                    if mode == "exact":
                        truth[(w, q)] = set(ids)
                    rec.append(len(truth[(w, q)] & set(ids)) / args.k)
                res[f"w={w:g}"] = {"p50_ms": round(pct(lat, 50), 2), "p95_ms": round(pct(lat, 95), 2),
                                   f"recall@{args.k}": round(float(np.mean(rec)), 4)}
            out["modes"][mode] = res
        idx.close()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{args.n} items × {ds + dc} dims, top-{args.k}, {args.queries} queries — {out['machine']} — {out['date']}")
    print(f"| mode | w | p50 ms | p95 ms | recall@{args.k} | build s |\n|---|---|---:|---:|---:|---:|")
    for mode, res in out["modes"].items():
        for key, r in res.items():
            if key.startswith("w="):
                print(f"| {mode} | {key[2:]} | {r['p50_ms']} | {r['p95_ms']} | {r[f'recall@{args.k}']} | {res['build_s']} |")
    return 0
