"""The vector kernels of the local index's hot path: FAISS calls for one query at a time.

Work for both cores goes to FAISS's OpenMP team (the calling thread and one worker). The worker spins a
few milliseconds between calls, so back-to-back calls never wait for it to wake; a Python thread pool's
worker slept between queries and took 0.2–1 ms to wake in this VM, and OpenBLAS's threads spin ~130 ms
after every product, keeping the second core busy for nothing (both measured)."""
from __future__ import annotations

import numpy as np

SHARE_ROWS = 64       # rows scored by position for one query are shared over the OpenMP team from this many,
SHARE_SCAN = 32_768  # and a whole-matrix scan from this many (an idle worker may take 0.2–1 ms to wake)


def faiss_module(threads: int = 1):
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("approximate search needs FAISS: pip install faiss-cpu==1.15.1") from exc
    faiss.omp_set_num_threads(threads)  # this thread's OpenMP team size
    return faiss


def dot_all(rows: np.ndarray, q: np.ndarray, threads: int = 1) -> np.ndarray:
    """rows @ q for a whole matrix (an exact scan), shared over `threads` when it is big."""
    if threads < 2 or len(rows) < SHARE_SCAN:
        return dot(rows, q)
    rows = np.ascontiguousarray(rows, np.float32)
    return dot_at(rows, np.arange(len(rows)), q, threads)


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


def dot_at(matrix: np.ndarray, pos: np.ndarray, q: np.ndarray, threads: int = 1) -> np.ndarray:
    """matrix[pos] @ q without gathering the rows first (matrix: C-contiguous float32, e.g. a mapped file).
    q may hold several queries (rows): then the result is (len(q), len(pos)). With threads > 1 one query's
    rows are shared over the calling thread's OpenMP team."""
    pos = np.ascontiguousarray(pos, np.int64)
    q = np.asarray(q, np.float32)
    qs = np.ascontiguousarray(q.reshape(1, -1) if q.ndim < 2 else q)
    # (ufunc reductions called directly: each numpy wrapper in Python costs microseconds per query)
    outside = len(pos) and not 0 <= np.minimum.reduce(pos) <= np.maximum.reduce(pos) < len(matrix)
    if matrix.ndim != 2 or matrix.shape[1] != qs.shape[1] or matrix.dtype != np.float32 \
            or not matrix.flags.c_contiguous or outside:
        raise ValueError(f"dot_at: {matrix.shape} {matrix.dtype} rows, {qs.shape[1]}-d query, positions out of range")
    try:
        import faiss
    except ImportError:
        out = np.einsum("ij,kj->ki", matrix[pos], qs)
        return out if np.ndim(q) == 2 else out[0]
    if threads > 1 and np.ndim(q) == 1 and len(pos) >= SHARE_ROWS:
        return _shared_dot_at(faiss, matrix, pos, qs, threads)
    # FAISS opens an OpenMP team for this call whatever its size; beside busy OpenBLAS/torch threads a
    # 50-row product then waited ~2 ms at the team's barrier (measured): one thread (this thread's setting).
    faiss.omp_set_num_threads(1)
    out = np.empty((len(qs), len(pos)), np.float32)
    if len(pos):
        ids = pos if len(qs) == 1 else np.ascontiguousarray(np.broadcast_to(pos, out.shape))  # one list per query
        faiss.fvec_inner_products_by_idx(faiss.swig_ptr(out), faiss.swig_ptr(qs), faiss.swig_ptr(matrix),
                                         faiss.swig_ptr(ids), qs.shape[1], len(qs), len(pos))
    return out if np.ndim(q) == 2 else out[0]


def _shared_dot_at(faiss, matrix: np.ndarray, pos: np.ndarray, qs: np.ndarray, threads: int) -> np.ndarray:
    """The team scores `threads` copies of the query, each against its share of the positions (FAISS runs
    one query per thread, and scores the −1 that pads the last share as −inf)."""
    share = -(-len(pos) // threads)
    ids = np.full(threads * share, -1, np.int64)
    ids[: len(pos)] = pos
    copies = qs.repeat(threads, axis=0)
    out = np.empty(threads * share, np.float32)
    faiss.omp_set_num_threads(threads)
    faiss.fvec_inner_products_by_idx(faiss.swig_ptr(out), faiss.swig_ptr(copies), faiss.swig_ptr(matrix),
                                     faiss.swig_ptr(ids), qs.shape[1], threads, share)
    return out[: len(pos)]


def selector(faiss, allowed_bits: np.ndarray | None):
    if allowed_bits is None:
        return None
    return faiss.IDSelectorBitmap(len(allowed_bits), faiss.swig_ptr(allowed_bits))  # length in bytes


def sample_rows(matrix: np.ndarray, n: int, size: int = 65_536) -> np.ndarray:
    pick = np.sort(np.random.default_rng(0).choice(n, min(n, size), replace=False))
    return np.asarray(matrix[pick])
