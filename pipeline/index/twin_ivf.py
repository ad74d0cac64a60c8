"""Two inverted files that honour the per-query weight (mode "ivf", DESIGN.md §2).

- by shape: lists are k-means cells of the shape vectors; each item is stored
  whole, [s − S_i, c], as 4-bit product-quantiser codes with one dimension per
  sub-quantiser (a 16-level non-uniform scalar code) in FAISS fast-scan
  layout, which scans ~5× faster than plain 4-bit SQ. A list's bias w·q_s·S_i
  is added per list, so each scanned item gets its whole weighted score.
- by colour: lists are k-means cells of the colour vectors; codes are the
  8-bit colour residual only (256 dims: cheap to scan, precise at w≈0). Each
  dimension is mapped onto [0, 1] by its range in the training sample, so one
  global range decodes them all (FAISS's uniform codec; per-dimension ranges
  decode slower) at the same precision; the query is scaled by the ranges.

A query opens the best shape cells (for w>0) and the best colour cells (for
w<1) until each side has scanned its budget, and returns the union of both
shortlists; the snapshot then rescores that union exactly. An item can only
reach the weighted top-k through a high shape or a high colour similarity,
and each side finds exactly those.

Each cell is stored as SPLIT FAISS lists with its items dealt round-robin, so
that one query's scan of a cell divides evenly over FAISS's OpenMP team
(probes shared between threads; why a team, see kernels.py).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from .cells import Side, nearest
from .kernels import faiss_module, sample_rows, selector

SCAN_FRACTION = 0.006      # each side scans this share of the catalogue, within the bounds below (0.008 before:
                           # at 1M the same recall@50 at every w, 4–7 % slower, measured)
SCAN_MIN, SCAN_MAX = 2048, 16384
COLOUR_SCAN_MIN = 3 * SCAN_MIN  # the colour side scans at least this: colour clusters (non-negative histograms)
                                # overlap more than shape ones, and a 256-d 8-bit code costs ~1/6 of a shape code
COLOUR_SHARE = 0.75  # of the shape side's budget, above that minimum: at 1M, 6,144 colour items instead of 8,000
                     # gave the same recall@50 at w = 0, 0.2, 0.5, 0.8 (0.9998 / 0.9992 / 1 / 1, measured)
LISTS_PER_SCAN = 2         # a side's budget spans about this many average lists. Ranking a cell reads its float32
                           # centroid, as many bytes as 8 items' 4-bit codes: at 1M, 512 cells cost as much to rank
                           # as 4,096 items to scan. 256 cells (2 lists per budget, 4 before) were 9 % faster at
                           # w = 0.5 and 1 with the same recall@50 (0.9996 / 0.997, measured, alternating per query)
SPLIT = 2                  # FAISS lists per cell: a cell's scan divides over two threads (at 1M, the shape side's
                           # scan took 0.56–0.60 ms on two threads against 0.86–0.94 ms for whole cells, measured)
COLOUR_LISTS_PER_SCAN = 4  # a colour centroid costs only 4 items' codes to rank, and colour cells overlap more:
                           # with 2, a 20k catalogue forced onto the ANN had a w = 0 query at recall@50 0.02


def scan_budget(live: int) -> int:
    return int(min(max(SCAN_FRACTION * live, SCAN_MIN), SCAN_MAX))


def _pow2(x: float) -> int:
    return 1 << max(0, int(round(np.log2(max(x, 1.0)))))


def _centroids(faiss, x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return x.mean(0, keepdims=True)
    km = faiss.Kmeans(x.shape[1], k, niter=12, seed=1234, max_points_per_centroid=128)
    km.train(x)
    return km.centroids


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


def deal(cells: np.ndarray, held: np.ndarray, split: int) -> np.ndarray:
    """The list of each item: its cell's items dealt round-robin over the cell's `split` lists, continuing
    from `held` (items per cell so far, updated), so a cell's lists never differ by more than one item."""
    order = np.argsort(cells, kind="stable")
    grouped = cells[order]
    first = np.searchsorted(grouped, grouped, side="left")
    rank = np.empty(len(cells), np.int64)
    rank[order] = np.arange(len(cells)) - first  # the item's place among this batch's items of its cell
    lists = cells * split + (held[cells] + rank) % split
    held += np.bincount(cells, minlength=len(held))
    return lists


