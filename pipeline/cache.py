"""Feature cache: an image's content hash → its (shape, colour) vectors.

Re-ingesting the same photo under another id, into another index, or after an
interrupted run skips every model. Entries are keyed by the content hash
inside a file named by the pipeline's signature (every setting that changes
the vectors), so a different embedder, parser or resize never reads stale
vectors. One SQLite file per signature under <home>/cache; each batch is one
transaction, so a killed ingest keeps what it computed.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .types import Features

VERSION = 1  # bump when feature code changes in a way the settings do not show


def signature(engine) -> dict[str, Any]:
    s = engine.settings
    return {**engine.signature(), "parser": s.parser, "inpainter": s.inpainter, "restore": s.restore,
            "max_side": s.max_side, "mask_background": s.mask_background, "models": dict(sorted(s.models.items())),
            "cache_version": VERSION}


class FeatureCache:
    def __init__(self, folder: str | Path, sig: dict[str, Any]):
        text = json.dumps(sig, sort_keys=True, default=str)
        self.path = Path(folder) / f"features-{hashlib.sha256(text.encode()).hexdigest()[:16]}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript("CREATE TABLE IF NOT EXISTS features (hash TEXT PRIMARY KEY, shape BLOB NOT NULL, "
                               "colour BLOB NOT NULL); CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);")
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES('signature', ?)", (text,))

    @classmethod
    def for_engine(cls, engine) -> "FeatureCache":
        return cls(engine.settings.home / "cache", signature(engine))

    def get_many(self, hashes: list[str]) -> dict[str, Features]:
        out: dict[str, Features] = {}
        wanted = [h for h in dict.fromkeys(hashes) if h]
        with self._lock:
            for i in range(0, len(wanted), 500):
                part = wanted[i: i + 500]
                for h, s, c in self._db.execute(f"SELECT hash, shape, colour FROM features WHERE hash IN "
                                                f"({','.join('?' * len(part))})", part):
                    out[h] = Features(np.frombuffer(s, np.float32).copy(), np.frombuffer(c, np.float32).copy())
        return out

    def put_many(self, pairs: list[tuple[str, Features]]) -> None:
        rows = [(h, np.ascontiguousarray(f.shape, np.float32).tobytes(),
                 np.ascontiguousarray(f.colour, np.float32).tobytes()) for h, f in pairs if h and f is not None]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO features VALUES(?,?,?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM features").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def cached_features(engine, cache: FeatureCache | None, images: list[np.ndarray], hashes: list[str],
                    pool=None) -> tuple[list[Features], int]:
    """Features for a batch: cached ones as stored, the rest through the models (one batch) and stored.

    Returns the features in input order and how many came from the cache."""
    hits = cache.get_many(hashes) if cache is not None else {}
    keys = [h or f"#{i}" for i, h in enumerate(hashes)]  # no hash: never shared
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in hits and key not in first:  # one photo under two ids in a batch: computed once
            first[key] = i
    need = list(first.values())
    computed = engine.features_many([images[i] for i in need], pool=pool) if need else []
    if cache is not None and need:
        cache.put_many([(hashes[i], f) for i, f in zip(need, computed)])
    fresh = {keys[i]: f for i, f in zip(need, computed)}
    return [hits[k] if k in hits else fresh[k] for k in keys], len(hashes) - len(need)
