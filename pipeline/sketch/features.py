"""Edge-domain vectors: a catalogue photo's edge map and a drawing, embedded the same way.

Both sides become the normal-form line picture of `strokes.render` and go
through the engine's own shape embedder, so the sketch index has the same
dimensions (and the same colour vectors) as the photo index. The sketch index
is a second index of the configured backend holding (edge shape, colour) per
item under the same ids: `<index_dir>/sketch` (local) or `<es_index>-sketch`
(Elasticsearch). The weighted maths and every index backend stay unchanged.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..engine import Engine, garment_crop
from ..index import INDEXES, Index, IndexError_
from ..types import Analysis
from . import strokes
from .canvas import Drawing

VERSION = 1  # bump when the normal form changes: old sketch vectors then no longer match queries


def sketch_index_location(settings) -> dict[str, Any]:
    return {"path": Path(settings.index_dir) / "sketch", "es_index": f"{settings.es_index}-sketch"}


def sketch_signature(engine: Engine, edges: str | None = None) -> dict[str, Any]:
    sig = dict(engine.signature(), sketch_version=VERSION)
    if edges:
        sig["edges"] = edges
    return sig


def open_sketch_index(engine: Engine, create: bool = False, edges: str | None = None) -> Index:
    """The sketch index beside the engine's photo index; `edges` is checked only when given (writers)."""
    s = engine.settings
    sig = sketch_signature(engine, edges)
    try:
        return INDEXES.create(s.backend, create=create, ann=s.ann, ann_threshold=s.ann_threshold, signature=sig,
                              threads=s.threads, shape_dim=sig["shape_dim"], colour_dim=sig["colour_dim"],
                              **sketch_index_location(s))
    except IndexError_ as exc:
        if create and "edges:" in str(exc):
            where = sketch_index_location(s)["path" if s.backend == "local" else "es_index"]
            raise IndexError_(f"{str(exc).split(';')[0]}; keep one edge backend per sketch index (--edges), or "
                              f"remove {where} to rebuild it with another") from None
        if create or "does not exist" not in str(exc):
            raise
        raise IndexError_(f"no sketch vectors for this index yet; add them with: python -m pipeline.sketch index "
                          f"--index {s.index_dir} (or ingest with sketch = true)") from None


def crop_mask(analysis: Analysis, mask_background: bool = True) -> np.ndarray:
    """The product mask framed exactly like `analysis.crop` (same box, same square padding)."""
    inverse = np.repeat(np.where(analysis.region.product, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    framed = garment_crop(inverse, analysis.region.product, mask_background)
    return framed[..., 0] < 128


@dataclass
class ItemEdges:
    """What the sketch side keeps of one catalogue photo (also the raw material of pseudo-sketches)."""

    crop: np.ndarray  # RGB, the garment on white, square
    mask: np.ndarray  # bool, garment pixels in the crop
    strength: np.ndarray  # float32 edge strength of the crop
    colour: np.ndarray  # the photo index's colour vector
    shape: np.ndarray  # the photo index's shape vector (what a colourised sketch is compared with)
    seconds: dict[str, float] = field(default_factory=dict)


def item_edges(engine: Engine, detector, image: Any, side: int = 256) -> ItemEdges:
    t0 = time.perf_counter()
    analysis = engine.analyse(image)
    t1 = time.perf_counter()
    crop, mask = analysis.crop, crop_mask(analysis, engine.settings.mask_background)
    if crop.shape[0] > side:  # edges of a 512-px crop carry no more outline than 256 px, at 4x the HED cost
        crop = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST) > 0
    strength = detector.detect(crop)
    t2 = time.perf_counter()
    return ItemEdges(crop, mask, strength, analysis.features.colour, analysis.features.shape,
                     {"analyse": t1 - t0, "edges": t2 - t1})


def cached_item_edges(engine: Engine, detector, path: Path, cache: Path | None) -> ItemEdges:
    """`item_edges` of an image file, kept in `cache` (keyed by its bytes and the edge backend)."""
    if cache is None:
        return item_edges(engine, detector, path)
    from .. import imageio

    data = Path(path).read_bytes()
    file = Path(cache) / detector.name / f"{imageio.content_hash(data)}.npz"
    if file.exists():
        try:
            z = np.load(file)
            return ItemEdges(z["crop"], z["mask"], z["strength"].astype(np.float32), z["colour"], z["shape"],
                             {"analyse": float(z["t_analyse"]), "edges": float(z["t_edges"])})
        except (OSError, ValueError, KeyError):
            pass  # a half-written file from a killed run: compute it again
    e = item_edges(engine, detector, imageio.decode(data, Path(path).name))
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, crop=e.crop, mask=e.mask, strength=e.strength.astype(np.float16), colour=e.colour,
                        shape=e.shape, t_analyse=e.seconds["analyse"], t_edges=e.seconds["edges"])
    tmp.replace(file)
    return e


def catalogue_lines(e: ItemEdges) -> np.ndarray:
    """Confident edges on or near the garment: the crop's white border can still catch a shadow."""
    near = cv2.dilate(e.mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0 if e.mask.any() else True
    return strokes.edge_lines(e.strength) & near


def catalogue_picture(e: ItemEdges) -> np.ndarray:
    return strokes.render(catalogue_lines(e))


def embed_pictures(engine: Engine, pictures: list[np.ndarray]) -> np.ndarray:
    return engine.embedder.embed(pictures)


def colour_vector(engine: Engine, drawing: Drawing) -> np.ndarray | None:
    if not drawing.has_colour:
        return None
    return engine.colour.histogram(drawing.colour_pixels(), None)


def query_picture(drawing: Drawing) -> np.ndarray:
    lines = drawing.shape_lines()
    frame = lines | drawing.colour if lines.any() else drawing.colour
    return strokes.render(lines, frame=frame)
