"""Local index at scale: build time, RAM, p50/p95 top-k latency and recall@k against exact, per w.

For each size: synthetic clustered vectors are bulk-loaded (SQLite + snapshot in
one pass), the exact top-k of every query at every w is computed by brute force
over the snapshot, the approximate structure is built, and then a fresh child
process opens the index and times single queries (each at every w in turn,
`--passes` times), so its RAM is the index's own (RssAnon: codes, lists, ids,
fields) and its latency is a warm server's.
`--real INDEX` runs the same measurements on an existing index (real features):
queries are its own stored vectors with a little noise.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import cpu_ticks, machine, pct, read_bandwidth, stamp, steal_share

CLUSTERS = 200  # as bench/index.py: few, big clusters with isotropic noise are the hard case for an ANN


def configure(p):
    p.add_argument("--sizes", default="100000,1000000", help="comma-separated catalogue sizes")
    p.add_argument("--shape-dim", type=int, default=1280)
    p.add_argument("--colour-dim", type=int, default=256)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--passes", type=int, default=3, help="times each query is timed at each weight")
    p.add_argument("--exact-queries", type=int, default=5, help="queries timed on the exact path (slow at 1M)")
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--weights", default="0,0.5,1")
    p.add_argument("--mode", default="ivf", choices=["ivf", "hnsw"])
    p.add_argument("--real", type=Path, help="also measure an existing local index (real features)")
    p.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()), help="where the temporary indexes go")
    p.add_argument("--child", type=Path, help=argparse_hidden())
    p.add_argument("--json", action="store_true")


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


class Synthetic:
    """Independent shape and colour clusters, as bench/index.py draws them. Noise is uniform with the same
    variance as its Gaussian (1536-d dot products cannot tell them apart) because it draws 3× faster."""

    def __init__(self, ds: int, dc: int, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.cs = self.rng.standard_normal((CLUSTERS, ds), dtype=np.float32)
        self.cc = self.rng.standard_normal((CLUSTERS, dc), dtype=np.float32)

    def _draw(self, centres: np.ndarray, n: int) -> np.ndarray:
        v = self.rng.random((n, centres.shape[1]), dtype=np.float32)
        v -= 0.5
        v *= 0.6 * np.sqrt(12.0)
        v += centres[self.rng.integers(0, len(centres), n)]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v

    def __call__(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._draw(self.cs, n), np.abs(self._draw(self.cc, n))


def memory() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024  # MiB
    return out


def exact_topk(matrix: np.ndarray, n: int, ds: int, qs: np.ndarray, qc: np.ndarray, weights, k: int):
    """Brute-force top-k ids per (w, query), streaming the memory-mapped rows once."""
    best = {w: (np.full((len(qs), 0), -np.inf, np.float32), np.zeros((len(qs), 0), np.int64)) for w in weights}
    for i in range(0, n, 65_536):
        block = np.asarray(matrix[i: i + 65_536])
        s, c = block[:, :ds] @ qs.T, block[:, ds:] @ qc.T
        for w in weights:
            sc = np.concatenate([best[w][0], (w * s + (1 - w) * c).T], axis=1)
            ids = np.concatenate([best[w][1], np.broadcast_to(np.arange(i, i + len(block)), (len(qs), len(block)))],
                                 axis=1)
            top = np.argpartition(-sc, min(k, sc.shape[1] - 1), axis=1)[:, :k]
            best[w] = (np.take_along_axis(sc, top, 1), np.take_along_axis(ids, top, 1))
    return {w: best[w][1] for w in weights}


def child(folder: Path) -> int:
    """In a fresh process: open the index, time single queries, report RAM."""
    from pipeline.index import INDEXES

    spec = json.loads((folder / "spec.json").read_text())
    data = np.load(folder / "queries.npz")
    base = memory()
    t = time.perf_counter()
    idx = INDEXES.create("local", path=spec["index"], ann=spec["mode"], threads=2)
    snap = idx.snapshot()
    open_s = time.perf_counter() - t
    snap.warmed.wait()  # the rows file mapped, as in a server that has been up a while
    warm_s = time.perf_counter() - t - open_s
    qs, qc, k = data["qs"], data["qc"], spec["k"]
    pos = {iid: i for i, iid in enumerate(snap.ids)}
    out = {"open_s": round(open_s, 2), "warm_s": round(warm_s, 2), "ann_mib": round(idx.info()["ann_bytes"] / 2**20, 1),
           "weights": {}}
    out["read_gbs"] = [read_bandwidth()]  # before and after the timed queries: the box's speed drifts
    for q in range(min(5, len(qs))):  # warm-up: first touches of the mapped rows
        idx.search(qs[q], qc[q], 0.5, k)
    # Each query at every weight in turn, over several passes: the box's speed drifts within seconds, and this
    # way a slow spell falls on all weights alike instead of on whichever was being timed.
    weights = spec["weights"]
    lat, cpu, rec = ({w: [] for w in weights} for _ in range(3))
    ticks = cpu_ticks()
    for rep in range(spec.get("passes", 1)):
        for q in range(len(qs)):
            for w in weights:
                t, c = time.perf_counter(), time.thread_time()
                hits = idx.search(qs[q], qc[q], w, k)
                lat[w].append((time.perf_counter() - t) * 1000)
                cpu[w].append((time.thread_time() - c) * 1000)  # this thread's CPU: the cost without queueing
                if not rep:
                    rec[w].append(len(set(pos[h.item.id] for h in hits) & set(data[f"truth_{w:g}"][q].tolist())) / k)
    steal = steal_share(ticks, cpu_ticks())
    for w in weights:
        exact = []
        for q in range(spec["exact_queries"]):
            t = time.perf_counter()
            idx.search(qs[q], qc[q], w, k, exact=True)
            exact.append((time.perf_counter() - t) * 1000)
        out["weights"][f"{w:g}"] = {"p50_ms": round(pct(lat[w], 50), 2), "p95_ms": round(pct(lat[w], 95), 2),
                                    "cpu_p50_ms": round(pct(cpu[w], 50), 2),
                                    f"recall@{k}": round(float(np.mean(rec[w])), 4),
                                    "min_recall": round(float(np.min(rec[w])), 2),
                                    "exact_p50_ms": round(pct(exact, 50), 1), "steal_pct": steal}
    out["read_gbs"].append(read_bandwidth())
    mem = memory()
    out["ram_mib"] = {"index_anon": round(mem["RssAnon"] - base["RssAnon"], 1),
                      "mapped_rows_touched": round(mem["RssFile"] - base["RssFile"], 1)}  # OS file cache, shared
    idx.close()
    print(json.dumps(out))
    return 0


def measure(index_dir: Path, work: Path, qs, qc, truth, args, weights) -> dict:
    np.savez(work / "queries.npz", qs=qs, qc=qc, **{f"truth_{w:g}": truth[w] for w in weights})
    (work / "spec.json").write_text(json.dumps({"index": str(index_dir), "mode": args.mode, "k": args.k,
                                                "weights": weights, "exact_queries": args.exact_queries,
                                                "passes": args.passes}))
    done = subprocess.run([sys.executable, "-m", "bench", "scale", "--child", str(work)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])
    if done.returncode:
        raise RuntimeError(f"measuring child failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def synthetic_run(n: int, args, weights) -> dict:
    from pipeline.index import INDEXES
    from pipeline.types import Item

    ds, dc = args.shape_dim, args.colour_dim
    gen = Synthetic(ds, dc, seed=n)
    work = Path(tempfile.mkdtemp(prefix="drape-scale-", dir=args.tmp))
    try:
        idx = INDEXES.create("local", path=work / "idx", create=True, shape_dim=ds, colour_dim=dc, ann="exact")
        chunk = 50_000

        def chunks():
            for i in range(0, n, chunk):
                m = min(chunk, n - i)
                s, c = gen(m)
                yield [Item(id=f"syn-{i + j}", image="", category=f"c{(i + j) % 8}") for j in range(m)], s, c

        t = time.perf_counter()
        idx.bulk_add(chunks(), total=n)
        load_s = time.perf_counter() - t
        snap = idx.snapshot()
        qs, qc = gen(args.queries)
        t = time.perf_counter()
        truth = exact_topk(snap.base, n, ds, qs, qc, weights, args.k)
        truth_s = time.perf_counter() - t
        idx.ann = args.mode
        t = time.perf_counter()
        idx.flush()
        build_s = time.perf_counter() - t
        idx.close()
        del snap, idx
        gc.collect()
        res = measure(work / "idx", work, qs, qc, truth, args, weights)
        disk = sum(f.stat().st_size for f in (work / "idx").rglob("*") if f.is_file())
        return {"n": n, "load_s": round(load_s, 1), "ann_build_s": round(build_s, 1),
                "truth_s": round(truth_s, 1), "disk_gib": round(disk / 2**30, 2), **res}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def real_run(index_dir: Path, args, weights) -> dict:
    from pipeline.index import INDEXES

    work = Path(tempfile.mkdtemp(prefix="drape-scale-real-", dir=args.tmp))
    try:
        copy = work / "idx"
        shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("snap-*", "snapshot.json"))
        idx = INDEXES.create("local", path=copy, ann="exact")
        snap = idx.snapshot()
        n, ds = len(snap.ids), idx.shape_dim
        rng = np.random.default_rng(0)
        pick = rng.choice(n, min(args.queries, n), replace=False)
        rows = snap.rows(pick)
        noise = rng.normal(0, 0.02, rows.shape).astype(np.float32)
        qs = rows[:, :ds] + noise[:, :ds]
        qc = rows[:, ds:] + noise[:, ds:]
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        qc /= np.maximum(np.linalg.norm(qc, axis=1, keepdims=True), 1e-12)
        truth = exact_topk(snap.base, n, ds, qs, qc, weights, args.k)
        idx.ann = args.mode
        t = time.perf_counter()
        idx.flush()
        build_s = time.perf_counter() - t
        idx.close()
        return {"n": n, "source": str(index_dir), "ann_build_s": round(build_s, 1),
                **measure(copy, work, qs, qc, truth, args, weights)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args) -> int:
    if args.child:
        return child(args.child)
    weights = [float(w) for w in args.weights.split(",")]
    load = os.getloadavg()
    out = {"machine": machine(), "date": stamp(), "load_avg": [round(x, 2) for x in load], "k": args.k,
           "dims": args.shape_dim + args.colour_dim, "mode": args.mode, "runs": []}
    t0 = time.perf_counter()
    for n in [int(s) for s in args.sizes.split(",") if s]:
        out["runs"].append(synthetic_run(n, args, weights))
        print(f"[scale] {n} done at {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.real:
        out["runs"].append(real_run(args.real, args, weights))
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["total_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['machine']} — {out['date']} — load average {out['load_avg']} → {out['load_avg_end']} — "
          f"top-{args.k}, {out['dims']} dims, mode {args.mode}, {out['total_s']} s")
    print(f"| items | w | p50 ms | p95 ms | CPU p50 ms | exact p50 ms | recall@{args.k} (min) | load s | ANN build s | "
          "index RAM MiB | rows mapped MiB | memory GB/s | CPU stolen % |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in out["runs"]:
        for w, m in r["weights"].items():
            print(f"| {r['n']:,} | {w} | {m['p50_ms']} | {m['p95_ms']} | {m['cpu_p50_ms']} | {m['exact_p50_ms']} | "
                  f"{m[f'recall@{args.k}']} ({m['min_recall']}) | {r.get('load_s', '–')} | {r['ann_build_s']} | "
                  f"{r['ram_mib']['index_anon']} | {r['ram_mib']['mapped_rows_touched']} | "
                  f"{' → '.join(map(str, r['read_gbs']))} | {m.get('steal_pct', '–')} |")
    return 0
