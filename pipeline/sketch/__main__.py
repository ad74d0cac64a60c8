"""`python -m pipeline.sketch index|train|search|examples` (docs/sketch.md).

    index     add sketch vectors to an existing index (resumable; `--edges canny` for speed)
    train     train the colouriser on a catalogue: python -m pipeline.sketch train SOURCE --out DIR
    search    search with a drawing (PNG: black outline, colour paint) from the command line
    examples  write example sketches (assets/examples/sketch_*.png) from a catalogue
Exit codes as `python -m pipeline`: 0 ok, 1 the work failed, 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from ..cli import _common

    ap = argparse.ArgumentParser(prog="python -m pipeline.sketch", description="Sketch search: vectors, colouriser.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="add sketch vectors to an existing index (resumable)")
    p.add_argument("--edges", help="edge backend: hed (default) or canny")
    p.add_argument("--limit", type=int, help="at most N items (a trial run)")
    p.add_argument("--batch-size", type=int, default=16, dest="sketch_batch")
    _common(p)

    p = sub.add_parser("train", help="train the sketch colouriser on a catalogue folder or CSV")
    p.add_argument("source", help="catalogue folder (category = first sub-folder) or CSV")
    p.add_argument("--out", required=True, type=Path, help="model folder (re-run to resume)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=64, help="training resolution (px); 128 looks better, costs 4x")
    p.add_argument("--ngf", type=int, default=32, help="generator width (channels of its first layer)")
    p.add_argument("--limit", type=int, default=1200, help="a seeded sample of N photos (0 = all)")
    p.add_argument("--variants", type=int, default=2, help="pseudo-sketches per photo")
    p.add_argument("--category", action="append", default=[], help="train on these categories only (repeatable)")
    p.add_argument("--edges", default="canny", help="edge backend for the sketches' interior lines")
    p.add_argument("--cache", type=Path, default=None, help="keep crops and edge maps here (default: <home>/cache)")
    p.add_argument("--seed", type=int, default=0)
    _common(p)

    p = sub.add_parser("search", help="search the sketch index with a drawing")
    p.add_argument("image", help="PNG/JPEG: black outline, colour paint, white paper")
    p.add_argument("--weight", type=float)
    p.add_argument("--top-k", type=int, dest="top_k")
    p.add_argument("--colouriser", help="trained colouriser folder")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("examples", help="write example sketches from a catalogue")
    p.add_argument("source", help="catalogue folder or CSV")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "assets" / "examples")
    p.add_argument("-n", type=int, default=4)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--edges", help="edge backend for the interior lines (default: the configured one)")
    _common(p)
    return ap


def _engine(settings, create_photo_index: bool = False):
    from ..engine import Engine
    from ..index import open_index

    engine = Engine(settings)
    engine.index = open_index(settings, engine.signature(), create=create_photo_index)
    return engine


def cmd_index(args, settings) -> int:
    from .build import add_sketch_vectors

    engine = _engine(settings)
    report = add_sketch_vectors(engine, engine.index, batch=args.sketch_batch, limit=args.limit)
    for n in engine.notices:
        print(f"note: {n}", file=sys.stderr)
    print(report.summary())
    return 1 if report.failed and not report.indexed and not report.skipped else 0


def cmd_train(args, settings) -> int:
    import numpy as np

    from ..edges import create
    from ..engine import Engine
    from ..ingest import scan
    from .colourise import Config
    from .features import cached_item_edges
    from .train import make_pairs, train

    records = [r for r in scan(args.source) if not args.category or r.item.category in args.category]
    if args.limit and args.limit < len(records):  # a seeded sample across categories, not the first folders
        pick = np.random.default_rng([args.seed, 7]).choice(len(records), args.limit, replace=False)
        records = [records[i] for i in sorted(pick)]
    if not records:
        raise ValueError(f"no training photos in {args.source}" + (f" for {args.category}" if args.category else ""))
    engine = Engine(settings)
    detector = create(args.edges, threads=settings.threads, notices=engine.notices)
    from tqdm import tqdm

    cache = args.cache or settings.home / "cache" / "sketch-train"
    items = [cached_item_edges(engine, detector, r.path, cache) for r in tqdm(records, desc="crops + edges", unit="img")]
    pairs = make_pairs(items, args.size, args.variants, args.seed)
    history = train(pairs, args.out, epochs=args.epochs, batch=args.batch, cfg=Config(size=args.size, ngf=args.ngf, ndf=args.ngf),
                    seed=args.seed, threads=settings.threads)
    print(f"colouriser: {args.out} ({len(history)} epochs; held-out L1 {history[-1]['val_l1']:.4f})"
          if history else f"colouriser: {args.out} (nothing to do)")
    return 0


def cmd_search(args, settings) -> int:
    from .search import SketchSearch

    engine = _engine(settings)
    search = SketchSearch.open(engine, engine.notices)
    result = search.search(args.image, args.weight, args.top_k)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"{len(result.hits)} results (w={result.weight:.2f})")
    for h in result.hits:
        print(f"{h.rank:>4}  {h.score:7.4f}  {h.shape:7.4f}  {h.colour:7.4f}  {h.item.id}")
    return 0


def cmd_examples(args, settings) -> int:
    from ..edges import create
    from ..engine import Engine
    from .examples import write_examples

    engine = Engine(settings)
    detector = create(settings.edges, threads=settings.threads, notices=engine.notices)
    for path, label in write_examples(engine, detector, args.source, args.out, args.n, args.seed):
        print(f"{path}  ({label})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .. import config as config_mod
    from ..cli import settings_from
    from ..imageio import ImageError
    from ..index import IndexError_
    from ..ingest import SourceError
    from ..registry import UnknownBackend
    from .search import SketchError

    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        settings = settings_from(args)
        if getattr(args, "edges", None):
            settings = settings.model_copy(update={"edges": args.edges})
        if getattr(args, "colouriser", None):
            settings = settings.model_copy(update={"colouriser": args.colouriser})
        return {"index": cmd_index, "train": cmd_train, "search": cmd_search,
                "examples": cmd_examples}[args.command](args, settings)
    except (config_mod.ConfigError, UnknownBackend, ImageError, IndexError_, SourceError, SketchError,
            FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: committed work is kept; re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
