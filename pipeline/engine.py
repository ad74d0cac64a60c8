"""The pipeline: photo → parse → region → remove/restore → features → index search.

`Engine.analyse` runs the models once and returns an `Analysis` with every
intermediate and its timing; `Engine.rank` turns a cached analysis into
results for any weight, top-k or filter without touching a model, which is
what makes the app's sliders instant.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import cv2
import numpy as np

from . import imageio, profiles
from .colour import COLOURS
from .config import Settings
from .embed import EMBEDDERS
from .index import Filters, Index
from .parse import PARSERS
from .region import product_region
from .restore import INPAINTERS
from .types import Analysis, Features, Parsing, Region, Restoration, SearchResult

FILL = 255  # product shots sit on white; so does the background we mask away
EMBED_CHUNK = 8  # ingest embeds crops 8 at a time, overlapped with parsing (features_many)


def garment_crop(image: np.ndarray, mask: np.ndarray, mask_background: bool, margin: float = 0.04) -> np.ndarray:
    """The garment's bounding box, background whitened, padded to a square."""
    h, w = mask.shape
    m8 = mask.astype(np.uint8)
    if cv2.countNonZero(m8) < 0.002 * h * w:  # nothing credible found: embed the whole photo
        m8 = np.ones_like(m8)
    x, y, bw, bh = cv2.boundingRect(m8)
    pad = int(margin * max(h, w))
    y0, y1 = max(0, y - pad), min(h, y + bh + pad)
    x0, x1 = max(0, x - pad), min(w, x + bw + pad)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    if mask_background:
        # A feathered edge: a hard cut-out puts a fake contour into the CNN's view.
        soft = cv2.GaussianBlur(m8[y0:y1, x0:x1].astype(np.float32), (0, 0), 1.5)
        crop = cv2.blendLinear(crop, np.full_like(crop, FILL), soft, 1.0 - soft)
    ch, cw = crop.shape[:2]
    side = max(ch, cw)
    oy, ox = (side - ch) // 2, (side - cw) // 2
    return cv2.copyMakeBorder(crop, oy, side - ch - oy, ox, side - cw - ox, cv2.BORDER_CONSTANT, value=(FILL,) * 3)


