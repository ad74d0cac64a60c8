"""The search-side view of a local index.

A base folder `snap-<generation>` holds `vectors.f32` (float32 rows [s, c],
memory-mapped, never loaded whole), `meta.json` (ids, filterable fields, and
the SQLite high-water marks it was built from) and, per approximate mode, an
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
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from . import ann as ann_mod

EXACT_SUBSET = 50_000   # a filter passing fewer items is scanned exactly: cheaper than a thinned ANN
RESCORE = 160           # shortlist rescored exactly per ANN side (float32 rows): 120 already gave recall@50 0.9997 at 1M
COMPACT_SHARE = 0.25    # appended + masked rows, as a share of the base, that trigger a rebuild,
COMPACT_ROWS = 50_000   # or this many: appended rows live in RAM (300 MB at 1536 dims)
MIN_ANN = 256           # fewer base rows than this: no ANN until a rebuild
MADV_POPULATE_READ = 22  # Linux ≥ 5.14: map the file's cached pages now, not one fault per row later


def _bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", file=sys.stderr, disable=None, leave=False)


def _id_hash(ids: list[str]) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little") for i in ids],
                    np.uint64)


class Fields:
    """Filterable values per position, filled while rows stream in."""

    def __init__(self, meta: dict[str, list[Any]] | None = None):
        self.values: dict[str, list[Any]] = meta or {"category": []}

    def append(self, n: int, category: str | None, attrs: str | None) -> None:
        self.values["category"].append(category or "")
        for key, value in json.loads(attrs or "{}").items():
            if isinstance(value, (str, int, float, bool, list)):
                self.values.setdefault(key, [None] * n).append(value)
        for col in self.values.values():
            if len(col) < n + 1:
                col.append(None)


def write_base(folder: Path, ids: list[str], fields: Fields, marks: dict[str, int], dim: int) -> None:
    (folder / "meta.json").write_text(json.dumps({"ids": ids, "fields": fields.values, "dim": dim, **marks}))


def stream_rows(db: sqlite3.Connection, folder: Path, dim: int, shape_dim: int) -> dict[str, int]:
    """Copy every item into folder/vectors.f32 + meta.json, in `row` order, from one read transaction."""
    db.execute("BEGIN")
    try:
        n, max_row = db.execute("SELECT COUNT(*), COALESCE(MAX(row), 0) FROM items").fetchone()
        tomb = db.execute("SELECT COALESCE(MAX(seq), 0) FROM tombstones").fetchone()[0]
        matrix = np.memmap(folder / "vectors.f32", np.float32, "w+", shape=(max(n, 1), dim))
        ids, fields, i = [], Fields(), 0
        cur = db.execute("SELECT id, category, attributes, shape, colour FROM items ORDER BY row")
        bar = _bar(n, "snapshot")
        while rows := cur.fetchmany(4096):
            for iid, category, attrs, s, c in rows:
                matrix[i, :shape_dim] = np.frombuffer(s, np.float32)
                matrix[i, shape_dim:] = np.frombuffer(c, np.float32)
                ids.append(iid)
                fields.append(i, category, attrs)
                i += 1
            bar.update(len(rows))
        bar.close()
        matrix.flush()
        del matrix
    finally:
        db.execute("COMMIT")
    marks = {"max_row": int(max_row), "tomb_seq": int(tomb)}
    write_base(folder, ids, fields, marks, dim)
    return marks


def build_ann(folder: Path, mode: str, shape_dim: int, threads: int) -> None:
    """Train on a sample of the base rows, then encode them all, into folder/ann-<mode>."""
    meta = json.loads((folder / "meta.json").read_text())
    n, dim = len(meta["ids"]), meta["dim"]
    if mode == "exact" or (folder / f"ann-{mode}").exists():
        return
    if n < MIN_ANN:
        return  # a handful of rows: exact search is instant, and quantisers cannot train on them
    matrix = np.memmap(folder / "vectors.f32", np.float32, "r", shape=(n, dim))
    bar = _bar(n, f"ann-{mode}")
    index = ann_mod.KINDS[mode].build(matrix, n, shape_dim, threads, bar)
    bar.close()
    tmp = folder / f".ann-{mode}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    index.save(tmp)
    os.replace(tmp, folder / f"ann-{mode}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def sweep(root: Path) -> None:
    """Remove half-built snapshots, pointers and bulk stagings of writers that died (killed mid-build)."""
    for p in root.glob(".*.tmp"):
        parts = p.name.split(".")
        if p.name.startswith((".snap-", ".snapshot.", ".bulk.")) and len(parts) >= 3 and parts[-2].isdigit() \
                and not _alive(int(parts[-2])):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def publish(root: Path, tmp: Path, generation: int) -> str:
    """Move a finished base into place and point at it; older bases go (open mmaps stay valid)."""
    name = f"snap-{generation}"
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    ptmp = root / f".snapshot.{os.getpid()}.tmp"
    ptmp.write_text(json.dumps({"generation": generation, "folder": name, "layout": 2}))
    os.replace(ptmp, root / "snapshot.json")
    for old in root.glob("snap-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    sweep(root)
    return name


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
        rows = db.execute("SELECT row, id, category, attributes, shape, colour FROM items WHERE row > ? "
                          "ORDER BY row", (self.max_row,)).fetchall()
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
        for j, (row, iid, category, attrs, s, c) in enumerate(rows):
            vecs[j, : self.shape_dim] = np.frombuffer(s, np.float32)
            vecs[j, self.shape_dim:] = np.frombuffer(c, np.float32)
            new.ids.append(iid)
            new.fields.append(start + j, category, attrs)
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

    @property
    def matrix(self) -> np.ndarray:
        """Every position's row (dead ones included); the base alone stays memory-mapped."""
        if not len(self.extra):
            return self.base[: self.base_n]
        return self.rows(np.arange(len(self.ids)))

    def shape_part(self, pos: np.ndarray) -> np.ndarray:
        return self.rows(pos)[:, : self.shape_dim]

    def colour_part(self, pos: np.ndarray) -> np.ndarray:
        return self.rows(pos)[:, self.shape_dim:]

    dot = staticmethod(ann_mod.dot)

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
        part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        order = np.lexsort((positions[part], -scores[part]))  # ties: earlier-indexed item first
        sel = part[order]
        return positions[sel], scores[sel]

    def search(self, q_shape: np.ndarray, q_colour: np.ndarray, weight: float, k: int, filters=None,
               exact: bool | None = None):
        n = len(self.ids)
        q = np.concatenate([weight * q_shape, (1.0 - weight) * q_colour]).astype(np.float32)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        mask = self.allowed(filters)
        use_ann = self.ann is not None and exact is not True
        if mask is not None:
            cand = np.nonzero(mask)[0]
            if not use_ann or len(cand) <= EXACT_SUBSET:
                return self._top(self.dot(self.rows(cand), q), cand, k)
        if not use_ann:
            scores = np.asarray(self.base[: self.base_n]) @ q
            if len(self.extra):
                scores = np.concatenate([scores, self.extra @ q])
            return self._top(scores, np.arange(n), k)
        bits = None
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
        budget = self.ann.budget(self.live(), None if mask is None else int(mask.sum()))
        want = max(RESCORE, 2 * k) if self.ann.kind == "ivf" else max(2 * k, 64)
        cand = np.sort(self.ann.candidates(q_shape, q_colour, weight, want, budget, bits, n))
        cand = cand[cand < n]  # a newer view may already have appended rows to the shared ANN
        if weight in (0.0, 1.0):  # one part carries the whole score: read only that part of each row
            part = slice(None, self.shape_dim) if weight == 1.0 else slice(self.shape_dim, None)
            return self._top(self.dot(self.rows(cand, part), q[part]), cand, k)
        return self._top(self.dot(self.rows(cand), q), cand, k)
