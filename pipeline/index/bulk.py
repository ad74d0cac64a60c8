"""Bulk load: many chunks into SQLite and, for an empty index, straight into a snapshot.

SQLite stays the truth (each chunk is one transaction, so an interrupted load
keeps every finished chunk). When the index starts empty the same vectors are
also appended to a staging snapshot, so the first search does not read
gigabytes of blobs back out of SQLite; the staging base is published only if
SQLite ends up holding exactly the staged rows (no duplicate ids, no writer
beside us), otherwise the next search rebuilds from SQLite as usual.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from typing import Iterable

import numpy as np

from ..types import Item
from .base import Fields, build_ann, publish, write_base
from .records import RecordWriter


def bulk_add(index, chunks: Iterable[tuple[list[Item], np.ndarray, np.ndarray]], total: int | None = None) -> int:
    from tqdm import tqdm

    staging, usable = None, False
    if index.count() == 0:
        staging = index.path / f".bulk.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        usable = True
    ids: list[str] = []
    fields, seen, n = Fields(), set(), 0
    bar = tqdm(total=total, desc="bulk add", unit="row", file=sys.stderr, disable=None, leave=False)
    try:
        with open(staging / "vectors.f32", "wb") if staging else open(os.devnull, "wb") as out, \
                RecordWriter(staging) if staging else contextlib.nullcontext() as records:
            for items, shape, colour in chunks:
                shape = np.ascontiguousarray(shape, np.float32)
                colour = np.ascontiguousarray(colour, np.float32)
                index.add(items, shape, colour)
                n += len(items)
                bar.update(len(items))
                if not usable:
                    continue
                out.write(np.hstack([shape, colour]).tobytes())
                for it in items:
                    if it.id in seen:  # REPLACE keeps one row; the staging file would hold two
                        usable = False
                        break
                    seen.add(it.id)
                    attrs = json.dumps(it.attributes, sort_keys=True)
                    fields.append(len(ids), it.category, attrs)
                    records.append(it.id, it.image, it.title, it.url, it.category, attrs, it.content_hash)
                    ids.append(it.id)
        bar.close()
        if usable:
            _publish(index, staging, ids, fields)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return n


def _publish(index, staging, ids: list[str], fields: Fields) -> None:
    with index._lock:
        db = index._db
        count, max_row = db.execute("SELECT COUNT(*), COALESCE(MAX(row), 0) FROM items").fetchone()
        tomb = db.execute("SELECT COALESCE(MAX(seq), 0) FROM tombstones").fetchone()[0]
        first = db.execute("SELECT id FROM items ORDER BY row LIMIT 1").fetchone()
        if count != len(ids) or not ids or first[0] != ids[0]:
            return  # someone else wrote too: let the normal path rebuild from SQLite
        write_base(staging, ids, fields, {"max_row": int(max_row), "tomb_seq": int(tomb)},
                   index.shape_dim + index.colour_dim)
        mode = index._ann_mode()
        build_ann(staging, mode, index.shape_dim, index.threads)
        generation = index.generation()
        done = staging.with_name(staging.name + ".ready")
        os.replace(staging, done)
        publish(index.path, done, generation)
        index._snap = None
