"""Approximate candidate search that honours the per-query weight (DESIGN.md §2).

One HNSW graph over [s, c] is tuned to one direction of the query, but
q_w = [w·q_s, (1−w)·q_c] swings from colour-only (w=0) to shape-only (w=1),
so its recall sags at the ends. `TwinIVF` keeps two inverted files instead:

- by shape: lists are k-means cells of the shape vectors; each item is stored
  whole, [s − S_i, c], as 4-bit product-quantiser codes with one dimension per
  sub-quantiser (a 16-level non-uniform scalar code) in FAISS fast-scan
  layout, which scans ~5× faster than plain 4-bit SQ. A list's bias w·q_s·S_i
  is added per list, so each scanned item gets its whole weighted score.
- by colour: lists are k-means cells of the colour vectors; codes are the
  8-bit colour residual only (256 dims: cheap to scan, precise at w≈0).

A query opens the best shape lists (for w>0) and the best colour lists (for
w<1) until each side has scanned its budget, and returns the union of both
shortlists; the snapshot then rescores that union exactly. An item can only
reach the weighted top-k through a high shape or a high colour similarity,
and each side finds exactly those.

`GraphIndex` keeps the original HNSW over the combined vector (mode "hnsw").
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

SCAN_FRACTION = 0.008      # each side scans this share of the catalogue, within the bounds below
SCAN_MIN, SCAN_MAX = 2048, 16384
COLOUR_SCAN_MIN = 3 * SCAN_MIN  # the colour side scans at least this: colour clusters (non-negative histograms)
                                # overlap more than shape ones, and a 256-d 8-bit code costs ~1/6 of a shape code
LISTS_PER_SCAN = 4         # a side's budget spans about this many average lists: a cluster split across lists is
                           # covered, and the list that would overshoot the budget is small
HNSW_M, EF_CONSTRUCTION = 32, 80


def faiss_module(threads: int = 1):
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("approximate search needs FAISS: pip install faiss-cpu==1.15.1") from exc
    faiss.omp_set_num_threads(threads)
    return faiss


def dot(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """rows @ q for one query, on one core with SIMD: OpenBLAS threads a product this small and, on a
    busy machine, waits ~10 ms at its barrier for a 0.3 ms job; einsum avoids that but does not vectorise
    as well (1024×1280 centroids: 0.27 ms here against 0.45 ms with einsum, measured)."""
    rows = np.ascontiguousarray(rows, np.float32)
    q = np.ascontiguousarray(q, np.float32).ravel()
    if rows.ndim != 2 or rows.shape[1] != len(q):  # the C call below trusts these sizes
        raise ValueError(f"dot: rows {rows.shape} do not match a query of {len(q)} dims")
    try:
        import faiss
    except ImportError:  # exact search of a small catalogue does not need FAISS
        return np.einsum("ij,j->i", rows, q)
    out = np.empty(len(rows), np.float32)
    if len(rows):
        faiss.fvec_inner_products_ny(faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(rows), len(q), len(rows))
    return out


def dot_at(matrix: np.ndarray, pos: np.ndarray, q: np.ndarray) -> np.ndarray:
    """matrix[pos] @ q without gathering the rows first (matrix: C-contiguous float32, e.g. a mapped file)."""
    pos = np.ascontiguousarray(pos, np.int64)
    q = np.ascontiguousarray(q, np.float32).ravel()
    if matrix.ndim != 2 or matrix.shape[1] != len(q) or matrix.dtype != np.float32 \
            or not matrix.flags.c_contiguous or (len(pos) and not 0 <= pos.min() <= pos.max() < len(matrix)):
        raise ValueError(f"dot_at: {matrix.shape} {matrix.dtype} rows, {len(q)}-d query, positions out of range")
    try:
        import faiss
    except ImportError:
        return np.einsum("ij,j->i", matrix[pos], q)
    # FAISS opens an OpenMP team for this call whatever its size; beside busy OpenBLAS/torch threads a
    # 50-row product then waited ~2 ms at the team's barrier (measured): one thread (this thread's setting).
    faiss.omp_set_num_threads(1)
    out = np.empty(len(pos), np.float32)
    if len(pos):
        faiss.fvec_inner_products_by_idx(faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(matrix),
                                         faiss.swig_ptr(pos), len(q), 1, len(pos))
    return out


def scan_budget(live: int) -> int:
    return int(np.clip(SCAN_FRACTION * live, SCAN_MIN, SCAN_MAX))


def _pow2(x: float) -> int:
    return 1 << max(0, int(round(np.log2(max(x, 1.0)))))


def _selector(faiss, allowed_bits: np.ndarray | None):
    if allowed_bits is None:
        return None
    return faiss.IDSelectorBitmap(len(allowed_bits), faiss.swig_ptr(allowed_bits))  # length in bytes


def _centroids(faiss, x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return x.mean(0, keepdims=True)
    km = faiss.Kmeans(x.shape[1], k, niter=12, seed=1234, max_points_per_centroid=128)
    km.train(x)
    return km.centroids


def sample_rows(matrix: np.ndarray, n: int, size: int = 65_536) -> np.ndarray:
    pick = np.sort(np.random.default_rng(0).choice(n, min(n, size), replace=False))
    return np.asarray(matrix[pick])


class ScalarCodes:
    """4-bit PQ with one dimension per sub-quantiser is a 16-level scalar code per dimension:
    encode by thresholds in numpy (FAISS's generic PQ encoder takes ~25× longer at M=1536)."""

    def __init__(self, pq):
        import faiss

        cent = faiss.vector_to_array(pq.centroids).reshape(pq.M, pq.ksub)
        self.order = np.argsort(cent, axis=1).astype(np.uint8)
        srt = np.take_along_axis(cent, self.order.astype(np.int64), axis=1)
        self.mids = ((srt[:, 1:] + srt[:, :-1]) / 2).astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        rank = np.zeros(x.shape, np.uint8)
        for t in range(self.mids.shape[1]):
            rank += x > self.mids[:, t]
        codes = self.order[np.arange(x.shape[1])[None, :], rank]
        if codes.shape[1] % 2:
            codes = np.hstack([codes, np.zeros((len(codes), 1), np.uint8)])
        return codes[:, 0::2] | (codes[:, 1::2] << 4)  # FAISS packs the first code in the low nibble


def _coarse(lists: np.ndarray, size: int) -> np.ndarray:
    return lists.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :size]


