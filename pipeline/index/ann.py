"""Approximate candidate search for the local index: the registry of structures.

A structure takes the weighted query (built once by the snapshot), its two
parts and the weight, and returns a sorted shortlist of snapshot positions; the
snapshot rescores it exactly from the float32 rows.
- "ivf" (twin_ivf.py, the default): two inverted files, by shape and by colour,
  so every weight from colour-only to shape-only is served well.
- "hnsw" (hnsw.py): one graph over the combined vector.
"""
from __future__ import annotations

import json
from pathlib import Path

from .hnsw import GraphIndex
from .twin_ivf import TwinIVF

KINDS = {"ivf": TwinIVF, "hnsw": GraphIndex}


def load(folder: Path, threads: int = 2):
    kind = json.loads((folder / "ann.json").read_text())["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown ANN kind {kind!r} in {folder}; known: {sorted(KINDS)}")
    return KINDS[kind].load(folder, threads)
