"""Catalogue ingest: a folder of images or a CSV → an index.

Folder: every image below it, recursively; the first sub-folder names the
category (`dress/a.jpg` → category "dress"); the id is the path relative to
the folder. CSV: columns `image,title,url,category` (image relative to the
CSV's folder, or absolute), optional `id`; any other column becomes an
attribute. Attributes predicted from the vectors (Settings.attributes, see
rerank/) fill what the catalogue leaves empty; the catalogue's values win.
One bad file is reported and skipped, never fatal; every batch is
committed atomically, so an interrupted ingest resumes where it stopped.
"""
from __future__ import annotations

import csv
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from . import imageio
from .engine import Engine
from .index import Index
from .types import Item

RESERVED = {"id", "image", "title", "url", "category"}


class SourceError(ValueError):
    pass


@dataclass
class Record:
    item: Item
    path: Path


@dataclass
class Report:
    indexed: int = 0
    skipped: int = 0
    cached: int = 0  # indexed from the feature cache (pipeline/cache.py), no model run
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    total: int = 0

    @property
    def rate(self) -> float:
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        lines = [f"{self.indexed} indexed, {self.skipped} already indexed, {len(self.failed)} failed "
                 f"of {self.total} ({self.seconds:.1f} s, {self.rate:.1f} images/s)"]
        lines += [f"  failed: {name}: {why}" for name, why in self.failed[:50]]
        if len(self.failed) > 50:
            lines.append(f"  … and {len(self.failed) - 50} more")
        return "\n".join(lines)


def _title(path: Path, category: str) -> str:
    stem = path.stem.replace("_", " ").replace("-", " ")
    return f"{category.title()} {stem[:8]}" if category and len(stem) > 24 else (stem or category)


def scan_folder(root: Path) -> Iterator[Record]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and imageio.is_image_path(p))
    for p in files:
        rel = p.relative_to(root)
        category = rel.parts[0] if len(rel.parts) > 1 else ""
        yield Record(Item(id=rel.as_posix(), image=str(p.resolve()), title=_title(p, category), category=category), p)


def scan_csv(path: Path) -> Iterator[Record]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "image" not in reader.fieldnames:
            raise SourceError(f"{path}: a catalogue CSV needs an 'image' column (found {reader.fieldnames})")
        seen: set[str] = set()
        for n, row in enumerate(reader, start=2):
            image = (row.get("image") or "").strip()
            if not image:
                continue
            p = Path(image) if Path(image).is_absolute() else (path.parent / image)
            iid = (row.get("id") or "").strip() or Path(image).as_posix()
            if iid in seen:
                raise SourceError(f"{path}:{n}: duplicate id {iid!r}")
            seen.add(iid)
            attrs = {k: v.strip() for k, v in row.items() if k and k not in RESERVED and v and v.strip()}
            category = (row.get("category") or "").strip()
            yield Record(Item(id=iid, image=str(p.resolve()), title=(row.get("title") or "").strip() or _title(p, category),
                              url=(row.get("url") or "").strip(), category=category, attributes=attrs), p)


def scan(source: str | Path) -> list[Record]:
    src = Path(source).expanduser()
    if not src.exists():
        raise SourceError(f"catalogue source {src} does not exist")
    if src.is_dir():
        records = list(scan_folder(src))
        if not records:
            raise SourceError(f"no images found under {src} (looked for {', '.join(sorted(imageio.IMAGE_SUFFIXES))})")
        return records
    if src.suffix.lower() == ".csv":
        records = list(scan_csv(src))
        if not records:
            raise SourceError(f"{src} lists no images")
        return records
    raise SourceError(f"{src}: expected a folder of images or a .csv catalogue")


def _load(rec: Record) -> tuple[Record, np.ndarray | None, str]:
    try:
        data = rec.path.read_bytes()
    except OSError as exc:
        return rec, None, f"cannot read file ({exc.strerror})"
    rec.item.content_hash = imageio.content_hash(data)
    try:
        return rec, imageio.decode(data, rec.path.name), ""
    except imageio.ImageError as exc:
        return rec, None, str(exc).split(": ", 1)[-1]


