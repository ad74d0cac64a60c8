"""Features for many labelled images, cached on disk by content hash.

Training a probe and sweeping the rerank grid both need the same (shape,
colour) vectors the index stores; computing them costs seconds per dozen
images on a small CPU, so they are computed once per engine signature and
file content and kept in one .npz, re-written after every batch so an
interrupted run resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np


def _key(signature: dict[str, Any], settings: Any) -> str:
    # Everything that changes the vectors: the backends and the query-side processing.
    parts = dict(signature, parser=settings.parser, inpainter=settings.inpainter, max_side=settings.max_side,
                 restore=settings.restore, mask_background=settings.mask_background)
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _save(path: Path, hashes: list[str], shape: list[np.ndarray], colour: list[np.ndarray], key: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, hashes=np.asarray(hashes), shape=np.stack(shape).astype(np.float32),
             colour=np.stack(colour).astype(np.float32), key=np.asarray(key))
    os.replace(tmp, path)


def features(engine: Any, paths: Sequence[Path], cache: Path | None = None, batch: int = 32,
             progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(shape N×Ds, colour N×Dc) for `paths`, in order, as `engine.features_many` computes them."""
    from pipeline import imageio

    key = _key(engine.signature(), engine.settings)
    known: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if cache is not None:
        cache = Path(cache)
        cache = cache / f"features-{key}.npz" if cache.suffix != ".npz" else cache
        if cache.exists():
            with np.load(cache) as z:
                if str(z["key"]) == key:
                    known = {h: (s, c) for h, s, c in zip(z["hashes"].tolist(), z["shape"], z["colour"])}
    hashes = [_file_hash(Path(p)) for p in paths]
    todo = [i for i, h in enumerate(hashes) if h not in known]
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        images = [imageio.load_image(paths[i]) for i in chunk]
        for i, f in zip(chunk, engine.features_many(images)):
            known[hashes[i]] = (f.shape, f.colour)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            _save(cache, list(known), [s for s, _ in known.values()], [c for _, c in known.values()], key)
        if progress is not None:
            progress(min(start + batch, len(todo)), len(todo))
        else:
            print(f"features: {min(start + batch, len(todo))}/{len(todo)}", file=sys.stderr, flush=True)
    if not paths:
        return np.zeros((0, engine.embedder.dim), np.float32), np.zeros((0, engine.colour.dim), np.float32)
    return (np.stack([known[h][0] for h in hashes]).astype(np.float32),
            np.stack([known[h][1] for h in hashes]).astype(np.float32))
