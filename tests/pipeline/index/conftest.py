"""Index backends under test: every backend passes the same conformance suite.

Elasticsearch joins when ELASTICSEARCH_URL is set (a live cluster); otherwise
its cases are skipped with that reason.
"""
from __future__ import annotations

import os
import uuid

import pytest

from pipeline.index import INDEXES

BACKENDS = ["local-exact", "local-hnsw", "elasticsearch"]


def make_index(kind: str, tmp_path, shape_dim: int, colour_dim: int):
    if kind == "local-exact":
        return INDEXES.create("local", path=tmp_path / "idx", create=True, shape_dim=shape_dim,
                              colour_dim=colour_dim, ann="exact")
    if kind == "local-hnsw":
        return INDEXES.create("local", path=tmp_path / "idx", create=True, shape_dim=shape_dim,
                              colour_dim=colour_dim, ann="hnsw")
    if kind == "elasticsearch":
        if not os.environ.get("ELASTICSEARCH_URL"):
            pytest.skip("live Elasticsearch suite: set ELASTICSEARCH_URL to run it")
        if "elasticsearch" not in INDEXES:
            pytest.skip("the elasticsearch backend is not installed")
        return INDEXES.create("elasticsearch", path=None, create=True, shape_dim=shape_dim, colour_dim=colour_dim,
                              es_index=f"drape-test-{uuid.uuid4().hex[:8]}")
    raise ValueError(kind)


def reopen(kind: str, index, tmp_path):
    if kind.startswith("local"):
        index.close()
        return INDEXES.create("local", path=tmp_path / "idx", ann=kind.split("-")[1])
    return index


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
