"""Vector indexes: one Protocol, one file per backend, a plain registry.

Every index stores, per item, a shape vector s and a colour vector c (both
unit length) and answers `w·cos(s, q_s) + (1−w)·cos(c, q_c)` top-k for any w
chosen per query (DESIGN.md §2). Filters restrict candidates inside the
index: {"category": ["dress", "skirt"], "pattern": ["striped"]} means
category ∈ {dress, skirt} AND pattern = striped.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..registry import Registry
from ..types import Hit, Item

Filters = dict[str, list[str]]


class IndexError_(RuntimeError):
    """A clear, user-facing index problem (missing, foreign, mismatched, unreachable)."""


@runtime_checkable
class Index(Protocol):
    name: str
    shape_dim: int
    colour_dim: int

    def count(self) -> int: ...

    def add(self, items: list[Item], shape: np.ndarray, colour: np.ndarray) -> int: ...

    def delete(self, ids: list[str]) -> int: ...

    def get(self, ids: list[str]) -> list[Item]: ...

    def hashes(self) -> set[str]: ...

    def search(self, q_shape: np.ndarray, q_colour: np.ndarray, weight: float, k: int,
               filters: Filters | None = None) -> list[Hit]: ...

    def facets(self, field: str) -> list[str]: ...

    def info(self) -> dict[str, Any]: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


INDEXES: Registry[Index] = Registry("index")



def open_index(settings, signature: dict[str, Any], create: bool = False) -> Index:
    """The configured index backend, checked against the engine's signature."""
    return INDEXES.create(
        settings.backend, path=settings.index_dir, create=create, ann=settings.ann,
        ann_threshold=settings.ann_threshold, signature=signature, threads=settings.threads,
        shape_dim=signature.get("shape_dim"), colour_dim=signature.get("colour_dim"),
        es_index=settings.es_index,
    )


def check_weight(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")


def weighted_query(q_shape: np.ndarray, q_colour: np.ndarray, weight: float) -> np.ndarray:
    """q_w = [w·q_s, (1−w)·q_c]: its inner product with [s, c] is the patent's score."""
    check_weight(weight)
    q = np.empty(len(q_shape) + len(q_colour), np.float32)
    np.multiply(q_shape, weight, out=q[: len(q_shape)])
    np.multiply(q_colour, 1.0 - weight, out=q[len(q_shape):])
    return q


def matches(item_category: str, attributes: dict[str, Any], filters: Filters | None) -> bool:
    """Reference semantics of filters (indexes may implement them natively)."""
    for field, allowed in (filters or {}).items():
        if not allowed:
            continue
        value = item_category if field == "category" else attributes.get(field)
        values = value if isinstance(value, list) else [value]
        if not any(str(v) in allowed for v in values if v is not None and v != ""):  # "" is no value, as in the indexes
            return False
    return True


from . import local  # noqa: E402,F401  (registers "local")


@INDEXES.register("elasticsearch")
def _elasticsearch(**kwargs: Any) -> Index:
    """Imported on use, so this package imports without the Elasticsearch client installed."""
    from .elasticsearch import ElasticsearchIndex

    return ElasticsearchIndex(**kwargs)
