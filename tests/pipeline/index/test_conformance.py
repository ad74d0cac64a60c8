"""The conformance suite every index backend passes (Haystack-style)."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.types import Item

from .conftest import make_index, reopen

DS, DC = 24, 12
N = 300
CATS = ["dress", "skirt", "pants", "hat"]


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    shape, colour = unit(rng.normal(size=(N, DS))), unit(rng.random((N, DC)))
    items = [Item(id=f"item-{i:04d}", image=f"/img/{i}.jpg", title=f"Item {i}", category=CATS[i % 4],
                  attributes={"pattern": ["striped", "solid"][i % 2], "colour": ["red", "blue", "green"][i % 3]},
                  content_hash=f"h{i}") for i in range(N)]
    return items, shape, colour


@pytest.fixture
def filled(backend, tmp_path, data):
    items, shape, colour = data
    index = make_index(backend, tmp_path, DS, DC)
    for i in range(0, N, 64):  # several batches, as an ingest writes them
        index.add(items[i:i + 64], shape[i:i + 64], colour[i:i + 64])
    index.flush()
    yield index
    index.close()


def reference(shape, colour, qs, qc, w, allowed=None):
    scores = w * (shape @ qs) + (1 - w) * (colour @ qc)
    order = np.lexsort((np.arange(len(scores)), -scores))
    if allowed is not None:
        order = [i for i in order if allowed[i]]
    return list(order), scores


def test_empty_index_returns_nothing(backend, tmp_path):
    index = make_index(backend, tmp_path, DS, DC)
    index.flush()
    assert index.count() == 0
    assert index.search(unit(np.ones(DS)), unit(np.ones(DC)), 0.5, 10) == []
    index.close()


def test_count_and_upsert_do_not_duplicate(filled, data):
    items, shape, colour = data
    assert filled.count() == N
    filled.add(items[:5], shape[:5], colour[:5])
    filled.flush()
    assert filled.count() == N
    assert filled.hashes() >= {f"h{i}" for i in range(N)}


@pytest.mark.parametrize("w", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_topk_matches_brute_force_formula(filled, data, w):
    items, shape, colour = data
    rng = np.random.default_rng(int(w * 100))
    qs, qc = unit(rng.normal(size=DS)), unit(rng.random(DC))
    hits = filled.search(qs, qc, w, 20)
    order, scores = reference(shape, colour, qs, qc, w)
    assert [h.item.id for h in hits] == [items[i].id for i in order[:20]]
    for rank, h in enumerate(hits, start=1):
        i = int(h.item.id.split("-")[1])
        assert h.rank == rank
        assert h.shape == pytest.approx(float(shape[i] @ qs), abs=1e-5)
        assert h.colour == pytest.approx(float(colour[i] @ qc), abs=1e-5)
        assert h.score == pytest.approx(w * h.shape + (1 - w) * h.colour, abs=1e-5)


def test_query_equal_to_an_item_finds_it_first(filled, data):
    items, shape, colour = data
    for i in (0, 17, 299):
        hits = filled.search(shape[i], colour[i], 0.5, 3)
        assert hits[0].item.id == items[i].id
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_filters_restrict_inside_the_index(filled, data):
    items, shape, colour = data
    qs, qc = shape[3], colour[3]
    hits = filled.search(qs, qc, 0.5, 50, filters={"category": ["dress"]})
    allowed = np.array([it.category == "dress" for it in items])
    order, _ = reference(shape, colour, qs, qc, 0.5, allowed)
    assert [h.item.id for h in hits] == [items[i].id for i in order[:50]]
    both = filled.search(qs, qc, 0.5, 100, filters={"category": ["dress", "skirt"], "pattern": ["striped"]})
    assert both and all(h.item.category in ("dress", "skirt") and h.item.attributes["pattern"] == "striped"
                        for h in both)
    assert len(both) == sum(1 for it in items if it.category in ("dress", "skirt")
                            and it.attributes["pattern"] == "striped")
    assert filled.search(qs, qc, 0.5, 10, filters={"category": ["no-such"]}) == []


def test_hostile_filter_values_are_plain_strings(filled):
    q = unit(np.ones(DS)), unit(np.ones(DC))
    for value in ["dress' OR 1=1 --", '{"match_all":{}}', "*", "dress\x00"]:
        assert filled.search(*q, 0.5, 10, filters={"category": [value]}) == []


def test_delete_and_get(filled, data):
    items, shape, colour = data
    assert filled.delete([items[0].id, "not-there"]) == 1
    filled.flush()
    assert filled.count() == N - 1
    hits = filled.search(shape[0], colour[0], 0.5, 5)
    assert items[0].id not in [h.item.id for h in hits]
    got = filled.get([items[5].id])
    assert got[0].title == "Item 5" and got[0].attributes["colour"] == "green"


def test_facets(filled):
    assert filled.facets("category") == sorted(CATS)
    assert filled.facets("pattern") == ["solid", "striped"]


def test_persists_across_reopen(backend, filled, data, tmp_path):
    items, shape, colour = data
    before = [h.item.id for h in filled.search(shape[9], colour[9], 0.3, 10)]
    index = reopen(backend, filled, tmp_path)
    assert index.count() == N
    assert [h.item.id for h in index.search(shape[9], colour[9], 0.3, 10)] == before
