"""Engine.rank with filters and rerank, ingest's attribute merge, and the search CLI flags."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.index import INDEXES, matches
from pipeline.ingest import merge_attributes
from pipeline.types import Analysis, Features, Item
from rerank import rerank

ROOT = Path(__file__).resolve().parents[2]
DS, DC = 16, 8
CATS = ["dress", "skirt", "pants", "hat"]
PATTERNS = ["solid", "striped", "floral"]


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from pipeline import config
    from pipeline.engine import Engine

    rng = np.random.default_rng(3)
    n = 120
    items = [Item(id=f"{i:03d}", image="", category=CATS[i % 4],
                  attributes={"pattern": PATTERNS[i % 3], **({"colour": "red"} if i % 5 == 0 else {})}) for i in range(n)]
    shape, colour = unit(rng.normal(size=(n, DS))), unit(np.abs(rng.normal(size=(n, DC))))
    idx = INDEXES.create("local", path=tmp_path_factory.mktemp("idx") / "i", create=True, shape_dim=DS, colour_dim=DC,
                         ann="exact")
    idx.add(items, shape, colour)
    settings = config.load(overrides={"home": tmp_path_factory.mktemp("home"), "attributes": "none",
                                      "rerank_depth": 30}, environ={})
    eng = Engine(settings, idx)
    eng.truth = (items, shape, colour)
    return eng


def query(rng, attributes=None) -> Analysis:
    f = Features(unit(rng.normal(size=DS)), unit(np.abs(rng.normal(size=DC))))
    return Analysis(None, None, None, None, f, None, {}, dict(attributes or {}))


def brute(engine, a: Analysis, w: float, k: int, filters) -> list[str]:
    items, shape, colour = engine.truth
    s = w * shape @ a.features.shape + (1 - w) * colour @ a.features.colour
    ok = [i for i, it in enumerate(items) if matches(it.category, it.attributes, filters)]
    ok.sort(key=lambda i: (-s[i], i))
    return [items[i].id for i in ok[:k]]


FILTERS = [None, {"category": ["dress"]}, {"category": ["dress", "skirt"]},
           {"category": ["dress", "skirt"], "pattern": ["striped"]}, {"colour": ["red"]}, {"pattern": ["none-such"]}]


@pytest.mark.parametrize("filters", FILTERS)
def test_filters_restrict_candidates_inside_the_index(engine, filters):
    rng = np.random.default_rng(11)
    for _ in range(3):
        a = query(rng)
        got = [h.item.id for h in engine.rank(a, 0.6, 8, filters, alpha=0, beta=0).hits]
        # Exactly the top-8 of the allowed items: none excluded wrongly, none let through.
        assert got == brute(engine, a, 0.6, 8, filters)


@pytest.mark.parametrize("filters", FILTERS[:4])
def test_rerank_sees_only_filtered_candidates(engine, filters):
    rng = np.random.default_rng(5)
    a = query(rng, {"category": "dress", "pattern": "floral", "_confidence": {}})
    res = engine.rank(a, 0.5, 10, filters, alpha=1, beta=4)
    cands = brute(engine, a, 0.5, 30, filters)  # rerank_depth = 30, filtered in the index first
    assert {h.item.id for h in res.hits} <= set(cands) and len(res.hits) == min(10, len(cands))
    plain = engine.rank(a, 0.5, 30, filters, alpha=0, beta=0).hits
    want = rerank(plain, a.attributes, 1, 4, normalised=engine.settings.rerank_normalised, top_k=10)
    assert [h.item.id for h in res.hits] == [h.item.id for h in want]
    assert all(matches(h.item.category, h.item.attributes, filters) for h in res.hits)
    assert "rerank" in res.timings and all({"rank_term", "overlap_term", "matched"} <= set(h.extra) for h in res.hits)


def test_rank_defaults_come_from_settings(engine):
    rng = np.random.default_rng(2)
    a = query(rng, {"category": "hat"})
    off = engine.rank(a, 0.5, 5, alpha=0, beta=0)
    assert all(not h.extra for h in off.hits) and "rerank" not in off.timings
    engine.settings = engine.settings.model_copy(update={"alpha": 1.0, "beta": 100.0})
    try:
        on = engine.rank(a, 0.5, 5)
    finally:
        engine.settings = engine.settings.model_copy(update={"alpha": 0.0, "beta": 0.0})
    assert [h.item.category for h in on.hits] == ["hat"] * 5  # one matching attribute outweighs 30 positions


def test_merge_attributes_catalogue_wins():
    item = Item(id="a", image="", category="", attributes={"colour": "Navy"})
    merge_attributes(item, {"category": "dress", "colour": "blue", "pattern": "floral", "_confidence": {"colour": 0.9}})
    assert item.category == "dress"
    assert item.attributes == {"colour": "Navy", "pattern": "floral", "_predicted": ["category", "pattern"]}
    item = Item(id="b", image="", category="skirt")
    merge_attributes(item, {"category": "dress"})
    assert item.category == "skirt" and item.attributes == {}


def test_ingest_stores_predicted_attributes_and_search_cli_reranks(shared_data, settings_factory, tmp_path):
    from pipeline.engine import Engine
    from pipeline.index import open_index
    from pipeline.ingest import ingest

    imgs = sorted((shared_data / "test" / "skirt").glob("*.jpg"))[:3] + sorted((shared_data / "test" / "hat").glob("*.jpg"))[:2]
    catalogue = tmp_path / "c.csv"
    with catalogue.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "category", "colour"])
        for i, p in enumerate(imgs):
            w.writerow([str(p), p.parent.name, "teal" if i == 0 else ""])
    settings = settings_factory(index_dir=tmp_path / "idx", attributes="colour-names")
    eng = Engine(settings)
    eng.index = open_index(settings, eng.signature(), create=True)
    report = ingest(eng, eng.index, catalogue, progress=lambda d, t: None)
    assert report.indexed == 5
    items = {it.image: it for it in eng.index.get(sorted(eng.index.ids()))}
    first = items[str(imgs[0].resolve())]
    assert first.attributes["colour"] == "teal"  # the CSV's value, not the prediction
    predicted = [it.attributes.get("colour") for it in items.values() if it is not first]
    palette = json.loads((ROOT / "assets" / "attributes.json").read_text())["attributes"]["colour"]["values"]
    assert all(c is None or c in palette for c in predicted) and any(predicted)
    assert "_predicted" not in first.attributes
    assert all(it.attributes.get("_predicted") == ["colour"] for it in items.values() if "colour" in it.attributes
               and it is not first)
    eng.index.close()
    # A probe from the index alone: stored vectors, catalogue labels only (never the predicted colours).
    r = subprocess.run([sys.executable, "-m", "rerank", "train", str(tmp_path / "idx"), "--out", str(tmp_path / "p.npz"),
                        "--min-per-class", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "DRAPE_HOME": str(settings.home)})
    assert r.returncode == 0, r.stderr
    assert "category: 2 classes, 5 examples" in r.stdout and "colour" not in r.stdout
    r = subprocess.run([sys.executable, "-m", "pipeline", "search", str(imgs[3]), "--index", str(tmp_path / "idx"),
                        "--alpha", "1", "--beta", "2", "--top-k", "3", "--filter", "category=skirt", "--json",
                        "--attributes", "colour-names"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "DRAPE_HOME": str(settings.home)})
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)["results"]
    assert len(hits) == 3 and {h["category"] for h in hits} == {"skirt"}  # a hat query, filtered to skirts
    assert all("rerank_score" in h and "matched" in h for h in hits)
