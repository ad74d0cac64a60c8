"""Adding sketch vectors to an index: at ingest (`sketch = true`) or afterwards, resumably.

`add_sketch_vectors` reads the photo index's items (ids, image paths, content
hashes), skips those whose sketch vector is already stored for the same
content, and writes the rest in committed batches: a killed run resumes where
it stopped, and a re-ingested (changed) photo gets a new sketch vector.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import imageio
from ..edges import create as create_edges
from ..engine import Engine
from ..index import Index
from ..types import Item
from . import features


@dataclass
class SketchReport:
    indexed: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    edges: str = ""
    edge_seconds: float = 0.0  # summed edge-detection time, for the per-image cost

    def summary(self) -> str:
        per = self.edge_seconds / self.indexed * 1000 if self.indexed else 0.0
        lines = [f"sketch vectors: {self.indexed} added, {self.skipped} already there, {len(self.failed)} failed "
                 f"({self.seconds:.1f} s; edges '{self.edges}' {per:.0f} ms per image)"]
        lines += [f"  failed: {i}: {why}" for i, why in self.failed[:20]]
        return "\n".join(lines)


class SketchWriter:
    """Computes and stores sketch vectors for items; one edge detector, built once."""

    def __init__(self, engine: Engine, notices: list[str] | None = None, edges: str | None = None):
        self.engine = engine
        self.notices = notices if notices is not None else engine.notices
        self.detector = create_edges(edges or engine.settings.edges, threads=engine.settings.threads,
                                     notices=self.notices)
        self.index = features.open_sketch_index(engine, create=True, edges=self.detector.name)
        self.edge_seconds = 0.0

    def add(self, items: list[Item], images: list[np.ndarray]) -> int:
        done = [features.item_edges(self.engine, self.detector, img) for img in images]
        self.edge_seconds += sum(e.seconds["edges"] for e in done)
        shapes = features.embed_pictures(self.engine, [features.catalogue_picture(e) for e in done])
        return self.index.add(items, shapes, np.stack([e.colour for e in done]))

    def close(self) -> None:
        self.index.flush()


def _stored_hashes(index: Index, ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        out.update({it.id: it.content_hash for it in index.get(ids[i:i + 500])})
    return out


def add_sketch_vectors(engine: Engine, photo_index: Index, batch: int = 16, limit: int | None = None,
                       progress: Callable[[int, int], None] | None = None, edges: str | None = None) -> SketchReport:
    t0 = time.perf_counter()
    writer = SketchWriter(engine, edges=edges)
    report = SketchReport(edges=writer.detector.name)
    ids = sorted(photo_index.ids())[: limit or None]
    have = _stored_hashes(writer.index, ids) if writer.index.count() else {}
    bar = None
    if progress is None:
        from tqdm import tqdm

        bar = tqdm(total=len(ids), unit="img", desc=f"sketch ({report.edges})", file=sys.stderr)
    for start in range(0, len(ids), batch):
        items = photo_index.get(ids[start:start + batch])
        todo, images = [], []
        for it in items:
            if it.id in have and have[it.id] == it.content_hash:
                report.skipped += 1
                continue
            try:
                images.append(imageio.load_image(it.image))
                todo.append(it)
            except imageio.ImageError as exc:
                report.failed.append((it.id, str(exc)))
        if todo:
            try:
                report.indexed += writer.add(todo, images)
            except Exception as exc:  # one odd image must not cost the batch: retry one by one
                for it, img in zip(todo, images):
                    try:
                        report.indexed += writer.add([it], [img])
                    except Exception as one:
                        report.failed.append((it.id, f"{one.__class__.__name__}: {one}"))
                if not report.indexed and len(report.failed) == len(todo):
                    raise RuntimeError(f"sketch vectors failed for a whole batch: {exc}") from exc
        n = min(start + batch, len(ids))
        if bar is not None:
            bar.update(n - bar.n)
        if progress is not None:
            progress(n, len(ids))
    if bar is not None:
        bar.close()
    writer.close()
    report.edge_seconds = writer.edge_seconds
    report.seconds = time.perf_counter() - t0
    return report