def _search(faiss, ivf, q: np.ndarray, lists: np.ndarray, bias: np.ndarray, want: int, sel):
    """search_preassigned with our own list choice and per-list bias (the Python wrapper refuses params)."""
    params = faiss.SearchParametersIVF()
    params.nprobe = len(lists)
    if sel is not None:
        params.sel = sel
    ivf.nprobe = len(lists)
    q = np.ascontiguousarray(q[None, :], np.float32)
    lists = np.ascontiguousarray(lists[None, :], np.int64)
    bias = np.ascontiguousarray(bias[None, :], np.float32)
    dist, labels = np.empty((1, want), np.float32), np.empty((1, want), np.int64)
    ivf.search_preassigned_c(1, faiss.swig_ptr(q), want, faiss.swig_ptr(lists), faiss.swig_ptr(bias),
                             faiss.swig_ptr(dist), faiss.swig_ptr(labels), False, params)
    return labels[0][labels[0] >= 0]


class TwinIVF:
    kind = "ivf"

    def __init__(self, shape_dim: int, by_shape, by_colour):
        self.shape_dim, self.by_shape, self.by_colour = shape_dim, by_shape, by_colour
        faiss = faiss_module(1)
        self.cs = faiss.rev_swig_ptr(faiss.downcast_index(by_shape.quantizer).get_xb(),
                                     by_shape.nlist * by_shape.d).reshape(by_shape.nlist, -1)[:, :shape_dim].copy()
        self.cc = faiss.rev_swig_ptr(faiss.downcast_index(by_colour.quantizer).get_xb(),
                                     by_colour.nlist * by_colour.d).reshape(by_colour.nlist, -1).copy()
        self._hs, self._hc = 0.5 * (self.cs ** 2).sum(1), 0.5 * (self.cc ** 2).sum(1)
        self._lock = threading.Lock()  # FAISS lists are not safe to read while another thread appends
        self._sizes()

    def _sizes(self) -> None:
        self.shape_sizes = np.array([self.by_shape.invlists.list_size(i) for i in range(self.by_shape.nlist)])
        self.colour_sizes = np.array([self.by_colour.invlists.list_size(i) for i in range(self.by_colour.nlist)])
        self.total = int(self.shape_sizes.sum())

    # -- build -----------------------------------------------------------------
    @classmethod
    def train(cls, shape: np.ndarray, colour: np.ndarray, expected: int, threads: int = 2) -> "TwinIVF":
        """Centroids and quantisers from a sample; `expected` (the catalogue size) sets the list count."""
        faiss = faiss_module(threads)
        shape, colour = np.ascontiguousarray(shape, np.float32), np.ascontiguousarray(colour, np.float32)
        ds, dc = shape.shape[1], colour.shape[1]
        per_list = max(256.0, scan_budget(expected) / LISTS_PER_SCAN)
        k = int(min(_pow2(expected / per_list), 1024, _pow2(len(shape) / 40)))
        cs, cc = _centroids(faiss, shape, k), _centroids(faiss, colour, k)
        # L2 to [S_i, 0] ranks lists by the shape part alone; the colour part stays raw in the residual.
        qs = faiss.IndexFlatL2(ds + dc)
        qs.add(np.hstack([cs, np.zeros((len(cs), dc), np.float32)]))
        by_shape = faiss.IndexIVFPQFastScan(qs, ds + dc, len(cs), ds + dc, 4, faiss.METRIC_INNER_PRODUCT)
        by_shape.own_fields = True
        qs.this.disown()
        qc = faiss.IndexFlatL2(dc)
        qc.add(cc)
        by_colour = faiss.IndexIVFScalarQuantizer(qc, dc, len(cc), faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT, True)
        by_colour.own_fields = True
        qc.this.disown()
        faiss_module(1)  # thousands of tiny 1-D k-means: threads only add barriers
        by_shape.train(np.hstack([shape, colour]))
        by_colour.train(colour)
        faiss_module(threads)
        return cls(ds, by_shape, by_colour)

    @classmethod
    def build(cls, matrix: np.ndarray, n: int, shape_dim: int, threads: int = 2, bar=None) -> "TwinIVF":
        """Train on a sample of matrix[:n] and encode every row, labels 0..n−1."""
        faiss = faiss_module(threads)
        sample = sample_rows(matrix, n)
        twin = cls.train(sample[:, :shape_dim], sample[:, shape_dim:], n, threads)
        fast = twin.by_shape
        # Plain IVF-PQ lists take our own codes; the fast-scan layout is made from them in one pass.
        plain = faiss.IndexIVFPQ(fast.quantizer, fast.d, fast.nlist, fast.pq.M, 4, faiss.METRIC_INNER_PRODUCT)
        plain.pq, plain.is_trained = fast.pq, True
        encode, full = ScalarCodes(fast.pq), np.hstack([twin.cs, np.zeros((len(twin.cs), fast.d - shape_dim),
                                                                           np.float32)])
        half = 0.5 * (twin.cs ** 2).sum(1)
        for i in range(0, n, 16_384):
            x = np.ascontiguousarray(matrix[i: i + 16_384], np.float32)
            ids = np.arange(i, i + len(x), dtype=np.int64)
            lists = np.argmax(x[:, :shape_dim] @ twin.cs.T - half, axis=1)
            codes = encode(x - full[lists])
            plain.add_sa_codes(np.ascontiguousarray(np.hstack([_coarse(lists, plain.coarse_code_size()), codes])),
                               ids)
            twin.by_colour.add_with_ids(np.ascontiguousarray(x[:, shape_dim:]), ids)
            if bar is not None:
                bar.update(len(x))
        built = cls(shape_dim, faiss.IndexIVFPQFastScan(plain), twin.by_colour)
        built._keep = (plain, twin)  # the fast-scan index borrows their quantizer until saved and reloaded
        return built

    def add(self, shape: np.ndarray, colour: np.ndarray, positions: np.ndarray) -> None:
        """Encode and append; positions are the snapshot rows the labels will name."""
        if not len(positions):
            return
        ids = np.ascontiguousarray(positions, np.int64)
        colour = np.ascontiguousarray(colour, np.float32)
        with self._lock:
            self.by_shape.add_with_ids(np.ascontiguousarray(np.hstack([shape, colour]), np.float32), ids)
            self.by_colour.add_with_ids(colour, ids)
            self._sizes()

    # -- search ------------------------------------------------------------------
    def budget(self, live: int, passing: int | None = None) -> int:
        """Items each side scans: a share of the catalogue, scaled up when a filter or deletions thin it out."""
        total = self.total
        scan = scan_budget(live)
        if passing is not None and passing < live:
            scan = int(scan * live / max(passing, 1))
        if live < total:
            scan = int(scan * total / max(live, 1))
        return min(scan, total)

    @staticmethod
    def _open(near: np.ndarray, sizes: np.ndarray, budget: int) -> np.ndarray:
        """Lists nearest first (L2 to the centroid, the rule items were filed by) until `budget` items."""
        order = np.argsort(-near, kind="stable")
        order = order[sizes[order] > 0]
        n = max(1, int(np.searchsorted(np.cumsum(sizes[order]), budget, side="right")))
        return order[:n]

    def candidates(self, q_shape: np.ndarray, q_colour: np.ndarray, weight: float, want: int, budget: int,
                   allowed_bits: np.ndarray | None = None, n_positions: int = 0) -> np.ndarray:
        """Shortlist positions by quantised score: the side that carries more weight lists more, because
        4-bit shape codes need a longer shortlist than 8-bit colour codes to hold the exact top-k."""
        faiss = faiss_module(1)  # one query: a second thread only adds a barrier on a busy box
        want = int(max(1, want))
        found = []
        with self._lock:
            sel = _selector(faiss, allowed_bits)
            if weight > 0:
                ip = dot(self.cs, q_shape)
                bias = (weight * ip).astype(np.float32)
                lists = self._open(ip - self._hs, self.shape_sizes, budget)
                q = np.concatenate([weight * q_shape, (1.0 - weight) * q_colour])
                found.append(_search(faiss, self.by_shape, q, lists, bias[lists], int(want * (1 + weight)), sel))
            if weight < 1:
                ip = dot(self.cc, q_colour)
                bias = ((1.0 - weight) * ip).astype(np.float32)
                lists = self._open(ip - self._hc, self.colour_sizes, max(budget, COLOUR_SCAN_MIN))
                found.append(_search(faiss, self.by_colour, (1.0 - weight) * q_colour, lists, bias[lists],
                                     max(int(want * (1 - weight)), 1), sel))
        return np.unique(np.concatenate(found)) if len(found) > 1 else found[0]

    # -- persistence ---------------------------------------------------------------
    def save(self, folder: Path) -> None:
        faiss = faiss_module()
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.by_shape, str(folder / "by_shape.faiss"))
        faiss.write_index(self.by_colour, str(folder / "by_colour.faiss"))
        (folder / "ann.json").write_text(json.dumps({"kind": self.kind, "shape_dim": self.shape_dim}))

    @classmethod
    def load(cls, folder: Path, threads: int = 2) -> "TwinIVF":
        faiss = faiss_module(threads)
        meta = json.loads((folder / "ann.json").read_text())
        return cls(meta["shape_dim"], faiss.read_index(str(folder / "by_shape.faiss")),
                   faiss.read_index(str(folder / "by_colour.faiss")))

    def nbytes(self) -> int:
        """Resident bytes: codes and labels in both files, centroids."""
        n = int(self.shape_sizes.sum())
        return n * (self.by_shape.code_size + 8 + self.by_colour.code_size + 8) + 4 * (
            self.by_shape.nlist * self.by_shape.d + self.by_colour.nlist * self.by_colour.d)


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

    def candidates(self, q_shape, q_colour, weight, want, budget, allowed_bits=None, n_positions=0):
        faiss = faiss_module(1)
        q = np.concatenate([weight * q_shape, (1.0 - weight) * q_colour]).astype(np.float32)[None, :]
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(2 * want, 128)
        sel = _selector(faiss, allowed_bits)
        if sel is not None:
            params.sel = sel
        with self._lock:
            _, found = self.index.search(q, int(want), params=params)
        return found[0][found[0] >= 0]

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


KINDS = {"ivf": TwinIVF, "hnsw": GraphIndex}


def load(folder: Path, threads: int = 2):
    kind = json.loads((folder / "ann.json").read_text())["kind"]
    return KINDS[kind].load(folder, threads)
