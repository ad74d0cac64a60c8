"""Sketch → results: outline against the sketch index, paint against the colour vectors.

`analyse` reads the drawing and runs the models once (the shape embedder on
the line picture; the colouriser, if configured); `rank` is then index
lookups only, so the app's weight slider re-ranks instantly, as for photos.
A drawing with no paint searches by shape alone (w = 1): an all-zero colour
query would otherwise pull every item's score down by the same (1 − w)·0 and
hide nothing, but it would also make the score scale lie.

With a colouriser, the sketch is also turned into a photo-like image and
searched in the photo index with the same w; the two lists are fused by a
weighted mean of scores over their union (an item missing from one list gets
that list's lowest fetched score, a lower bound on its true score there).
The photo list gets a quarter of the weight: at half it costs hit@10, at a
quarter it adds a little (docs/sketch.md).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import Engine
from ..index import Filters, Index
from ..types import Hit, SearchResult
from . import canvas, features

DEPTH = 100  # candidates fetched per list before fusing


class SketchError(ValueError):
    """A clear, user-facing reason a drawing cannot be searched."""


@dataclass
class SketchQuery:
    drawing: canvas.Drawing
    picture: np.ndarray  # the line picture the embedder saw
    shape: np.ndarray
    colour: np.ndarray | None
    colourised: np.ndarray | None = None
    photo_shape: np.ndarray | None = None
    photo_colour: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def has_colour(self) -> bool:
        return self.colour is not None


class SketchSearch:
    def __init__(self, engine: Engine, index: Index | None = None, colouriser: Any = None,
                 photo_share: float = 0.25):
        self.engine = engine
        self.index = index if index is not None else features.open_sketch_index(engine)
        self.colouriser = colouriser
        self.photo_share = photo_share

    @classmethod
    def open(cls, engine: Engine, notices: list[str] | None = None) -> "SketchSearch":
        """The sketch index beside the engine's index, and the configured colouriser (a failure there is a notice)."""
        colouriser = None
        if engine.settings.colouriser:
            from .colourise import Colouriser

            try:
                colouriser = Colouriser.load(engine.settings.colouriser, threads=engine.settings.threads)
            except (OSError, KeyError, RuntimeError, ValueError) as exc:
                if notices is None:
                    raise
                notices.append(f"colouriser {engine.settings.colouriser}: {exc}; sketches are not colourised")
        return cls(engine, colouriser=colouriser)

    def analyse(self, value: Any) -> SketchQuery:
        t0 = time.perf_counter()
        drawing = canvas.read(value)
        if drawing is None or drawing.empty:
            raise SketchError("The canvas is empty: draw the garment's outline in black, then paint its colours.")
        if drawing.shape_lines().sum() < 16:
            raise SketchError("Too little to go on: draw the garment's outline (black pen) or paint its shape.")
        picture = features.query_picture(drawing)
        t1 = time.perf_counter()
        shape = features.embed_pictures(self.engine, [picture])[0]
        t2 = time.perf_counter()
        colour = features.colour_vector(self.engine, drawing)
        timings = {"read": t1 - t0, "embed": t2 - t1, "colour": time.perf_counter() - t2}
        q = SketchQuery(drawing, picture, shape, colour, timings=timings)
        if self.colouriser is not None:
            t = time.perf_counter()
            q.colourised, mask = self.colouriser.colourise(drawing)
            timings["colourise"] = time.perf_counter() - t
            t = time.perf_counter()
            q.photo_shape = self.engine.embedder.embed([q.colourised])[0]
            q.photo_colour = self.engine.colour.histogram(q.colourised, mask)
            timings["photo features"] = time.perf_counter() - t
        return q

    def rank(self, q: SketchQuery, weight: float | None = None, top_k: int | None = None,
             filters: Filters | None = None) -> SearchResult:
        s = self.engine.settings
        weight = s.weight if weight is None else float(np.clip(weight, 0.0, 1.0))
        top_k = s.top_k if top_k is None else int(top_k)
        w = weight if q.has_colour else 1.0
        colour = q.colour if q.has_colour else np.zeros(self.index.colour_dim, np.float32)
        t = time.perf_counter()
        fused = q.colourised is not None and self.engine.index is not None
        depth = max(top_k, DEPTH) if fused else top_k
        hits = self.index.search(q.shape, colour, w, depth, filters)
        timings = dict(q.timings, search=time.perf_counter() - t)
        if fused:
            t = time.perf_counter()
            photo = self.engine.index.search(q.photo_shape, q.photo_colour, weight, depth, filters)
            hits = fuse(hits, photo, self.photo_share)[:top_k]
            timings["search photo + fuse"] = time.perf_counter() - t
        return SearchResult(hits[:top_k], timings, w, None)

    def search(self, value: Any, weight: float | None = None, top_k: int | None = None,
               filters: Filters | None = None) -> SearchResult:
        return self.rank(self.analyse(value), weight, top_k, filters)


def fuse(sketch: list[Hit], photo: list[Hit], photo_share: float = 0.5) -> list[Hit]:
    """(1 − share)·sketch + share·photo score over the two lists' union; the breakdown keeps both."""
    floor_s = min((h.score for h in sketch), default=0.0)
    floor_p = min((h.score for h in photo), default=0.0)
    by_s, by_p = {h.item.id: h for h in sketch}, {h.item.id: h for h in photo}
    merged = []
    for iid in list(by_s) + [i for i in by_p if i not in by_s]:
        hs, hp = by_s.get(iid), by_p.get(iid)
        a = hs.score if hs else floor_s
        b = hp.score if hp else floor_p
        base = hs or hp
        merged.append(Hit(base.item, (1 - photo_share) * a + photo_share * b, base.shape, base.colour, 0,
                          {"sketch_score": round(a, 6), "photo_score": round(b, 6)}))
    merged.sort(key=lambda h: -h.score)
    for i, h in enumerate(merged):
        h.rank = i + 1
    return merged
