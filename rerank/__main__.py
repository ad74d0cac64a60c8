"""`python -m rerank train|info`: train attribute probes on a labelled catalogue, inspect one.

    python -m rerank train CATALOGUE [--out FILE] [--attributes category,pattern]

CATALOGUE is what `python -m pipeline ingest` reads: a folder (category =
first sub-folder) or a CSV whose columns named like vocabulary attributes
(colour, pattern, sleeve, length, neckline, ...) are labels; or a local
index folder, whose stored vectors and catalogue labels are used as they are
(no image is read again: seconds, right after an ingest). Without --out the
probe goes to <home>/probes/<name>.npz, where attributes = "auto" finds it.
Exit codes as the pipeline CLI: 0 ok, 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m rerank", description="Attribute probes for the reranker.")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a linear probe per labelled attribute on a catalogue")
    p.add_argument("source", help="folder (category = first sub-folder), catalogue CSV with attribute columns, "
                                  "or a local index folder")
    p.add_argument("--out", type=Path, help="probe file (.npz); default <home>/probes/<source name>.npz")
    p.add_argument("--attributes", help="comma-separated attributes to train (default: every labelled one)")
    p.add_argument("--limit", type=int, help="use at most N items (seeded sample)")
    p.add_argument("--min-per-class", type=int, default=5, help="drop classes with fewer examples")
    p.add_argument("--cache", type=Path, help="feature cache folder (default <home>/cache)")
    p.add_argument("--config", help="TOML or YAML settings file (also DRAPE_CONFIG)")
    p.add_argument("--embedder", help="shape embedder the probe is for (must match the index)")
    p.add_argument("--parser", help="parser backend")
    p.add_argument("--inpainter", help="inpainting backend")
    p.add_argument("--threads", type=int)
    p = sub.add_parser("info", help="print a probe's header")
    p.add_argument("probe", type=Path)
    return ap


def labels_of(records, vocab, wanted: list[str] | None) -> dict[str, list[str | None]]:
    """Per vocabulary attribute, the normalised label of every record (None where unlabelled)."""
    out = {}
    for attr in vocab.names():
        if wanted and attr not in wanted:
            continue
        # Values ingest predicted (attributes["_predicted"]) are guesses, not labels: never train on them.
        raw = [None if attr in r.item.attributes.get("_predicted", ()) else
               r.item.category if attr == "category" else r.item.attributes.get(attr) for r in records]
        values = [vocab.normalise(attr, v) for v in raw]
        if any(values):
            out[attr] = values
    return out


def _from_index(folder: Path):
    """Items and their stored vectors from a local index: what ingest already computed."""
    from pipeline.index import INDEXES
    from pipeline.ingest import Record

    index = INDEXES.create("local", path=folder)
    ids = sorted(index.ids())
    items = index.get(ids)
    shape, colour = index.vectors(ids)
    index.close()
    sig = {k: index.manifest.get(k) for k in ("embedder", "shape_dim", "colour", "colour_dim")}
    return [Record(it, Path(it.image)) for it in items], shape, colour, sig


def cmd_train(args) -> int:
    import numpy as np

    from pipeline import config
    from pipeline.engine import Engine
    from pipeline.ingest import scan
    from pipeline.types import Features

    from . import cache
    from .predictors.probe import train
    from .vocab import load

    overrides = {k: getattr(args, k) for k in ("embedder", "parser", "inpainter", "threads")}
    settings = config.load(args.config, overrides)
    vocab = load()
    stored = None
    if (Path(args.source) / "manifest.json").exists():
        records, *stored = _from_index(Path(args.source))
    else:
        records = scan(args.source)
    pick = np.arange(len(records))
    if args.limit and args.limit < len(records):
        pick = np.sort(np.random.default_rng(0).choice(len(records), args.limit, replace=False))
        records = [records[i] for i in pick]
    wanted = [a.strip() for a in args.attributes.split(",")] if args.attributes else None
    labels = labels_of(records, vocab, wanted)
    if not labels:
        print(f"error: {args.source} has no labels for {wanted or vocab.names()}", file=sys.stderr)
        return 2
    print(f"{len(records)} items; labels: " + ", ".join(f"{a} ({sum(1 for v in vs if v)})" for a, vs in labels.items()),
          file=sys.stderr)
    if stored:
        shape, colour, signature = stored[0][pick], stored[1][pick], stored[2]
    else:
        engine = Engine(settings)
        signature = engine.signature()
        shape, colour = cache.features(engine, [r.path for r in records], args.cache or settings.home / "cache")
    feats = [Features(s, c) for s, c in zip(shape, colour)]
    probe = train(feats, labels, vocab, signature, source=str(args.source), min_per_class=args.min_per_class)
    out = args.out or settings.home / "probes" / f"{Path(args.source).stem}.npz"
    probe.save(out)
    for attr, head in probe.heads.items():
        s = head.stats or {}
        print(f"{attr}: {len(head.classes)} classes, {s.get('n_train')} examples, "
              f"hold-out accuracy {s.get('holdout_accuracy', 0):.3f} (l2 {s.get('l2')})")
    print(f"probe: {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


def cmd_info(args) -> int:
    from .predictors.probe import Probe

    print(json.dumps(Probe.load(args.probe).header, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.config import ConfigError
    from pipeline.ingest import SourceError

    try:
        return {"train": cmd_train, "info": cmd_info}[args.command](args)
    except (ConfigError, SourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