class TwinIVF:
    kind = "ivf"

    def __init__(self, shape_dim: int, by_shape, by_colour, threads: int = 2, split: int = 1,
                 colour_range: np.ndarray | None = None):
        self.shape_dim, self.by_shape, self.by_colour = shape_dim, by_shape, by_colour
        # [low; span] per colour dimension: codes hold (r − low) / span. A folder written before has
        # per-dimension codes and no range: the identity.
        self.colour_range = np.asarray(colour_range if colour_range is not None else
                                       [np.zeros(by_colour.d), np.ones(by_colour.d)], np.float32)
        self.threads = threads  # the OpenMP team that scans each side; 1: the caller alone
        self.split = split  # lists per cell (1: a folder written before cells were split)
        faiss = faiss_module(1)
        cs = faiss.rev_swig_ptr(faiss.downcast_index(by_shape.quantizer).get_xb(),
                                by_shape.nlist * by_shape.d).reshape(by_shape.nlist, -1)[::split, :shape_dim]
        cc = faiss.rev_swig_ptr(faiss.downcast_index(by_colour.quantizer).get_xb(),
                                by_colour.nlist * by_colour.d).reshape(by_colour.nlist, -1)[::split]
        by_shape.implem = 15  # fast scan, probes shared over the team (of 0, 10–15 the fastest here, measured)
        by_colour.parallel_mode = 1  # probes shared over the team
        self.shape, self.colour = Side(by_shape, cs, split), Side(by_colour, cc, split)
        self._lock = threading.Lock()  # FAISS lists are not safe to read while another thread appends

    @property
    def total(self) -> int:
        return self.shape.total

    # -- build -----------------------------------------------------------------
    @classmethod
    def train(cls, shape: np.ndarray, colour: np.ndarray, expected: int, threads: int = 2) -> "TwinIVF":
        """Centroids and quantisers from a sample; `expected` (the catalogue size) sets the cell count."""
        faiss = faiss_module(threads)
        shape, colour = np.ascontiguousarray(shape, np.float32), np.ascontiguousarray(colour, np.float32)
        ds, dc = shape.shape[1], colour.shape[1]

        def cells(per_scan: int) -> int:
            per_list = max(256.0, scan_budget(expected) / per_scan)
            return int(min(_pow2(expected / per_list), 1024, _pow2(len(shape) / 40)))

        cs = _centroids(faiss, shape, cells(LISTS_PER_SCAN))
        cc = _centroids(faiss, colour, cells(COLOUR_LISTS_PER_SCAN))
        # L2 to [S_i, 0] ranks cells by the shape part alone; the colour part stays raw in the residual.
        # Each centroid is repeated for its cell's SPLIT lists.
        qs = faiss.IndexFlatL2(ds + dc)
        qs.add(np.repeat(np.hstack([cs, np.zeros((len(cs), dc), np.float32)]), SPLIT, axis=0))
        by_shape = faiss.IndexIVFPQFastScan(qs, ds + dc, SPLIT * len(cs), ds + dc, 4, faiss.METRIC_INNER_PRODUCT)
        by_shape.own_fields = True
        qs.this.disown()
        qc = faiss.IndexFlatL2(dc)
        qc.add(np.repeat(cc, SPLIT, axis=0))
        by_colour = faiss.IndexIVFScalarQuantizer(qc, dc, SPLIT * len(cc), faiss.ScalarQuantizer.QT_8bit_uniform,
                                                  faiss.METRIC_INNER_PRODUCT, True)
        by_colour.own_fields = True
        qc.this.disown()
        faiss_module(1)  # thousands of tiny 1-D k-means: threads only add barriers
        by_shape.train(np.hstack([shape, colour]))
        residual = colour - cc[nearest(colour, cc, 0.5 * (cc ** 2).sum(1))]
        low = residual.min(0)
        span = np.maximum(residual.max(0) - low, 1e-12)
        by_colour.sq.train(np.ascontiguousarray((residual - low) / span, np.float32))
        by_colour.is_trained = True
        faiss_module(threads)
        return cls(ds, by_shape, by_colour, threads, SPLIT, np.stack([low, span]))

    @classmethod
    def build(cls, matrix: np.ndarray, n: int, shape_dim: int, threads: int = 2, bar=None) -> "TwinIVF":
        """Train on a sample of matrix[:n] and encode every row, labels 0..n−1, each cell's rows dealt over
        its lists."""
        faiss = faiss_module(threads)
        sample = sample_rows(matrix, n)
        twin = cls.train(sample[:, :shape_dim], sample[:, shape_dim:], n, threads)
        fast, split = twin.by_shape, twin.split
        # Plain IVF-PQ lists take our own codes; the fast-scan layout is made from them in one pass.
        plain = faiss.IndexIVFPQ(fast.quantizer, fast.d, fast.nlist, fast.pq.M, 4, faiss.METRIC_INNER_PRODUCT)
        plain.pq, plain.is_trained = fast.pq, True
        cs = twin.shape.centroids
        encode, full = ScalarCodes(fast.pq), np.hstack([cs, np.zeros((len(cs), fast.d - shape_dim), np.float32)])
        held = {side: np.zeros(len(side.centroids), np.int64) for side in (twin.shape, twin.colour)}
        for i in range(0, n, 16_384):
            x = np.ascontiguousarray(matrix[i: i + 16_384], np.float32)
            ids = np.arange(i, i + len(x), dtype=np.int64)
            cells = twin.shape.assign(x[:, :shape_dim])
            lists = deal(cells, held[twin.shape], split)
            codes = encode(x - full[cells])
            plain.add_sa_codes(np.ascontiguousarray(np.hstack([_coarse(lists, plain.coarse_code_size()), codes])),
                               ids)
            cells = twin.colour.assign(x[:, shape_dim:])
            colour = twin._colour_input(x[:, shape_dim:], cells)
            lists = np.ascontiguousarray(deal(cells, held[twin.colour], split))
            twin.by_colour.add_core(len(x), faiss.swig_ptr(colour), faiss.swig_ptr(ids), faiss.swig_ptr(lists))
            if bar is not None:
                bar.update(len(x))
        built = cls(shape_dim, faiss.IndexIVFPQFastScan(plain), twin.by_colour, threads, split, twin.colour_range)
        built._keep = (plain, twin)  # the fast-scan index borrows their quantizer until saved and reloaded
        return built

    def _colour_input(self, colour: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """What to hand FAISS so that the residual it encodes is (r − low) / span."""
        centre = self.colour.centroids[cells]
        low, span = self.colour_range
        return np.ascontiguousarray(centre + (colour - centre - low) / span, np.float32)

    def add(self, shape: np.ndarray, colour: np.ndarray, positions: np.ndarray) -> None:
        """Encode and append; positions are the snapshot rows the labels will name. Each item goes to its
        cell's first list (FAISS files shape codes there too: the nearest of equal centroids); the next
        rebuild deals them again."""
        if not len(positions):
            return
        faiss = faiss_module(self.threads)
        ids = np.ascontiguousarray(positions, np.int64)
        colour = np.ascontiguousarray(colour, np.float32)
        cells = self.colour.assign(colour)
        lists = np.ascontiguousarray(cells * self.split, np.int64)
        encoded = self._colour_input(colour, cells)
        with self._lock:
            self.by_shape.add_with_ids(np.ascontiguousarray(np.hstack([shape, colour]), np.float32), ids)
            self.by_colour.add_core(len(ids), faiss.swig_ptr(encoded), faiss.swig_ptr(ids), faiss.swig_ptr(lists))
            self.shape.resize()
            self.colour.resize()

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

    def candidates(self, q: np.ndarray, q_shape: np.ndarray, q_colour: np.ndarray, weight: float, want: int,
                   budget: int, allowed_bits: np.ndarray | None = None) -> np.ndarray:
        """Shortlist positions by quantised score (q: the weighted query [w·q_s, (1−w)·q_c]): the side that
        carries more weight lists more, because 4-bit shape codes need a longer shortlist than 8-bit colour
        codes to hold the exact top-k."""
        faiss = faiss_module(self.threads)  # this thread's team size
        want = int(max(1, want))
        found = []
        with self._lock:
            sel = selector(faiss, allowed_bits)
            if weight > 0:
                found.append(self.shape.scan(faiss, q, q_shape, weight, budget, int(want * (1 + weight)), sel))
            if weight < 1:
                found.append(self.colour.scan(faiss, (1.0 - weight) * q_colour * self.colour_range[1], q_colour,
                                              1.0 - weight,
                                              max(int(COLOUR_SHARE * budget), COLOUR_SCAN_MIN),
                                              max(int(want * (1 - weight)), 1), sel))
        found = np.concatenate(found) if len(found) > 1 else found[0]
        found.sort()  # positions in order, each once (fewer numpy calls than np.unique)
        return found[np.concatenate(([True], found[1:] != found[:-1]))] if len(found) else found

    # -- persistence ---------------------------------------------------------------
    def save(self, folder: Path) -> None:
        faiss = faiss_module()
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.by_shape, str(folder / "by_shape.faiss"))
        faiss.write_index(self.by_colour, str(folder / "by_colour.faiss"))
        np.save(folder / "colour_range.npy", self.colour_range)
        (folder / "ann.json").write_text(json.dumps({"kind": self.kind, "shape_dim": self.shape_dim,
                                                     "split": self.split}))

    @classmethod
    def load(cls, folder: Path, threads: int = 2) -> "TwinIVF":
        faiss = faiss_module(threads)
        meta = json.loads((folder / "ann.json").read_text())
        ranges = folder / "colour_range.npy"
        return cls(meta["shape_dim"], faiss.read_index(str(folder / "by_shape.faiss")),
                   faiss.read_index(str(folder / "by_colour.faiss")), threads, meta.get("split", 1),
                   np.load(ranges) if ranges.exists() else None)

    def nbytes(self) -> int:
        """Resident bytes: codes and labels in both files, centroids."""
        n = self.total
        return n * (self.by_shape.code_size + 8 + self.by_colour.code_size + 8) + sum(
            4 * s.centroids.size for s in (self.shape, self.colour))
