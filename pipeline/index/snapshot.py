"""The search-side view of a local index.

A base folder `snap-<generation>` (written by base.py) holds `vectors.f32`
(float32 rows [s, c], memory-mapped, never loaded whole), `records.*` (hit
metadata by position), `meta.json` (ids, filterable fields, and the SQLite
high-water marks it was built from) and, per approximate mode, an
`ann-<mode>/` folder (see ann.py). `snapshot.json` points at the current base.
Building writes a new folder and then swaps the pointer, so a reader never
sees a half-built snapshot; switching mode only adds an ann folder.

Writes after the base are applied in memory instead of rebuilding: rows with a
higher `row` than the base's mark are appended (vectors in RAM, encoded into
the ANN) and ids in `tombstones` since the base are masked. Once appended plus
masked rows pass a quarter of the base (or 50k rows), the next refresh rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import numpy as np

from ..types import Item
from . import ann as ann_mod
from . import kernels, weighted_query
from .base import Fields, build_ann, publish, stream_rows
from .records import Records, item_from_row

EXACT_SUBSET = 50_000   # a filter passing fewer items is scanned exactly: cheaper than a thinned ANN
RESCORE = 100           # shortlist rescored exactly per ANN side (float32 rows): at 1M recall@50 ≥ 0.996 at every w
                        # (120: ≥ 0.999, 80: 0.989 at w = 1); each row is 6 KB of memory traffic
COMPACT_SHARE = 0.25    # appended + masked rows, as a share of the base, that trigger a rebuild,
COMPACT_ROWS = 50_000   # or this many: appended rows live in RAM (300 MB at 1536 dims)
MADV_POPULATE_READ = 22  # Linux ≥ 5.14: map the file's cached pages now, not one fault per row later


def _id_hash(ids: list[str]) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little") for i in ids],
                    np.uint64)


class Snapshot:
    def __init__(self, folder: Path, generation: int, shape_dim: int, mode: str, threads: int):
        self.folder, self.generation, self.shape_dim, self.mode = folder, generation, shape_dim, mode
        self.threads = threads
        meta = json.loads((folder / "meta.json").read_text())
        self.dim, self.max_row, self.tomb_seq = meta["dim"], meta["max_row"], meta["tomb_seq"]
        self.ids: list[str] = meta["ids"]
        self.fields = Fields(meta["fields"])
        self.base_n = len(self.ids)
        self.base = np.memmap(folder / "vectors.f32", np.float32, "r", shape=(max(self.base_n, 1), self.dim))
        self._plain = self.base.view(np.ndarray)  # same pages; indexing skips memmap's per-result bookkeeping
        self.extra = np.zeros((0, self.dim), np.float32)
        self.dead = np.zeros(self.base_n, bool)
        self.n_dead = 0
        self.ann = ann_mod.load(folder / f"ann-{mode}", threads) if (folder / f"ann-{mode}").exists() else None
        self.records = Records.open(folder)
        self.warmed = threading.Event()
        if self.ann is not None and self.base_n:
            threading.Thread(target=self._warm, name="snapshot-warm", daemon=True).start()
        else:
            self.warmed.set()
        self._inverted: dict[str, dict[str, np.ndarray]] = {}
        self._hashes: tuple[np.ndarray, np.ndarray] | None = None
        self._bits: np.ndarray | None = None

    def _warm(self) -> None:
        """Map the vectors file in the background: rescoring reads ~800 random rows per query, and a first
        touch costs a page fault each (measured at 1M: 4.5 ms per query cold, 1.3 ms mapped). The pages are
        the OS's file cache, shared and reclaimable, not the process's own memory."""
        try:
            mm = self.base._mmap
            step = 64 << 20
            for off in range(0, len(mm), step):  # in slices, so the GIL is free between them
                try:
                    mm.madvise(MADV_POPULATE_READ, off, min(step, len(mm) - off))
                except OSError:
                    mm.madvise(getattr(__import__("mmap"), "MADV_WILLNEED", 3), off, min(step, len(mm) - off))
        except (AttributeError, ValueError, OSError):
            pass  # no mmap to advise (empty base) or a platform without madvise: faults on demand
        finally:
            self.warmed.set()

    # -- open, build, refresh --------------------------------------------------
    @classmethod
    def open(cls, root: Path, db: sqlite3.Connection, generation: int, shape_dim: int, colour_dim: int,
             ann: str, threads: int) -> "Snapshot":
        """The current base (built if missing, old-format or stale beyond repair), brought up to date."""
        snap = None
        try:
            cur = json.loads((root / "snapshot.json").read_text())
            if cur.get("layout") == 2:
                folder = root / cur["folder"]
                build_ann(folder, ann, shape_dim, threads)
                snap = cls(folder, cur["generation"], shape_dim, ann, threads)
        except (OSError, ValueError, KeyError):
            snap = None  # missing, foreign or half-written pointer: rebuild below
        if snap is not None and snap.dim == shape_dim + colour_dim:
            return snap.refreshed(root, db, generation)
        return cls.build(root, db, generation, shape_dim, colour_dim, ann, threads)

    @classmethod
    def build(cls, root: Path, db: sqlite3.Connection, generation: int, shape_dim: int, colour_dim: int,
              ann: str, threads: int) -> "Snapshot":
        tmp = root / f".snap-{generation}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        stream_rows(db, tmp, shape_dim + colour_dim, shape_dim)
        build_ann(tmp, ann, shape_dim, threads)
        name = publish(root, tmp, generation)
        return cls(root / name, generation, shape_dim, ann, threads)

    def refreshed(self, root: Path, db: sqlite3.Connection, generation: int) -> "Snapshot":
        """A new view at `generation`: this one's base plus the rows written since (or a rebuild)."""
        rows = db.execute("SELECT row, id, image, title, url, category, attributes, content_hash, shape, colour "
                          "FROM items WHERE row > ? ORDER BY row", (self.max_row,)).fetchall()
        gone = [r[0] for r in db.execute("SELECT id FROM tombstones WHERE seq > ?", (self.tomb_seq,))]
        tomb = db.execute("SELECT COALESCE(MAX(seq), ?) FROM tombstones", (self.tomb_seq,)).fetchone()[0]
        churn = self.n_dead + len(self.extra) + len(rows) + len(gone)
        if churn > max(1000, min(COMPACT_SHARE * self.base_n, COMPACT_ROWS)):
            return Snapshot.build(root, db, generation, self.shape_dim, self.dim - self.shape_dim, self.mode,
                                  self.threads)
        new = object.__new__(Snapshot)
        new.__dict__.update(self.__dict__)
        new.generation, new._inverted, new._bits = generation, {}, None
        if not rows and not gone:
            return new
        new.ids = list(self.ids)
        new.fields = Fields({k: list(v) for k, v in self.fields.values.items()})
        new.dead = self.dead.copy()
        new._kill([r[1] for r in rows] + gone)
        start = len(new.ids)
        vecs = np.empty((len(rows), self.dim), np.float32)
        for j, row in enumerate(rows):
            vecs[j, : self.shape_dim] = np.frombuffer(row[8], np.float32)
            vecs[j, self.shape_dim:] = np.frombuffer(row[9], np.float32)
            new.ids.append(row[1])
            new.fields.append(start + j, row[5], row[6])
        if self.records is not None:
            new.records = self.records.with_extra([item_from_row(*row[1:8]) for row in rows])
        new.extra = np.concatenate([self.extra, vecs])
        new.dead = np.concatenate([new.dead, np.zeros(len(rows), bool)])
        new.n_dead = int(new.dead.sum())
        new.max_row = rows[-1][0] if rows else self.max_row
        new.tomb_seq = int(tomb)
        if new.ann is not None:
            new.ann.add(vecs[:, : self.shape_dim], vecs[:, self.shape_dim:], np.arange(start, start + len(rows)))
        new._hashes = None
        return new

    def _kill(self, ids: list[str]) -> None:
        """Mask the live positions holding these ids (replaced or deleted)."""
        if not ids:
            return
        if self._hashes is None or len(self._hashes[0]) != len(self.ids):
            h = _id_hash(self.ids)
            order = np.argsort(h, kind="stable")
            self._hashes = (h[order], order)
        keys, order = self._hashes
        for iid, h in zip(ids, _id_hash(ids)):
            lo, hi = np.searchsorted(keys, h, "left"), np.searchsorted(keys, h, "right")
            for pos in order[lo:hi]:
                if self.ids[pos] == iid:
                    self.dead[pos] = True

    # -- rows --------------------------------------------------------------------
    def rows(self, pos: np.ndarray, cols: slice = slice(None)) -> np.ndarray:
        """Rows at positions (columns `cols` only: a part read from the mapped file is all that is paged in)."""
        pos = np.asarray(pos, np.int64)
        if not len(self.extra):
            return self._plain[pos, cols]
        width = len(range(self.dim)[cols])
        out = np.empty((len(pos), width), np.float32)
        inb = pos < self.base_n
        out[inb] = self._plain[pos[inb], cols]
        out[~inb] = self.extra[pos[~inb] - self.base_n, cols]
        return out

    def shape_part(self, pos: np.ndarray) -> np.ndarray:
        return self.rows(pos)[:, : self.shape_dim]

    def colour_part(self, pos: np.ndarray) -> np.ndarray:
        return self.rows(pos)[:, self.shape_dim:]

    dot = staticmethod(kernels.dot)

    def score(self, pos: np.ndarray, q: np.ndarray, threads: int = 1) -> np.ndarray:
        """rows(pos) @ q for one query, or for several (rows of q: one row of scores each), reading base rows
        where they lie (no gathered copy: 0.26 against 0.44 ms for 320 rows at 1M, measured); `threads` share
        one query's base rows."""
        if not len(self.extra):
            return kernels.dot_at(self._plain, pos, q, threads)
        pos = np.ascontiguousarray(pos, np.int64)
        qs = np.atleast_2d(np.asarray(q, np.float32))
        inb = pos < self.base_n
        out = np.empty((len(qs), len(pos)), np.float32)
        out[:, inb] = kernels.dot_at(self._plain, pos[inb], qs if np.ndim(q) == 2 else qs[0], threads)
        if not inb.all():
            rows = self.extra[pos[~inb] - self.base_n]
            out[:, ~inb] = [self.dot(rows, x) for x in qs]
        return out if np.ndim(q) == 2 else out[0]

    def similarities(self, pos: np.ndarray, q_shape: np.ndarray, q_colour: np.ndarray, weight: float,
                     scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shape, colour) cosines at positions, the hits' score breakdown. One part is read, the other follows
        from score = w·shape + (1−w)·colour, divided by the larger of w and 1−w (so rounding at most doubles):
        for w ≥ ½ that reads only the 1 KB colour parts instead of each 6 KB row again."""
        ds = self.shape_dim
        if weight >= 0.5:
            colour = self.dot(self.rows(pos, slice(ds, None)), q_colour)
            return (scores - (1.0 - weight) * colour) / weight, colour
        q = np.zeros(self.dim, np.float32)
        q[:ds] = q_shape
        shape = self.score(pos, q)
        return shape, (scores - weight * shape) / (1.0 - weight)

    def items(self, pos: np.ndarray) -> list[Item] | None:
        """Hit metadata by position, or None for a base written before records existed (ask SQLite)."""
        return None if self.records is None else self.records.get(pos)

    def live(self) -> int:
        return len(self.ids) - self.n_dead

    # -- filters -------------------------------------------------------------------
    def _positions(self, field: str) -> dict[str, np.ndarray]:
        if field not in self._inverted:
            inv: dict[str, list[int]] = {}
            for pos, value in enumerate(self.fields.values.get(field, [])):
                for v in (value if isinstance(value, list) else [value]):
                    if v is not None and v != "":
                        inv.setdefault(str(v), []).append(pos)
            self._inverted[field] = {k: np.asarray(v, np.int64) for k, v in inv.items()}
        return self._inverted[field]

    def allowed(self, filters: dict[str, list[str]] | None) -> np.ndarray | None:
        """Bool mask of live positions passing every filter, or None when every position passes."""
        active = {f: v for f, v in (filters or {}).items() if v}
        if not active and not self.n_dead:
            return None
        mask = ~self.dead
        for field, values in active.items():
            inv = self._positions(field)
            keep = np.zeros(len(self.ids), bool)
            for v in values:
                if str(v) in inv:
                    keep[inv[str(v)]] = True
            mask &= keep
        return mask

    def facets(self, field: str) -> list[str]:
        mask = ~self.dead
        return sorted(v for v, pos in self._positions(field).items() if mask[pos].any())

    # -- search ----------------------------------------------------------------------
    @staticmethod
    def _top(scores: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(scores))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if len(scores) <= 4096:  # a shortlist: one sort (ties: earlier-indexed item first)
            sel = np.lexsort((positions, -scores))[:k]
        else:
            part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
            sel = part[np.lexsort((positions[part], -scores[part]))]
        return positions[sel], scores[sel]

    def search(self, q_shape: np.ndarray, q_colour: np.ndarray, weight: float, k: int, filters=None,
               exact: bool | None = None):
        n = len(self.ids)
        q = weighted_query(q_shape, q_colour, weight)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        mask = self.allowed(filters)
        use_ann = self.ann is not None and exact is not True
        if mask is not None:
            cand = np.nonzero(mask)[0]
            if not use_ann or len(cand) <= EXACT_SUBSET:  # rows read in place: a copy of 50k rows was 300 MB
                return self._top(self.score(cand, q), cand, k)  # and 4× slower (208 against 52 ms, measured)
        if not use_ann:
            scores = kernels.dot_all(self._plain[: self.base_n], q, self.threads)
            if len(self.extra):
                scores = np.concatenate([scores, kernels.dot_all(self.extra, q, self.threads)])
            return self._top(scores, np.arange(n), k)
        bits = None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
        budget = self.ann.budget(self.live(), None if mask is None else int(mask.sum()))
        want = max(RESCORE, 2 * k) if self.ann.kind == "ivf" else max(2 * k, 64)
        cand = self.ann.candidates(q, q_shape, q_colour, weight, want, budget, bits)
        if len(cand) and cand[-1] >= n:  # a newer view may already have appended rows to the shared ANN
            cand = cand[cand < n]
        if weight == 0.0:  # colour alone: a copy of the 1 KB colour parts beats reading whole 6 KB rows
            part = slice(self.shape_dim, None)
            return self._top(self.dot(self.rows(cand, part), q[part]), cand, k)
        return self._top(self.score(cand, q, self.threads), cand, k)  # on the team that scanned
