"""How a query picks and scans the cells of one inverted file (a side of twin_ivf.py).

A cell's centroid table is ranked in one FAISS call, nearest first, and the
picked cells' lists are scanned with each list's bias w·q·centroid added to its
items' quantised scores. Per query, every numpy or FAISS call here runs with
the caches cold (the scans stream megabytes through them), so this code keeps
them few: buffers and their FAISS pointers are made once per side.
"""
from __future__ import annotations

import numpy as np

NEAREST = 16    # cells ranked per query unless they hold less than the budget
RANK_LISTS = 2  # the centroid table is read by this many threads of the team


def nearest(x: np.ndarray, centroids: np.ndarray, half: np.ndarray) -> np.ndarray:
    """The cell of each row: its L2-nearest centroid (half: |S_i|²/2), the rule queries rank cells by."""
    return np.argmax(x @ centroids.T - half, axis=1)


class Side:
    """One inverted file and how a query picks its cells: nearest centroid first by L2 (the rule items were
    filed by; ranked on an fp16 copy of the centroids), until the budget is scanned. Cell c is stored as lists
    c·split … c·split + split − 1."""

    def __init__(self, index, centroids: np.ndarray, split: int = 1):
        import faiss

        self.index, self.split = index, split
        self.centroids = np.array(centroids, np.float32, order="C")  # a copy: the view is FAISS's memory
        self.half = 0.5 * (self.centroids ** 2).sum(1)
        # Cells are ranked by one FAISS call: [q, 1]·[S_i, c − |S_i|²/2] orders them as the L2 distance does
        # (c, the mean of |S_i|²/2, keeps that column small, so its fp16 rounding is too). The table is fp16
        # (half the bytes to read per query: 0.95–0.98 / 0.97–0.98 at w = 0.5 / 1 at 1M, three runs, same hits,
        # measured; scores within ~1e-4), padded to a multiple of 16 for the SIMD path, in RANK_LISTS lists of
        # a flat inverted file, so that the team shares reading it. Buffers are per side: queries hold its lock.
        n, d = self.centroids.shape
        self._centre = float(self.half.mean()) if n else 0.0
        table = np.zeros((n, d + 1 + (-(d + 1)) % 16), np.float32)
        table[:, :d], table[:, d] = self.centroids, self._centre - self.half
        width = table.shape[1]
        coarse = faiss.IndexFlatIP(width)
        coarse.add(np.zeros((RANK_LISTS, width), np.float32))
        self._ranker = faiss.IndexIVFScalarQuantizer(coarse, width, RANK_LISTS, faiss.ScalarQuantizer.QT_fp16,
                                                     faiss.METRIC_INNER_PRODUCT, False)
        self._ranker.is_trained = True  # fp16 needs no training
        self._ranker.own_fields = True
        coarse.this.disown()
        self._ranker.parallel_mode = 1  # lists shared over the team
        cells = np.arange(n, dtype=np.int64)
        lists = cells % RANK_LISTS  # a name keeps it alive: swig_ptr holds no reference
        self._ranker.add_core(n, faiss.swig_ptr(table), faiss.swig_ptr(cells), faiss.swig_ptr(lists))
        self._rank_lists = np.arange(RANK_LISTS, dtype=np.int64)
        self._rank_bias = np.zeros(RANK_LISTS, np.float32)
        self._rank_params = faiss.SearchParametersIVF()
        self._rank_params.nprobe = RANK_LISTS
        self._query = np.zeros(width, np.float32)
        self._query[d] = 1.0
        self._nearest = sorted({min(NEAREST, n), n})
        self._score, self._cells = np.empty(n, np.float32), np.empty(n, np.int64)
        ptr = faiss.swig_ptr  # pointers to the per-side buffers, made once (each is a Python call per query)
        self._rank_query = ptr(self._query)
        self._rank_rest = (ptr(self._rank_lists), ptr(self._rank_bias), ptr(self._score), ptr(self._cells))
        self._dist, self._labels = np.empty(0, np.float32), np.empty(0, np.int64)
        self._cell_lists = np.arange(n * split, dtype=np.int64).reshape(n, split)  # cell c: its lists
        self.params = faiss.SearchParametersIVF()
        self.resize()

    def resize(self) -> None:
        per_list = np.array([self.index.invlists.list_size(i) for i in range(self.index.nlist)], np.int64)
        self.sizes = per_list.reshape(-1, self.split).sum(1)  # items per cell
        self._sizes = self.sizes.tolist()  # read one by one per query: Python ints are cheaper to index
        self.total = int(self.sizes.sum())

    def assign(self, x: np.ndarray) -> np.ndarray:
        return nearest(x, self.centroids, self.half)

    def lists(self, q_part: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
        """Cells to open, nearest first (empty ones skipped) until the next would pass the budget, and the
        query's inner product with their centroids. Only the nearest 16 are ranked, all of them when those
        hold less than the budget (a filter or deletions raise it). After a scan has streamed its codes
        through the caches, each numpy step here cost 20–100 µs: one FAISS call and a loop over 16 Python
        ints replaced six of them (0.255 → 0.181 ms for the shape side at 1M, measured)."""
        self._query[: len(q_part)] = q_part
        for few in self._nearest:
            self._ranker.search_preassigned_c(1, self._rank_query, few, *self._rank_rest, False, self._rank_params)
            score, cells = self._score[:few], self._cells[:few]
            picked, held = [], 0
            for i, cell in enumerate(cells.tolist()):
                size = self._sizes[cell]
                if size and picked and held + size > budget:
                    return self._picked(picked, score, cells)
                if size:
                    picked.append(i)
                    held += size
        return self._picked(picked, score, cells)

    def _picked(self, picked: list[int], score: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cells = cells[picked]  # copies: the buffers are the next query's
        return cells, score[picked] + (self.half[cells] - self._centre)  # q·S_i = score − c + |S_i|²/2

    def scan(self, faiss, q: np.ndarray, q_part: np.ndarray, weight: float, budget: int, want: int, sel):
        """Positions of the `want` best items by quantised weighted score among the opened cells' lists; each
        list's bias w·q·centroid is added to its items' scores."""
        cells, ip = self.lists(q_part, budget)
        lists = self._cell_lists[cells].ravel()  # a fresh C-contiguous int64 array
        bias = (ip * weight).repeat(self.split)  # float32: a Python float does not widen it
        params = self.params
        params.nprobe = len(lists)  # search_preassigned reads the parameters', not the index's
        params.sel = sel
        q = np.ascontiguousarray(q, np.float32)
        if want > len(self._labels):
            self._dist, self._labels = np.empty(want, np.float32), np.empty(want, np.int64)
            self._out = (faiss.swig_ptr(self._dist), faiss.swig_ptr(self._labels))
        ptr = faiss.swig_ptr
        self.index.search_preassigned_c(1, ptr(q), want, ptr(lists), ptr(bias), *self._out, False, params)
        labels = self._labels[:want]
        return labels[labels >= 0]  # a copy
