"""Example sketches for the app: clean pseudo-sketches of a few catalogue items.

Drawn like the benchmark's queries but tidier (no dropped lines, light
wobble), one item per category in turn, so the examples show the range of
what can be drawn. Each PNG is black outline + colour paint on white, the
way a person would draw on the canvas; a manifest records which catalogue
item each came from.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import pseudo
from .features import item_edges

MANIFEST = "sketches.json"
# A silhouette and generous paint read as a person's drawing; edge-map seams on a photo rarely do.
TIDY = pseudo.Style(interior=False, wobble=0.004, scribbles=(7, 11), hue_noise=4.0, affine=False)


def _tidy(mask: np.ndarray) -> bool:
    """A clean garment mask (solid, a fair part of the crop): its outline makes a convincing drawing."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours or mask.mean() < 0.2:
        return False
    c = max(contours, key=cv2.contourArea)
    return cv2.contourArea(c) / max(cv2.contourArea(cv2.convexHull(c)), 1.0) > 0.8


def write_examples(engine, detector, source, out: Path, n: int = 4, seed: int = 3) -> list[tuple[Path, str]]:
    from PIL import Image

    from ..ingest import scan

    rng = np.random.default_rng(seed)
    by_cat: dict[str, list] = {}
    for r in scan(source):
        by_cat.setdefault(r.item.category, []).append(r)
    cats = sorted(by_cat)
    rng.shuffle(cats)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, entries = [], []
    for i, cat in enumerate(cats[:n]):
        for _ in range(8):  # a few tries for an item whose mask is clean
            rec = by_cat[cat][int(rng.integers(len(by_cat[cat])))]
            e = item_edges(engine, detector, rec.path)
            if _tidy(e.mask):
                break
        sketch = pseudo.draw(e.crop, e.mask, e.strength, np.random.default_rng([seed, i]), TIDY)
        name = f"sketch_{i + 1:02d}_{cat or 'item'}.png"
        Image.fromarray(sketch).save(out / name, optimize=True)
        label = f"a {cat or 'garment'} ({rec.item.title or rec.item.id})"[:60]
        entries.append({"file": name, "label": label, "source_id": rec.item.id, "edges": detector.name})
        written.append((out / name, label))
    (out / MANIFEST).write_text(json.dumps({"examples": entries}, indent=2))
    return written


def load(folder: Path) -> list[tuple[Path, str]]:
    """(path, label) of the example sketches in `folder` that exist."""
    try:
        meta = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return []
    return [(Path(folder) / e["file"], e["label"]) for e in meta.get("examples", [])
            if (Path(folder) / e["file"]).is_file()]