def merge_attributes(item: Item, predicted: dict) -> None:
    """Predicted attributes fill what the catalogue left empty; the catalogue's own values win.

    The names of the filled ones go to attributes["_predicted"], so labels and guesses stay apart.
    """
    predicted = {k: v for k, v in predicted.items() if not k.startswith("_")}
    category = predicted.pop("category", None)
    filled = sorted(k for k in predicted if k not in item.attributes)
    if category and not item.category:
        item.category = category
        filled.insert(0, "category")
    item.attributes = {**predicted, **item.attributes}
    if filled:
        item.attributes["_predicted"] = filled


def _batches(items: list[Record], size: int) -> Iterable[list[Record]]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


def ingest(engine: Engine, index: Index, source: str | Path, limit: int | None = None,
           progress: Callable[[int, int], None] | None = None) -> Report:
    """Index `source` into `index`; returns a Report. Safe to interrupt and re-run."""
    t0 = time.perf_counter()
    records = scan(source)[: limit or None]
    report = Report(total=len(records))
    known = index.hashes()
    present = index.ids() if hasattr(index, "ids") else set()
    bar = None
    if progress is None:
        from tqdm import tqdm

        bar = tqdm(total=len(records), unit="img", desc="ingest", file=sys.stderr, disable=None)
    done = 0
    settings = engine.settings
    cache = None
    if getattr(settings, "feature_cache", False):  # duck-typed engines (tests, tools) may lack the setting
        from .cache import FeatureCache, cached_features

        cache = FeatureCache.for_engine(engine)
    sketch = None
    if settings.sketch:  # edge-domain vectors for sketch search, in their own index (pipeline.sketch)
        from .sketch.build import SketchWriter

        sketch = SketchWriter(engine)
    with ThreadPoolExecutor(max_workers=settings.workers) as pool:
        for batch in _batches(records, settings.batch_size):
            loaded = list(pool.map(_load, batch))
            todo = []
            for rec, img, err in loaded:
                if err:
                    report.failed.append((rec.item.id, err))
                elif rec.item.content_hash in known and rec.item.id in present:
                    report.skipped += 1
                else:
                    todo.append((rec, img))
            if todo:
                try:
                    if cache is not None:
                        feats, hits = cached_features(engine, cache, [img for _, img in todo],
                                                      [rec.item.content_hash for rec, _ in todo], pool=pool)
                        report.cached += hits
                    else:
                        feats = engine.features_many([img for _, img in todo], pool=pool)
                except Exception as exc:  # a model failure on one batch: retry one by one
                    feats = []
                    for rec, img in todo:
                        try:
                            feats.extend(engine.features_many([img]))
                        except Exception as one:
                            report.failed.append((rec.item.id, f"{one.__class__.__name__}: {one}"))
                            feats.append(None)
                    if not any(feats):
                        raise RuntimeError(f"feature extraction failed for a whole batch: {exc}") from exc
                ok = [(rec, f) for (rec, _), f in zip(todo, feats) if f is not None]
                if ok:
                    for (rec, _), predicted in zip(ok, engine.describe([f for _, f in ok])):
                        merge_attributes(rec.item, predicted)
                    index.add([r.item for r, _ in ok], np.stack([f.shape for _, f in ok]),
                              np.stack([f.colour for _, f in ok]))
                    report.indexed += len(ok)
                    if sketch is not None:
                        by_id = {rec.item.id: img for rec, img in todo}
                        sketch.add([r.item for r, _ in ok], [by_id[r.item.id] for r, _ in ok])
                    known.update(r.item.content_hash for r, _ in ok)
            done += len(batch)
            if bar is not None:
                bar.update(len(batch))
            if progress is not None:
                progress(done, len(records))
    if bar is not None:
        bar.close()
    index.flush()
    if cache is not None:
        cache.close()
    if sketch is not None:
        sketch.close()
    report.seconds = time.perf_counter() - t0
    return report
