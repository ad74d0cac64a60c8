"""The offline default catalogue: generated product shots plus a catalogue CSV.

Used by the app on first start, so it must be fast (a few ms per image) and
need nothing but numpy and OpenCV. Every item has its own Generator seeded
from (seed, index), so the images are byte-identical for a seed and any
single item can be re-rendered alone; only the spec draw is sequential,
because it avoids repeating a spec already in the catalogue.
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .photo import render_product
from .spec import CATEGORIES, COLOURS, PATTERNS, ProductSpec, random_spec, spec_key

__all__ = ["generate_catalogue", "render_product", "random_spec", "catalogue_specs", "ProductSpec",
           "CATEGORIES", "COLOURS", "PATTERNS", "COLUMNS"]

COLUMNS = ("id", "image", "title", "url", "category", "colour", "pattern", "sleeve", "length", "neckline")
JPEG_QUALITY = 92


def catalogue_specs(n_items: int, seed: int = 0) -> list[ProductSpec]:
    """n specs with categories balanced and repeats avoided where possible.

    First choice is a spec whose visible attributes (colour, pattern, cut) are
    new to the catalogue; failing that, one that at least differs in its second
    colour or style; only then a repeat.
    """
    rng = np.random.default_rng([seed, 0x5EC])
    cats = np.resize(np.arange(len(CATEGORIES)), n_items)
    rng.shuffle(cats)
    seen_visible: set[tuple] = set()
    seen: set[tuple] = set()
    specs = []
    for c in cats:
        fallback = None
        for _ in range(16):
            spec = random_spec(rng, CATEGORIES[int(c)])
            key = spec_key(spec)
            if key[:6] + key[7:] not in seen_visible:
                break
            if fallback is None and key not in seen:
                fallback = spec
        else:
            spec = fallback or spec
        key = spec_key(spec)
        seen.add(key)
        seen_visible.add(key[:6] + key[7:])
        specs.append(spec)
    return specs


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def generate_catalogue(out_dir, n_items: int = 600, seed: int = 0, size=(384, 512),
                       progress: Callable[[int, int], None] | None = None) -> Path:
    """Render n_items product shots into out_dir/images/<category>/<id>.jpg and write out_dir/catalogue.csv.

    size is (width, height). Returns the CSV path. The CSV is written last via
    a temp file, so its presence means the catalogue is complete; re-running
    after an interruption simply rewrites everything.
    """
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob(".catalogue.csv.*.tmp"), *out.glob("images/*/.*.tmp")]:  # a killed run's leftovers
        stale.unlink(missing_ok=True)
    specs = catalogue_specs(n_items, seed)
    bar = None
    if progress is None and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=n_items, desc="rendering catalogue", unit="img", file=sys.stderr)
    rows = []
    width = max(4, len(str(n_items - 1)))
    try:
        for i, spec in enumerate(specs):
            item_id = f"{i:0{width}d}"
            rel = Path("images") / spec.category / f"{item_id}.jpg"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            img, _ = render_product(spec, np.random.default_rng([seed, i]), size)
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for item {item_id}")
            _write_atomic(out / rel, buf.tobytes())
            rows.append({"id": item_id, "image": rel.as_posix(), "title": spec.title, "url": "",
                         "category": spec.category, "colour": spec.colour, "pattern": spec.pattern,
                         "sleeve": spec.sleeve, "length": spec.length, "neckline": spec.neckline})
            if progress is not None:
                progress(i + 1, n_items)
            elif bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    csv_path = out / "catalogue.csv"
    tmp = csv_path.with_name(f".catalogue.csv.{os.getpid()}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, csv_path)
    return csv_path
