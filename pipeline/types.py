"""Typed stage outputs and stage Protocols.

Conventions: images are RGB uint8 H×W×3 numpy arrays, masks are bool H×W,
vectors are float32 and L2-normalised. Every stage result carries `seconds`
so the UI and the benchmarks can show where time goes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .labels import GARMENTS, INDEX, LABELS, OCCLUDERS, PALETTE

Image = np.ndarray  # RGB uint8 H×W×3
Mask = np.ndarray  # bool H×W


# --- stage outputs -----------------------------------------------------------

@dataclass
class Garment:
    """One garment the parser found: its visible pixels and a label."""

    label: str  # canonical label (pipeline.labels), e.g. "dress" or "garment"
    mask: Mask
    score: float = 1.0

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass
class Parsing:
    """Human parsing + garment regions, from one pass of a parser."""

    label_map: np.ndarray  # int16 H×W, ids into LABELS
    garments: list[Garment]  # largest first
    seconds: float = 0.0
    backend: str = ""
    notes: list[str] = field(default_factory=list)

    def mask_of(self, names: frozenset[str] | set[str]) -> Mask:
        ids = [INDEX[n] for n in names]
        return np.isin(self.label_map, ids)

    @property
    def occluders(self) -> Mask:
        return self.mask_of(OCCLUDERS)

    @property
    def garment_pixels(self) -> Mask:
        return self.mask_of(GARMENTS)

    def render(self) -> Image:
        palette = np.asarray(PALETTE, dtype=np.uint8)
        return palette[np.clip(self.label_map, 0, len(LABELS) - 1)]


@dataclass
class Region:
    """Shape-based product region and the occluder (noise) mask inside it."""

    product: Mask  # the garment's full extent, occluded pixels included
    occluder: Mask  # product ∩ occluding parts: what gets removed and restored
    garment_label: str
    seconds: float = 0.0

    @property
    def occluded_fraction(self) -> float:
        area = int(self.product.sum())
        return float(self.occluder.sum()) / area if area else 0.0


@dataclass
class Restoration:
    removed: Image  # the occluder pixels blanked out (for display)
    restored: Image
    backend: str
    seconds: float = 0.0


@dataclass
class Features:
    shape: np.ndarray  # float32 (D_s,), unit norm
    colour: np.ndarray  # float32 (D_c,), unit norm
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Analysis:
    """Everything the pipeline computed for one image, for display and reuse.

    The search handlers cache this so moving a slider re-ranks without
    re-running any model.
    """

    image: Image
    parsing: Parsing
    region: Region
    restoration: Restoration
    features: Features
    crop: Image  # what the shape embedder saw
    timings: dict[str, float] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.timings.values()))


@dataclass
class Item:
    """A catalogue item as stored in an index."""

    id: str
    image: str  # path or URL of the image
    title: str = ""
    url: str = ""
    category: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""


@dataclass
class Hit:
    """One search result with its score breakdown."""

    item: Item
    score: float  # w·shape + (1−w)·colour (before any rerank)
    shape: float  # cosine of shape vectors
    colour: float  # cosine of colour vectors
    rank: int  # 1-based, in the similarity order
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. rerank terms

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id, "image": self.item.image, "title": self.item.title,
            "url": self.item.url, "category": self.item.category,
            "score": round(self.score, 6), "shape": round(self.shape, 6),
            "colour": round(self.colour, 6), "rank": self.rank,
            "attributes": self.item.attributes, **self.extra,
        }


@dataclass
class SearchResult:
    hits: list[Hit]
    timings: dict[str, float]
    weight: float
    analysis: Analysis | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [h.to_dict() for h in self.hits],
            "timings": {k: round(v * 1000, 3) for k, v in self.timings.items()},
            "timings_unit": "ms",
            "weight": self.weight,
        }


# --- stage protocols -----------------------------------------------------------

@runtime_checkable
class Parser(Protocol):
    name: str

    def parse(self, image: Image) -> Parsing: ...


@runtime_checkable
class Inpainter(Protocol):
    name: str

    def inpaint(self, image: Image, mask: Mask) -> Image: ...


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, images: list[Image]) -> np.ndarray: ...  # N×dim, unit rows


@runtime_checkable
class ColourFeaturizer(Protocol):
    name: str
    dim: int

    def histogram(self, image: Image, mask: Mask | None) -> np.ndarray: ...