def removed_view(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with occluder pixels blanked to a checkerboard, for display."""
    if not mask.any():
        return image
    out = image.copy()
    yy, xx = np.indices(mask.shape)
    checker = np.where(((yy // 8 + xx // 8) % 2)[..., None] == 0, 200, 150).astype(np.uint8)
    out[mask] = np.repeat(checker, 3, axis=2)[mask]
    return out


class Engine:
    def __init__(self, settings: Settings, index: Index | None = None):
        settings = profiles.resolve(settings)  # the profile fills the stages the user did not set
        self.settings = settings
        self.notices: list[str] = []  # visible fallbacks (a hub model that could not be had), for the app/CLI
        self.index = index
        cv2.setNumThreads(settings.threads)
        PARSERS.check(settings.parser)
        INPAINTERS.check(settings.inpainter)
        EMBEDDERS.check(settings.embedder)
        COLOURS.check(settings.colour)
        self._lock = threading.Lock()
        self._backends: dict[str, Any] = {}

    # Backends build on first use, so `info` and `--help` never load a model.
    def _get(self, key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._backends:
                self._backends[key] = make()
            return self._backends[key]

    @property
    def parser(self):
        return self._get("parser", lambda: profiles.build(self, "parser"))

    @property
    def inpainter(self):
        return self._get("inpainter", lambda: profiles.build(self, "inpainter"))

    @property
    def embedder(self):
        return self._get("embedder", lambda: profiles.build(self, "embedder"))

    @property
    def colour(self):
        return self._get("colour", lambda: COLOURS.create(self.settings.colour))

    @property
    def attributer(self):
        """The attribute predictors (rerank.predictors, Settings.attributes), or None for "none"."""
        if "attributer" not in self._backends:
            from rerank.predictors import build

            made = build(self.settings.attributes, self)  # outside the lock: it may build the embedder
            with self._lock:
                self._backends.setdefault("attributer", made)
        return self._backends["attributer"]

    def describe(self, features: list[Features]) -> list[dict[str, Any]]:
        """Confidently predicted attributes per item, e.g. {"category": "dress", "colour": "red", "_confidence": {...}}."""
        attributer = self.attributer
        return attributer.describe(features) if attributer is not None else [{} for _ in features]

    def signature(self) -> dict[str, Any]:
        """What an index must have been built with to be searchable by this engine."""
        self.embedder  # built first: a fallback changes settings.embedder
        return {"embedder": self.settings.embedder, "colour": self.settings.colour,
                "shape_dim": self.embedder.dim, "colour_dim": self.colour.dim}

    # -- analysis ------------------------------------------------------------------
    def prepare(self, image: Any) -> tuple[np.ndarray, dict[str, float]]:
        t0 = time.perf_counter()
        rgb = imageio.load_image(image)
        t1 = time.perf_counter()
        rgb = imageio.fit(rgb, self.settings.max_side)
        return rgb, {"decode": t1 - t0, "resize": time.perf_counter() - t1}

    def _regions(self, rgb: np.ndarray, restore: bool, garment: int, timings: dict[str, float],
                 parsing: Parsing | None = None, region: Region | None = None, inpainter: Any = None):
        # parsing/region/inpainter overrides let ablations parse once and vary the rest.
        t = time.perf_counter()
        parsing = parsing if parsing is not None else self.parser.parse(rgb)
        timings["parse"] = time.perf_counter() - t
        region = region if region is not None else product_region(parsing, garment)
        timings["region"] = region.seconds
        t = time.perf_counter()
        inpainter = inpainter or self.inpainter
        if restore:
            restored = inpainter.inpaint(rgb, region.occluder)
            backend = inpainter.name
        else:
            restored, backend = rgb, "off"
        timings["restore"] = time.perf_counter() - t
        restoration = Restoration(removed_view(rgb, region.occluder), restored, backend, timings["restore"])
        # Restored pixels count as garment; removed-only ones (backend "none") do not.
        # Without restoration the occluder stays part of the garment's pixels, as it would
        # in a pipeline that never looked for it: that is the baseline the patent beats.
        colour_mask = region.product & ~region.occluder if backend == "none" else region.product
        t = time.perf_counter()
        crop = garment_crop(restored, region.product, self.settings.mask_background)
        timings["crop"] = time.perf_counter() - t
        return parsing, region, restoration, crop, colour_mask

    def analyse(self, image: Any, restore: bool | None = None, garment: int = 0, parsing: Parsing | None = None,
                region: Region | None = None, inpainter: Any = None) -> Analysis:
        """Run the pipeline on one image; `parsing`, `region`, `inpainter` override those stages."""
        restore = self.settings.restore if restore is None else restore
        rgb, timings = self.prepare(image)
        parsing, region, restoration, crop, colour_mask = self._regions(
            rgb, restore, garment, timings, parsing, region, inpainter)
        t = time.perf_counter()
        shape = self.embedder.embed([crop])[0]
        timings["embed"] = time.perf_counter() - t
        t = time.perf_counter()
        colour = self.colour.histogram(restoration.restored, colour_mask)
        timings["colour"] = time.perf_counter() - t
        feats = Features(shape, colour, {"embed": timings["embed"], "colour": timings["colour"]})
        t = time.perf_counter()
        attributes = self.describe([feats])[0]
        timings["attributes"] = time.perf_counter() - t
        return Analysis(rgb, parsing, region, restoration, feats, crop, timings, attributes)

    def features_many(self, images: list[np.ndarray], restore: bool | None = None, pool=None) -> list[Features]:
        """Batched features for ingest: regions per image (in `pool` if given), one CNN batch."""
        restore = self.settings.restore if restore is None else restore

        def one(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rgb = imageio.fit(imageio.as_rgb(img), self.settings.max_side)
            _, _, restoration, crop, colour_mask = self._regions(rgb, restore, 0, {})
            return crop, self.colour.histogram(restoration.restored, colour_mask)

        if pool is None or len(images) <= EMBED_CHUNK:
            done = list(pool.map(one, images)) if pool is not None else [one(im) for im in images]
            shapes = self.embedder.embed([c for c, _ in done])
            return [Features(s, h) for s, (_, h) in zip(shapes, done)]
        # Overlap the CNN with the per-image stages: each chunk of finished crops is embedded on its own thread
        # while the pool parses the next images, so neither core idles at the batch's CNN step or its stragglers.
        futures = [pool.submit(one, im) for im in images]
        done, embedded = [], []
        with ThreadPoolExecutor(max_workers=1) as cnn:
            for start in range(0, len(futures), EMBED_CHUNK):
                chunk = [f.result() for f in futures[start: start + EMBED_CHUNK]]
                done.extend(chunk)
                embedded.append(cnn.submit(self.embedder.embed, [c for c, _ in chunk]))
            shapes = np.concatenate([e.result() for e in embedded])
        return [Features(s, h) for s, (_, h) in zip(shapes, done)]

    # -- search --------------------------------------------------------------------
    def rank(self, analysis: Analysis, weight: float | None = None, top_k: int | None = None,
             filters: Filters | None = None, alpha: float | None = None, beta: float | None = None) -> SearchResult:
        """Top-k for the analysis; with α or β > 0, the top rerank_depth reranked by β·overlap − α·rank.

        alpha/beta default to Settings.alpha/beta; filters restrict candidates inside the index.
        """
        if self.index is None:
            raise RuntimeError("this engine has no index to search")
        weight = self.settings.weight if weight is None else float(weight)
        top_k = self.settings.top_k if top_k is None else int(top_k)
        alpha = self.settings.alpha if alpha is None else float(alpha)
        beta = self.settings.beta if beta is None else float(beta)
        reranking = alpha > 0 or beta > 0
        depth = max(top_k, self.settings.rerank_depth) if reranking else top_k
        t = time.perf_counter()
        hits = self.index.search(analysis.features.shape, analysis.features.colour, weight, depth, filters)
        timings = dict(analysis.timings, search=time.perf_counter() - t)
        if reranking:
            import rerank

            t = time.perf_counter()
            hits = rerank.apply(self, analysis, hits, alpha, beta, top_k=top_k)
            timings["rerank"] = time.perf_counter() - t
        return SearchResult(hits, timings, weight, analysis)

    def search(self, image: Any, weight: float | None = None, top_k: int | None = None,
               restore: bool | None = None, filters: Filters | None = None,
               alpha: float | None = None, beta: float | None = None) -> SearchResult:
        return self.rank(self.analyse(image, restore), weight, top_k, filters, alpha, beta)

    # -- text (FashionCLIP-style embedders: one space for images and text) ------------
    def text_features(self, text: str) -> np.ndarray:
        """The text's unit vector in the shape space; only embedders with a text tower have one."""
        embed_text = getattr(self.embedder, "embed_text", None)
        if embed_text is None:
            raise ValueError(f"embedder {self.settings.embedder!r} has no text tower: text search needs "
                             "embedder = 'fashion-clip' (profile 'online') and an index built with it")
        return embed_text([text])[0]

    def with_text(self, analysis: Analysis, text: str, text_weight: float = 0.5) -> Analysis:
        """A copy whose shape vector is normalise((1−t)·image + t·text); colour stays the image's.

        The app keeps the image's analysis and re-blends when the text or its weight changes: no model re-runs.
        """
        t = float(np.clip(text_weight, 0.0, 1.0))
        start = time.perf_counter()
        mixed = (1.0 - t) * analysis.features.shape + t * self.text_features(text)
        mixed = (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)
        timings = dict(analysis.timings, text=time.perf_counter() - start)
        return dataclasses.replace(analysis, features=dataclasses.replace(analysis.features, shape=mixed),
                                   timings=timings)

    def search_text(self, text: str, image: Any = None, text_weight: float = 0.5, weight: float | None = None,
                    top_k: int | None = None, restore: bool | None = None, filters: Filters | None = None,
                    garment: int = 0) -> SearchResult:
        """Search by text, or by image + text (see `with_text`).

        Text alone has no colour vector, so it searches with weight 1: shape only.
        """
        if image is not None:
            analysis = self.with_text(self.analyse(image, restore, garment), text, text_weight)
            return self.rank(analysis, weight, top_k, filters)
        if self.index is None:
            raise RuntimeError("this engine has no index to search")
        start = time.perf_counter()
        query = self.text_features(text)
        timings = {"text": time.perf_counter() - start}
        start = time.perf_counter()
        k = self.settings.top_k if top_k is None else int(top_k)
        hits = self.index.search(query, np.zeros(self.colour.dim, np.float32), 1.0, k, filters)
        return SearchResult(hits, dict(timings, search=time.perf_counter() - start), 1.0, None)
