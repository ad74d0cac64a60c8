"""Writing a snapshot base: the folder a `Snapshot` maps (see snapshot.py).

`vectors.f32` (float32 rows [s, c]), `records.*` (hit metadata, records.py),
`meta.json` (ids, filterable fields, SQLite high-water marks) and, per
approximate mode, `ann-<mode>/`. Bases are built in a temporary folder and
published by renaming it and swapping the `snapshot.json` pointer.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import ann as ann_mod
from .records import RecordWriter

MIN_ANN = 256           # fewer base rows than this: no ANN until a rebuild


def _bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", file=sys.stderr, disable=None, leave=False)


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
    """Copy every item into folder/vectors.f32, records.* and meta.json, in `row` order, from one read transaction."""
    db.execute("BEGIN")
    try:
        n, max_row = db.execute("SELECT COUNT(*), COALESCE(MAX(row), 0) FROM items").fetchone()
        tomb = db.execute("SELECT COALESCE(MAX(seq), 0) FROM tombstones").fetchone()[0]
        matrix = np.memmap(folder / "vectors.f32", np.float32, "w+", shape=(max(n, 1), dim))
        ids, fields, i = [], Fields(), 0
        cur = db.execute("SELECT id, image, title, url, category, attributes, content_hash, shape, colour "
                         "FROM items ORDER BY row")
        bar = _bar(n, "snapshot")
        with RecordWriter(folder) as records:
            while rows := cur.fetchmany(4096):
                for row in rows:
                    matrix[i, :shape_dim] = np.frombuffer(row[7], np.float32)
                    matrix[i, shape_dim:] = np.frombuffer(row[8], np.float32)
                    ids.append(row[0])
                    fields.append(i, row[4], row[5])
                    records.append(*row[:7])
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
