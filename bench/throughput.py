"""Ingest throughput (images/s, end to end) into a fresh temporary index."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .common import SHARED, machine, stamp


def configure(p):
    p.add_argument("--source", type=Path, default=SHARED / "validation")
    p.add_argument("--limit", type=int)
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from pipeline import config
    from pipeline.engine import Engine
    from pipeline.index import open_index
    from pipeline.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        # The feature cache would turn a second run into a cache benchmark: models only here.
        settings = config.load(args.config, {"index_dir": Path(tmp) / "idx", "feature_cache": False})
        engine = Engine(settings)
        engine.embedder.embed([engine.prepare(next(Path(args.source).rglob("*.jpg")))[0]])  # load the model first
        engine.index = open_index(settings, engine.signature(), create=True)
        report = ingest(engine, engine.index, args.source, limit=args.limit)
    out = {"machine": machine(), "date": stamp(), "images": report.indexed, "failed": len(report.failed),
           "seconds": round(report.seconds, 2), "images_per_s": round(report.rate, 1),
           "workers": settings.workers, "batch_size": settings.batch_size}
    print(json.dumps(out, indent=2) if args.json else
          f"ingest: {out['images']} images in {out['seconds']} s = {out['images_per_s']} images/s "
          f"(workers {settings.workers}, batch {settings.batch_size}) — {out['machine']} — {out['date']}")
    return 0
