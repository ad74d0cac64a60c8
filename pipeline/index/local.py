"""The embedded index: SQLite is the truth, a numpy snapshot is the speed.

Each batch of items (metadata and both vectors) is written in one SQLite
transaction, so a crash mid-ingest leaves every committed batch intact and
nothing half-written; re-running skips content hashes already present. A
`generation` counter bumps with every write; the search matrix (and the
approximate index for big catalogues, see ann.py) is a snapshot tagged with
the generation it was built from, replaced atomically on disk. Writes since
then are applied to it in memory (new rows by `row`, deletions from
`tombstones`) until there are enough of them to rebuild (snapshot.py).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from itertools import starmap
from pathlib import Path
from typing import Any

import numpy as np

from ..types import Hit, Item
from . import INDEXES, Filters, IndexError_, check_weight
from .records import item_from_row
from .snapshot import Snapshot

FORMAT = "drape-local"
VERSION = 1
REFRESH_S = 0.05  # another handle's writes are searched within this (as Elasticsearch's refresh interval, 1 s by
                  # default); this handle's at once. Reading the generation cost ~60 µs per search with the
                  # caches cold after a 1M-item scan (measured), 3 % of the query.
SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    row INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    image TEXT NOT NULL,
    title TEXT, url TEXT, category TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT,
    shape BLOB NOT NULL,
    colour BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS items_hash ON items(content_hash);
-- A hit's metadata from this index alone: the table's rows carry 6 KB of vectors each, and at 1M items
-- reading 50 of them cost 4-6 ms per query against 0.5 ms here (measured, docs/scale.md).
CREATE INDEX IF NOT EXISTS items_meta ON items(id, image, title, url, category, attributes, content_hash);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tombstones (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL);
"""


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@INDEXES.register("local")
class LocalIndex:
    name = "local"

    def __init__(self, path: str | os.PathLike, shape_dim: int | None = None, colour_dim: int | None = None,
                 create: bool = False, ann: str = "auto", ann_threshold: int = 100_000,
                 signature: dict[str, Any] | None = None, threads: int = 2, **_: Any):
        self.path = Path(path)
        self.ann, self.ann_threshold, self.threads = ann, ann_threshold, threads
        manifest = self.path / "manifest.json"
        if manifest.exists():
            self.manifest = self._read_manifest(manifest)
            self._check_signature(signature or {}, shape_dim, colour_dim)
        elif create:
            if shape_dim is None or colour_dim is None:
                raise IndexError_("creating an index needs the vector sizes")
            # Ignoring a manifest temp file: a kill between mkdir and the manifest's rename leaves one.
            if self.path.exists() and any(not (f.name.startswith(".manifest.json.") and f.name.endswith(".tmp"))
                                          for f in self.path.iterdir()):
                raise IndexError_(f"{self.path} exists and is not a drape index; choose an empty or new directory")
            self.path.mkdir(parents=True, exist_ok=True)
            self.manifest = {"format": FORMAT, "version": VERSION, "shape_dim": shape_dim,
                             "colour_dim": colour_dim, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             **(signature or {})}
            _atomic_write(manifest, json.dumps(self.manifest, indent=2))
        else:
            what = "does not exist" if not self.path.exists() else "is not a drape index (no manifest.json)"
            raise IndexError_(f"index {self.path} {what}; build one with: python -m pipeline ingest SOURCE --index {self.path}")
        self.shape_dim = int(self.manifest["shape_dim"])
        self.colour_dim = int(self.manifest["colour_dim"])
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path / "items.sqlite", check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA page_size=16384")  # new files only: 6 KB vector rows fit a page, 2× faster bulk writes
            self._db.executescript(SCHEMA)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA cache_size=-65536")  # 64 MB: the id index stays hot for get() at 1M items
        except sqlite3.DatabaseError as exc:
            raise IndexError_(f"index {self.path} is damaged or not an index database: {exc}") from None
        self._snap: Snapshot | None = None
        self._fresh_until = 0.0  # time.monotonic() until which the snapshot is taken as current,
        self._fresh_for: tuple[str, int] | None = None  # for these (ann, ann_threshold)

    # -- identity ------------------------------------------------------------
    def _read_manifest(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise IndexError_(f"index manifest {path} is unreadable: {exc}") from None
        if data.get("format") != FORMAT:
            raise IndexError_(f"{self.path} holds a {data.get('format')!r} index, not a {FORMAT!r} one")
        if int(data.get("version", 0)) > VERSION:
            raise IndexError_(f"{self.path} was written by a newer version (format v{data['version']}); upgrade drape")
        return data

    def _check_signature(self, signature: dict[str, Any], shape_dim: int | None, colour_dim: int | None) -> None:
        want = dict(signature, **({"shape_dim": shape_dim} if shape_dim else {}),
                    **({"colour_dim": colour_dim} if colour_dim else {}))
        clash = {k: (self.manifest.get(k), v) for k, v in want.items() if k in self.manifest and self.manifest[k] != v}
        if clash:
            detail = ", ".join(f"{k}: index has {a!r}, config wants {b!r}" for k, (a, b) in clash.items())
            raise IndexError_(f"index {self.path} was built with other settings ({detail}); "
                              "re-ingest into a new directory or change the configuration")

    # -- writes ----------------------------------------------------------------
    def _bump(self, cur: sqlite3.Cursor) -> None:
        self._fresh_until = 0.0  # the next read looks again
        cur.execute("INSERT INTO meta(key, value) VALUES('generation', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def add(self, items: list[Item], shape: np.ndarray, colour: np.ndarray) -> int:
        """Upsert by id, all or nothing for the batch.

        REPLACE gives a re-added id a new, higher row, which is how a snapshot sees it changed."""
        shape = np.ascontiguousarray(shape, np.float32).reshape(len(items), self.shape_dim)
        colour = np.ascontiguousarray(colour, np.float32).reshape(len(items), self.colour_dim)
        rows = [(it.id, it.image, it.title, it.url, it.category, json.dumps(it.attributes, sort_keys=True),
                 it.content_hash, shape[i], colour[i]) for i, it in enumerate(items)]  # rows are buffers: no copy
        with self._lock, self._db:
            cur = self._db.cursor()
            cur.executemany(
                "INSERT OR REPLACE INTO items(id, image, title, url, category, attributes, content_hash, shape, "
                "colour) VALUES(?,?,?,?,?,?,?,?,?)", rows)
            self._bump(cur)
        return len(rows)

    def delete(self, ids: list[str]) -> int:
        with self._lock, self._db:
            cur = self._db.cursor()
            gone = [i for i in ids if cur.execute("DELETE FROM items WHERE id = ?", (i,)).rowcount]
            cur.executemany("INSERT INTO tombstones(id) VALUES(?)", [(i,) for i in gone])
            n = len(gone)
            if n:
                self._bump(cur)
        return n

    # -- reads -------------------------------------------------------------------
    def generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def hashes(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT content_hash FROM items WHERE content_hash IS NOT NULL")}

    def ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM items")}

    def get(self, ids: list[str]) -> list[Item]:
        found = {}
        with self._lock:
            for i in range(0, len(ids), 500):  # one query per 500 ids, under SQLite's variable limit
                part = ids[i: i + 500]
                for row in self._db.execute("SELECT id, image, title, url, category, attributes, content_hash "
                                            f"FROM items INDEXED BY items_meta WHERE id IN ({','.join('?' * len(part))})", part):
                    found[row[0]] = item_from_row(*row)
        return [found[i] for i in ids if i in found]

    def vectors(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Stored (shape, colour) vectors for ids, in order (for tests and tools)."""
        s, c = [], []
        with self._lock:
            for i in ids:
                row = self._db.execute("SELECT shape, colour FROM items WHERE id = ?", (i,)).fetchone()
                if row is None:
                    raise KeyError(i)
                s.append(np.frombuffer(row[0], np.float32))
                c.append(np.frombuffer(row[1], np.float32))
        return np.stack(s), np.stack(c)

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._snap is not None and time.monotonic() < self._fresh_until \
                    and self._fresh_for == (self.ann, self.ann_threshold):  # a mode set since: look again
                return self._snap
            gen = self.generation()
            mode = self._ann_mode(gen)
            if self._snap is None or self._snap.mode != mode:
                self._snap = Snapshot.open(self.path, self._db, gen, self.shape_dim, self.colour_dim,
                                           ann=mode, threads=self.threads)
            elif self._snap.generation != gen:  # apply the writes since, or compact if they are many
                self._snap = self._snap.refreshed(self.path, self._db, gen)
            self._fresh_until, self._fresh_for = time.monotonic() + REFRESH_S, (self.ann, self.ann_threshold)
            return self._snap

    def _ann_mode(self, generation: int | None = None) -> str:
        """The structure for the catalogue's size; `generation`: the one just read, if any (one SQLite
        query less per search)."""
        if self.ann == "auto":
            gen = self.generation() if generation is None else generation
            n = self._snap.live() if self._snap is not None and self._snap.generation == gen else self.count()
            return "ivf" if n > self.ann_threshold else "exact"
        return self.ann

    def flush(self) -> None:
        self.snapshot()

    def facets(self, field: str) -> list[str]:
        return self.snapshot().facets(field)

    def search(self, q_shape: np.ndarray, q_colour: np.ndarray, weight: float, k: int,
               filters: Filters | None = None, exact: bool | None = None) -> list[Hit]:
        q_shape, q_colour = np.asarray(q_shape, np.float32), np.asarray(q_colour, np.float32)
        check_weight(weight)
        snap = self.snapshot()
        rows, scores = snap.search(q_shape, q_colour, float(weight), k, filters, exact=exact)
        if not len(rows):
            return []
        shape_sim, colour_sim = snap.similarities(rows, q_shape, q_colour, float(weight), scores)
        items = snap.items(rows)
        if items is None:  # a base from before records.*: by id from SQLite
            found = {it.id: it for it in self.get([snap.ids[r] for r in rows])}
            items = [found[snap.ids[r]] for r in rows]
        # Python floats in one call per column, positional fields in a C loop (50 hits: 44 against 65 µs)
        return list(starmap(Hit, zip(items, scores.tolist(), shape_sim.tolist(), colour_sim.tolist(),
                                     range(1, len(items) + 1))))

    def info(self) -> dict[str, Any]:
        snap = self.snapshot()
        return {"backend": self.name, "path": str(self.path), "items": snap.live(), "mode": snap.mode,
                "generation": snap.generation, "ann_bytes": snap.ann.nbytes() if snap.ann is not None else 0,
                **{k: v for k, v in self.manifest.items() if k != "format"}}

    def bulk_add(self, chunks, total: int | None = None) -> int:
        """Load many (items, shape, colour) chunks fast; see bulk.py."""
        from .bulk import bulk_add

        return bulk_add(self, chunks, total)

    def close(self) -> None:
        with self._lock:
            self._db.close()
