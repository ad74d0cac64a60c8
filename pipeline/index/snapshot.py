"""The search-side view of a local index at one generation.

Vectors live in `snap-<generation>/vectors.npy` (memory-mapped), ids and
filterable fields beside them, and `snapshot.json` points at the current
one. Building writes a new folder and then swaps the pointer, so a reader
never sees a half-built snapshot.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

HNSW_M = 32
EF_CONSTRUCTION = 80


def _faiss(threads: int):
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("approximate search needs FAISS: pip install faiss-cpu==1.15.1") from exc
    faiss.omp_set_num_threads(threads)
    return faiss


def _dead_writer(path: Path) -> bool:
    """Whether a `.<name>.<pid>.tmp` was left by a process that no longer runs (another live
    process may be building its own snapshot right now: never touch that one)."""
    try:
        pid = int(path.name.rsplit(".", 2)[-2])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, someone else's
        return False
    return False


class Snapshot:
    def __init__(self, folder: Path, generation: int, shape_dim: int, mode: str, threads: int):
        self.folder, self.generation, self.shape_dim, self.mode = folder, generation, shape_dim, mode
        self.threads = threads
        self.matrix = np.load(folder / "vectors.npy", mmap_mode="r") if (folder / "vectors.npy").exists() \
            else np.zeros((0, 0), np.float32)
        meta = json.loads((folder / "meta.json").read_text())
        self.ids: list[str] = meta["ids"]
        self.fields: dict[str, list[Any]] = meta["fields"]  # field -> value (str or list) per position
        self._inverted: dict[str, dict[str, np.ndarray]] = {}
        self.hnsw = None
        if mode == "hnsw" and (folder / "hnsw.faiss").exists():
            self.hnsw = _faiss(threads).read_index(str(folder / "hnsw.faiss"))

    # -- build -----------------------------------------------------------------
    @classmethod
    def load_or_build(cls, root: Path, db: sqlite3.Connection, generation: int, shape_dim: int, colour_dim: int,
                      ann: str, threads: int) -> "Snapshot":
        pointer = root / "snapshot.json"
        try:
            cur = json.loads(pointer.read_text())
            if cur["generation"] == generation and cur["mode"] == ann:
                return cls(root / cur["folder"], generation, shape_dim, ann, threads)
        except (OSError, ValueError, KeyError):
            pass  # missing or stale pointer: rebuild below
        name = f"snap-{generation}-{ann}"
        tmp = root / f".{name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        rows = db.execute("SELECT id, category, attributes, shape, colour FROM items ORDER BY row").fetchall()
        dim = shape_dim + colour_dim
        matrix = np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=np.float32, shape=(len(rows), dim))
        ids, fields = [], {"category": []}
        for i, (iid, category, attrs, s, c) in enumerate(rows):
            matrix[i, :shape_dim] = np.frombuffer(s, np.float32)
            matrix[i, shape_dim:] = np.frombuffer(c, np.float32)
            ids.append(iid)
            fields["category"].append(category or "")
            for key, value in json.loads(attrs or "{}").items():
                if isinstance(value, (str, int, float, bool, list)):
                    fields.setdefault(key, [None] * i).append(value)
            for col in fields.values():
                if len(col) < i + 1:
                    col.append(None)
        matrix.flush()
        del matrix
        (tmp / "meta.json").write_text(json.dumps({"ids": ids, "fields": fields}))
        if ann == "hnsw" and rows:
            faiss = _faiss(threads)
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = EF_CONSTRUCTION
            index.add(np.load(tmp / "vectors.npy"))
            faiss.write_index(index, str(tmp / "hnsw.faiss"))
        final = root / name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        ptmp = root / f".snapshot.{os.getpid()}.tmp"
        ptmp.write_text(json.dumps({"generation": generation, "mode": ann, "folder": name}))
        os.replace(ptmp, pointer)
        for old in root.glob("snap-*"):  # readers of old folders keep their mmaps open
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        for tmp_left in [*root.glob(".snap-*.tmp"), *root.glob(".snapshot.*.tmp")]:
            if _dead_writer(tmp_left):  # a build killed mid-way: a whole copy of the vectors, never reused
                shutil.rmtree(tmp_left, ignore_errors=True) if tmp_left.is_dir() else tmp_left.unlink(missing_ok=True)
        return cls(final, generation, shape_dim, ann, threads)

    # -- filters ---------------------------------------------------------------
    def _positions(self, field: str) -> dict[str, np.ndarray]:
        if field not in self._inverted:
            inv: dict[str, list[int]] = {}
            for pos, value in enumerate(self.fields.get(field, [])):
                for v in (value if isinstance(value, list) else [value]):
                    if v is not None and v != "":
                        inv.setdefault(str(v), []).append(pos)
            self._inverted[field] = {k: np.asarray(v, np.int64) for k, v in inv.items()}
        return self._inverted[field]

    def allowed(self, filters: dict[str, list[str]] | None) -> np.ndarray | None:
        """Bool mask of positions passing every filter, or None for no filter."""
        active = {f: v for f, v in (filters or {}).items() if v}
        if not active:
            return None
        mask = np.ones(len(self.ids), bool)
        for field, values in active.items():
            inv = self._positions(field)
            keep = np.zeros(len(self.ids), bool)
            for v in values:
                if str(v) in inv:
                    keep[inv[str(v)]] = True
            mask &= keep
        return mask

    def facets(self, field: str) -> list[str]:
        return sorted(self._positions(field))

    # -- search ------------------------------------------------------------------
    def shape_part(self, pos: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix[pos, : self.shape_dim])

    def colour_part(self, pos: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix[pos, self.shape_dim:])

    @staticmethod
    def _top(scores: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(scores))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        order = np.lexsort((positions[part], -scores[part]))  # ties: earlier-indexed item first
        sel = part[order]
        return positions[sel], scores[sel]

    def search(self, q: np.ndarray, k: int, filters=None, exact: bool | None = None):
        n = len(self.ids)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        mask = self.allowed(filters)
        use_ann = self.hnsw is not None and exact is not True
        if mask is not None:
            cand = np.nonzero(mask)[0]
            # A selective filter is cheaper, and exact, as a brute-force scan of its subset.
            if not use_ann or len(cand) <= 50_000:
                return self._top(np.asarray(self.matrix[cand]) @ q, cand, k)
        if not use_ann:
            return self._top(np.asarray(self.matrix) @ q, np.arange(n), k)
        return self._ann(q, k, mask)

    def _ann(self, q: np.ndarray, k: int, mask: np.ndarray | None):
        faiss = _faiss(self.threads)
        want = min(len(self.ids), max(2 * k, 64))
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(2 * want, 128)
        if mask is not None:
            sel = faiss.IDSelectorBatch(np.nonzero(mask)[0].astype(np.int64))
            params.sel = sel
        _, found = self.hnsw.search(q[None, :], want, params=params)
        cand = found[0][found[0] >= 0]
        # Exact rescoring of the candidates with the weighted formula.
        return self._top(np.asarray(self.matrix[cand]) @ q, cand, k)
