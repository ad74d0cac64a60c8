"""Index backends under test: every backend passes the same conformance suite.

Elasticsearch joins when ELASTICSEARCH_URL is set (a live cluster, with
ELASTIC_API_KEY if it needs one), in its approximate (knn + exact rescoring)
and exact modes; otherwise its cases are skipped with that reason. The
"elasticsearch-offline" cases run the same backend code through the real client
against an in-memory emulator (es_fake.py): they check the client side only.
"""
from __future__ import annotations

import os
import uuid

import pytest

from pipeline.index import INDEXES

BACKENDS = ["local-exact", "local-hnsw", "local-ivf", "elasticsearch-offline",
            pytest.param("elasticsearch", marks=pytest.mark.live),
            pytest.param("elasticsearch-exact", marks=pytest.mark.live)]
_LIVE_ES_INDEXES: list[str] = []


def _es_client_or_skip() -> None:
    try:
        import elasticsearch  # noqa: F401
    except ImportError:
        pytest.skip("the Elasticsearch client is not installed: pip install elasticsearch==9.5.1")


def make_index(kind: str, tmp_path, shape_dim: int, colour_dim: int):
    if kind == "local-exact":
        return INDEXES.create("local", path=tmp_path / "idx", create=True, shape_dim=shape_dim,
                              colour_dim=colour_dim, ann="exact")
    if kind in ("local-hnsw", "local-ivf"):
        return INDEXES.create("local", path=tmp_path / "idx", create=True, shape_dim=shape_dim,
                              colour_dim=colour_dim, ann=kind.split("-")[1])
    if kind == "elasticsearch-offline":
        _es_client_or_skip()
        from .es_fake import FakeCluster

        cluster = FakeCluster()
        index = INDEXES.create("elasticsearch", path=None, create=True, shape_dim=shape_dim, colour_dim=colour_dim,
                               es_index="drape-test", connection=cluster.connection())
        index.fake_cluster = cluster
        return index
    if kind in ("elasticsearch", "elasticsearch-exact"):
        if not os.environ.get("ELASTICSEARCH_URL"):
            pytest.skip("live Elasticsearch suite: set ELASTICSEARCH_URL to run it")
        _es_client_or_skip()
        name = f"drape-test-{uuid.uuid4().hex[:8]}"
        _LIVE_ES_INDEXES.append(name)
        return INDEXES.create("elasticsearch", path=None, create=True, shape_dim=shape_dim, colour_dim=colour_dim,
                              es_index=name, ann="exact" if kind.endswith("exact") else "auto")
    raise ValueError(kind)


def reopen(kind: str, index, tmp_path):
    if kind.startswith("local"):
        index.close()
        return INDEXES.create("local", path=tmp_path / "idx", ann=kind.split("-")[1])
    if kind == "elasticsearch-offline":
        reopened = INDEXES.create("elasticsearch", path=None, es_index=index.index_name,
                                  connection=index.fake_cluster.connection())
        index.close()
        return reopened
    index.close()
    return INDEXES.create("elasticsearch", path=None, es_index=index.index_name, ann=index.ann)


@pytest.fixture(scope="session", autouse=True)
def _drop_live_es_indexes():
    """Delete the indexes the live suite created (they are named drape-test-*)."""
    yield
    for name in _LIVE_ES_INDEXES:
        try:
            index = INDEXES.create("elasticsearch", path=None, es_index=name)
        except Exception:
            continue
        try:
            index.drop()
        finally:
            index.close()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
