"""HNSW over the combined vector [s, c] (mode "hnsw").

One graph is tuned to one direction of the query, but q_w = [w·q_s, (1−w)·q_c]
swings from colour-only (w=0) to shape-only (w=1), so its recall sags at the
ends; twin_ivf.py is the default. Kept for catalogues searched at one weight.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from .kernels import faiss_module, selector

HNSW_M, EF_CONSTRUCTION = 32, 80


class GraphIndex:
    """HNSW over the combined vector; labels are insertion order, so appends keep them equal to positions."""
    kind = "hnsw"

    def __init__(self, index):
        self.index = index
        self._lock = threading.Lock()

    @classmethod
    def train(cls, shape: np.ndarray, colour: np.ndarray, expected: int, threads: int = 2) -> "GraphIndex":
        faiss = faiss_module(threads)
        index = faiss.IndexHNSWFlat(shape.shape[1] + colour.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        return cls(index)

    @classmethod
    def build(cls, matrix: np.ndarray, n: int, shape_dim: int, threads: int = 2, bar=None) -> "GraphIndex":
        graph = cls.train(matrix[:1, :shape_dim], matrix[:1, shape_dim:], n, threads)
        for i in range(0, n, 16_384):
            x = np.asarray(matrix[i: i + 16_384])
            graph.add(x[:, :shape_dim], x[:, shape_dim:], np.arange(i, i + len(x)))
            if bar is not None:
                bar.update(len(x))
        return graph

    def add(self, shape: np.ndarray, colour: np.ndarray, positions: np.ndarray) -> None:
        if not len(positions):
            return
        with self._lock:
            if int(positions[0]) != self.index.ntotal:
                raise ValueError("HNSW labels must stay equal to snapshot positions")
            self.index.add(np.ascontiguousarray(np.hstack([shape, colour]), np.float32))

    def budget(self, live: int, passing: int | None = None) -> int:
        return 0

    def candidates(self, q, q_shape, q_colour, weight, want, budget, allowed_bits=None):
        """Sorted positions of the graph's `want` nearest to the weighted query q (the parts are unused)."""
        faiss = faiss_module(1)
        q = np.ascontiguousarray(q, np.float32)[None, :]
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(2 * want, 128)
        sel = selector(faiss, allowed_bits)
        if sel is not None:
            params.sel = sel
        with self._lock:
            _, found = self.index.search(q, int(want), params=params)
        return np.sort(found[0][found[0] >= 0])  # sorted positions, as the snapshot expects

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        faiss_module().write_index(self.index, str(folder / "hnsw.faiss"))
        (folder / "ann.json").write_text(json.dumps({"kind": self.kind}))

    @classmethod
    def load(cls, folder: Path, threads: int = 2) -> "GraphIndex":
        return cls(faiss_module(threads).read_index(str(folder / "hnsw.faiss")))

    def nbytes(self) -> int:
        n = self.index.ntotal
        return n * self.index.d * 4 + n * HNSW_M * 2 * 4
