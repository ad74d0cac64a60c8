"""What the Elasticsearch backend sends: the versioned mapping and the request bodies.

Pure functions, no client import, so the offline tests can pin every request.

Documents (one per catalogue item)::

    id, image, title, url, category, content_hash   item metadata (keyword/text)
    attributes     the item's attributes, stored, not indexed (object, enabled: false)
    filters        one keyword per filterable (field, value): '["pattern","striped"]'
    seq            insertion order (long): ties in score are broken by it, like
                   the local index breaks them by row
    shape, colour  the unit vectors (dense_vector, index: false: doc values only,
                   read by the exact rescoring script)
    combined       [shape, colour] (dense_vector, HNSW, max_inner_product): the
                   approximate weighted search, since [s, c]·[w·q_s, (1−w)·q_c] is
                   the weighted score (DESIGN.md §2)

Filter values travel as plain `terms` values on `filters`, whatever they
contain: they are never put into a script, a field path or a query string.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

FORMAT = "drape-es"
MAPPING_VERSION = 1
MAX_DIMS = 4096  # dense_vector limit
MAX_RESULT_WINDOW = 10_000  # index.max_result_window and the knn num_candidates cap
COMPOSITE_PAGE = 10_000  # buckets per page when listing ids, hashes and facet values
ITEM_FIELDS = ["id", "image", "title", "url", "category", "attributes", "content_hash"]
VECTOR_INDEX_TYPES = ("hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw")
SCORE_OFFSET = 1.0  # script_score must not be negative; w·s + (1−w)·c ≥ −1 for unit vectors

# Exact weighted score for script_score (the score context has dotProduct).
# dotProduct equals cosineSimilarity on unit vectors and equals what the local
# index computes for any vector; the offset keeps the score non-negative.
SCORE_SCRIPT = (
    "double s = params.w * dotProduct(params.qs, 'shape') + (1.0 - params.w) * dotProduct(params.qc, 'colour');"
    " return Math.max(0.0, s + params.offset);"
)
# The per-part cosines for each returned hit (script_fields run in the field
# context, which has the vector doc values but not the dotProduct function).
DOT_SCRIPT = (
    "float[] v = doc[params.field].vectorValue; List q = params.q; double s = 0.0;"
    " for (int i = 0; i < v.length; ++i) { s += v[i] * (double) q.get(i); } return s;"
)

_BAD_NAME = re.compile(r'[\\/*?"<>| ,#:A-Z]')


def check_index_name(name: str) -> str:
    """An index/alias name Elasticsearch accepts (it also goes into URLs: no commas or wildcards)."""
    if not isinstance(name, str) or not name or name in (".", "..") or _BAD_NAME.search(name) \
            or name[0] in "-_+" or len(name.encode()) > 200:
        raise ValueError(f"{name!r} is not a valid Elasticsearch index name: use lower-case letters, digits, '-', "
                         "'_' or '.', not starting with '-', '_' or '+', at most 200 bytes")
    return name


def doc_id(item_id: str) -> str:
    """The document _id: the item id itself (sent in bulk/mget bodies, never in a URL), or a
    hash of it when it does not fit (_id is at most 512 bytes). Deterministic, so idempotent."""
    raw = item_id.encode("utf-8")
    if 0 < len(raw) <= 512:
        return item_id
    return "~sha256:" + hashlib.sha256(raw).hexdigest()


def tag(field: str, value: Any) -> str:
    """The keyword that stands for `field = value` in the `filters` field (unambiguous for any strings)."""
    return json.dumps([str(field), str(value)], ensure_ascii=False, separators=(",", ":"))


def untag(term: str) -> tuple[str, str]:
    field, value = json.loads(term)
    return field, value


def filter_tags(category: str, attributes: dict[str, Any]) -> list[str]:
    """Filterable values of an item, with the local index's semantics: str(value), list
    elements one by one, None and "" left out, nested objects not filterable."""
    out = [tag("category", category)] if category else []
    attrs = json.loads(json.dumps(attributes or {}, sort_keys=True, default=str))  # as the local index stores them
    for key, value in attrs.items():
        if key == "category" or not isinstance(value, (str, int, float, bool, list)):
            continue
        for v in (value if isinstance(value, list) else [value]):
            if v is not None and v != "":
                out.append(tag(key, v))
    return sorted(set(out))


def filter_clauses(filters: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    """AND over fields, OR within a field; empty value lists are inactive (like the local index)."""
    clauses = []
    for field, values in (filters or {}).items():
        if values:
            clauses.append({"terms": {"filters": sorted({tag(field, v) for v in values})}})
    return clauses


def index_meta(shape_dim: int, colour_dim: int, signature: dict[str, Any] | None, vector_index: str,
               created: str) -> dict[str, Any]:
    extra = {k: v for k, v in (signature or {}).items() if k not in ("shape_dim", "colour_dim")}
    return {"format": FORMAT, "version": MAPPING_VERSION, "shape_dim": int(shape_dim), "colour_dim": int(colour_dim),
            "vector_index": vector_index, "created": created, **extra}


def mapping(shape_dim: int, colour_dim: int, meta: dict[str, Any], vector_index: str = "hnsw") -> dict[str, Any]:
    if vector_index not in VECTOR_INDEX_TYPES:
        raise ValueError(f"vector index type must be one of {', '.join(VECTOR_INDEX_TYPES)}, got {vector_index!r}")
    if shape_dim + colour_dim > MAX_DIMS:
        raise ValueError(f"shape_dim + colour_dim = {shape_dim + colour_dim} exceeds Elasticsearch's "
                         f"dense_vector limit of {MAX_DIMS}")
    dims = shape_dim + colour_dim
    if vector_index == "int4_hnsw" and dims % 2:
        raise ValueError(f"int4_hnsw needs an even number of dimensions, got {dims}")
    if vector_index == "bbq_hnsw" and dims < 64:
        raise ValueError(f"bbq_hnsw needs at least 64 dimensions, got {dims}")
    options = {"type": vector_index, "m": 16, "ef_construction": 100}
    return {
        "dynamic": "strict",
        "_meta": meta,
        "_source": {"excludes": ["combined"]},
        "properties": {
            "id": {"type": "keyword"},
            "image": {"type": "keyword", "index": False, "doc_values": False},
            "title": {"type": "text"},
            "url": {"type": "keyword", "index": False, "doc_values": False},
            "category": {"type": "keyword"},
            "attributes": {"type": "object", "enabled": False},
            "content_hash": {"type": "keyword"},
            "filters": {"type": "keyword", "ignore_above": 8191},
            "seq": {"type": "long"},
            "shape": {"type": "dense_vector", "dims": int(shape_dim), "index": False},
            "colour": {"type": "dense_vector", "dims": int(colour_dim), "index": False},
            "combined": {"type": "dense_vector", "dims": int(shape_dim + colour_dim), "index": True,
                         "similarity": "max_inner_product", "index_options": options},
        },
    }


def expected_fields(shape_dim: int, colour_dim: int) -> dict[str, dict[str, Any]]:
    """The mapping facts search and ingest rely on (checked when an index is opened)."""
    return {
        "id": {"type": "keyword"}, "category": {"type": "keyword"}, "content_hash": {"type": "keyword"},
        "filters": {"type": "keyword"}, "seq": {"type": "long"},
        "shape": {"type": "dense_vector", "dims": shape_dim},
        "colour": {"type": "dense_vector", "dims": colour_dim},
        "combined": {"type": "dense_vector", "dims": shape_dim + colour_dim, "similarity": "max_inner_product"},
    }


def document(item, shape: list[float], colour: list[float], seq: int) -> dict[str, Any]:
    return {
        "id": item.id, "image": item.image, "title": item.title, "url": item.url, "category": item.category,
        "attributes": item.attributes or {}, "content_hash": item.content_hash,
        "filters": filter_tags(item.category, item.attributes), "seq": int(seq),
        "shape": shape, "colour": colour, "combined": shape + colour,
    }


def plan(k: int, oversample: int = 4, min_candidates: int = 100) -> dict[str, int]:
    """Sizes for one search: `window` approximate candidates are rescored exactly, the best
    `fetch` (k plus a margin for float32 score ties at the cut) come back and are ordered
    exactly client-side; `num_candidates` is the HNSW beam per shard."""
    window = min(MAX_RESULT_WINDOW, max(k * oversample, min_candidates, k))
    num_candidates = min(MAX_RESULT_WINDOW, max(2 * window, 200))
    fetch = min(window, k + max(10, k // 2))
    return {"window": window, "num_candidates": num_candidates, "fetch": fetch}


def search_body(q_weighted: list[float], q_shape: list[float], q_colour: list[float], weight: float, k: int,
                filters: dict[str, list[str]] | None, exact: bool, oversample: int = 4) -> dict[str, Any]:
    """One request: candidates (approximate kNN with the filters inside the knn clause, or every
    filtered document when exact), exact weighted rescoring with script_score, ties by seq,
    and each hit's shape and colour cosines as script fields."""
    sizes = plan(k, oversample=oversample)
    clauses = filter_clauses(filters)
    if exact:
        candidates: dict[str, Any] = {"bool": {"filter": clauses}} if clauses else {"match_all": {}}
        size = min(MAX_RESULT_WINDOW, k + max(10, k // 2))
    else:
        candidates = {"knn": {"field": "combined", "query_vector": q_weighted, "k": sizes["window"],
                              "num_candidates": sizes["num_candidates"]}}
        if clauses:
            candidates["knn"]["filter"] = clauses
        size = sizes["fetch"]
    return {
        "size": size,
        "query": {"script_score": {"query": candidates, "script": {
            "source": SCORE_SCRIPT, "params": {"w": float(weight), "qs": q_shape, "qc": q_colour,
                                               "offset": SCORE_OFFSET}}}},
        "sort": [{"_score": {"order": "desc"}}, {"seq": {"order": "asc"}}],
        "source": {"includes": ITEM_FIELDS + ["seq"]},
        "script_fields": {
            "shape_sim": {"script": {"source": DOT_SCRIPT, "params": {"field": "shape", "q": q_shape}}},
            "colour_sim": {"script": {"source": DOT_SCRIPT, "params": {"field": "colour", "q": q_colour}}},
        },
        "track_total_hits": False,
    }


def composite_body(field: str, after: dict[str, Any] | None = None, size: int = COMPOSITE_PAGE) -> dict[str, Any]:
    comp: dict[str, Any] = {"size": size, "sources": [{"v": {"terms": {"field": field}}}]}
    if after:
        comp["after"] = after
    return {"size": 0, "aggs": {"values": {"composite": comp}}, "track_total_hits": False}
