"""The vector kernels of the local index's hot path: FAISS calls for one query at a time."""
from __future__ import annotations

import numpy as np

def faiss_module(threads: int = 1):
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("approximate search needs FAISS: pip install faiss-cpu==1.15.1") from exc
    faiss.omp_set_num_threads(threads)  # this thread's OpenMP team size
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
    """matrix[pos] @ q without gathering the rows first (matrix: C-contiguous float32, e.g. a mapped file).
    q may hold several queries (rows): then the result is (len(q), len(pos))."""
    pos = np.ascontiguousarray(pos, np.int64)
    qs = np.ascontiguousarray(np.atleast_2d(q), np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != qs.shape[1] or matrix.dtype != np.float32 \
            or not matrix.flags.c_contiguous or (len(pos) and not 0 <= pos.min() <= pos.max() < len(matrix)):
        raise ValueError(f"dot_at: {matrix.shape} {matrix.dtype} rows, {qs.shape[1]}-d query, positions out of range")
    try:
        import faiss
    except ImportError:
        out = np.einsum("ij,kj->ki", matrix[pos], qs)
        return out if np.ndim(q) == 2 else out[0]
    # FAISS opens an OpenMP team for this call whatever its size; beside busy OpenBLAS/torch threads a
    # 50-row product then waited ~2 ms at the team's barrier (measured): one thread (this thread's setting).
    faiss.omp_set_num_threads(1)
    out = np.empty((len(qs), len(pos)), np.float32)
    if len(pos):
        ids = pos if len(qs) == 1 else np.ascontiguousarray(np.broadcast_to(pos, out.shape))  # one list per query
        faiss.fvec_inner_products_by_idx(faiss.swig_ptr(out), faiss.swig_ptr(qs), faiss.swig_ptr(matrix),
                                         faiss.swig_ptr(ids), qs.shape[1], len(qs), len(pos))
    return out if np.ndim(q) == 2 else out[0]


def selector(faiss, allowed_bits: np.ndarray | None):
    if allowed_bits is None:
        return None
    return faiss.IDSelectorBitmap(len(allowed_bits), faiss.swig_ptr(allowed_bits))  # length in bytes


def sample_rows(matrix: np.ndarray, n: int, size: int = 65_536) -> np.ndarray:
    pick = np.sort(np.random.default_rng(0).choice(n, min(n, size), replace=False))
    return np.asarray(matrix[pick])
