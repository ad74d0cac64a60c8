"""The real `pipeline.ingest.ingest` and LocalIndex with a model-free engine, run as a process to be killed.

`python -m tests.reliability.ingest_child SOURCE INDEX` prints "ready", then "batch N" after
each committed batch; the snapshot is rebuilt after every batch so a SIGKILL can land in a
SQLite transaction, in a snapshot build or in the pointer swap, not only between them. The
features are a deterministic function of the pixels (`features`), so the parent can check
every stored vector against its file.
"""
from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import numpy as np

from pipeline.types import Features

SHAPE_DIM, COLOUR_DIM = 8, 4
PACE = 0.03  # seconds after each batch


def features(img: np.ndarray) -> Features:
    a = img.astype(np.float32) / 255.0
    s = np.concatenate([a.mean((0, 1)), a.std((0, 1)), [img.shape[0] / 100.0, img.shape[1] / 100.0]])
    c = np.concatenate([a.max((0, 1)), [a.min()]]) + 0.01
    return Features((s / np.linalg.norm(s)).astype(np.float32), (c / np.linalg.norm(c)).astype(np.float32))


class StubEngine:
    """What ingest needs of an Engine: settings, batched features, attribute predictions."""

    def __init__(self, batch_size: int = 2):
        self.settings = SimpleNamespace(batch_size=batch_size, workers=1, sketch=False)

    def features_many(self, images, pool=None):
        return [features(im) for im in images]

    def describe(self, feats):
        return [{} for _ in feats]


def main(source: str, index_dir: str) -> int:
    from pipeline.index import INDEXES
    from pipeline.ingest import ingest

    index = INDEXES.create("local", path=index_dir, create=True, shape_dim=SHAPE_DIM, colour_dim=COLOUR_DIM,
                           ann="exact")
    print("ready", flush=True)

    def progress(done: int, total: int) -> None:
        index.flush()  # a snapshot per batch: more moments for a kill to land in
        print(f"batch {done}", flush=True)
        time.sleep(PACE)  # so the parent, reading these lines, is never more than a batch behind

    report = ingest(StubEngine(), index, source, progress=progress)
    print(f"done {report.indexed} {report.skipped} {len(report.failed)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
