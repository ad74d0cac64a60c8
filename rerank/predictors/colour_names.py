"""Colour names: the garment's Lab histogram against a named palette.

The stored histogram (pipeline/colour/lab.py) is sqrt(p), unit norm, so its
squared entries are the bin masses; each bin votes with its mass for the
palette colour nearest its centre, and the winner's share is the confidence:
a two-colour stripe gets a low one and stays unnamed unless one colour
dominates. Decoding the vector rather than re-reading pixels keeps the query
and the catalogue on one code path. Measured on 480 generated products
(docs/attributes.md): 89.6% right from the histogram, 89.8% from a vote over
the garment pixels; the errors are checked/striped items whose two colours
split the vote, which the confidence threshold filters. `from_pixels` stays
for callers that have pixels and no histogram.
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from pipeline.colour.lab import A_BINS, AB_RANGE, B_BINS, L_BINS

from pipeline.types import Features

from . import Prediction, register

MAX_SIDE = 128  # a colour vote needs a few thousand pixels, not a quarter of a million


def float_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (...×3) → CIE L*a*b* float32 (L in 0..100)."""
    arr = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(arr, cv2.COLOR_RGB2Lab).reshape(np.shape(rgb))


def _bin_centres() -> np.ndarray:
    """Lab centre of every lab-hist bin, in the histogram's ravel order."""
    width_l = 256 / L_BINS
    width_ab = (AB_RANGE[1] - AB_RANGE[0]) / A_BINS
    L = (np.arange(L_BINS) + 0.5) * width_l * 100 / 255
    a = AB_RANGE[0] + (np.arange(A_BINS) + 0.5) * width_ab - 128
    b = AB_RANGE[0] + (np.arange(B_BINS) + 0.5) * width_ab - 128
    return np.stack(np.meshgrid(L, a, b, indexing="ij"), -1).reshape(-1, 3).astype(np.float32)


class ColourNames:
    name = "colour-names"
    attributes = ("colour",)

    def __init__(self, palette: dict[str, Sequence[int]], histogram_dim: int | None = L_BINS * A_BINS * B_BINS):
        self.names = list(palette)
        self.anchors = float_lab(np.asarray([palette[n] for n in self.names], np.uint8))
        # Lightness differences matter less to a colour name than hue ones (a shaded red is still red).
        self.scale = np.array([0.5, 1.0, 1.0], np.float32)
        self.centres = _bin_centres() if histogram_dim == L_BINS * A_BINS * B_BINS else None

    def _votes(self, lab: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        d = (((lab[:, None, :] - self.anchors[None]) * self.scale) ** 2).sum(-1)
        return np.bincount(d.argmin(1), weights=weights, minlength=len(self.names))

    def from_pixels(self, image: np.ndarray, mask: np.ndarray | None) -> Prediction | None:
        h, w = image.shape[:2]
        scale = min(1.0, MAX_SIDE / max(h, w))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            mask = None if mask is None else cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        pixels = image.reshape(-1, 3) if mask is None or mask.sum() < 16 else image[mask]
        if not len(pixels):
            return None
        return self._winner(self._votes(float_lab(pixels)))

    def from_histogram(self, hist: np.ndarray) -> Prediction | None:
        if self.centres is None or len(hist) != len(self.centres):
            return None
        mass = np.square(np.asarray(hist, np.float64))  # the histogram is sqrt(p), unit norm: squares sum to 1
        return self._winner(self._votes(self.centres, mass))

    def _winner(self, votes: np.ndarray) -> Prediction | None:
        total = float(votes.sum())
        if total <= 0:
            return None
        i = int(votes.argmax())
        return Prediction(self.names[i], float(votes[i]) / total)

    def predict(self, features: Sequence[Features]) -> list[dict[str, Prediction]]:
        out = []
        for f in features:
            pred = self.from_histogram(f.colour)
            out.append({"colour": pred} if pred else {})
        return out


@register("colour-names")
def _make(arg: str | None = None, engine: Any = None, vocab: Any = None) -> ColourNames:
    palette = vocab["colour"].extra.get("palette") if vocab is not None and "colour" in vocab else None
    if not palette:
        raise ValueError("colour-names needs a 'palette' under 'colour' in the attribute vocabulary")
    if engine is not None and engine.settings.colour != "lab-hist":
        raise ValueError(f"colour-names decodes the 'lab-hist' colour histogram; this engine uses {engine.settings.colour!r}")
    return ColourNames(palette, L_BINS * A_BINS * B_BINS)
