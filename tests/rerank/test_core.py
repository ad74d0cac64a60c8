"""The reranker's maths against a from-the-formula reference, ties and breakdown included."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.types import Hit, Item
from rerank import load_vocabulary, matched, query_size, rerank

VOCAB = load_vocabulary()


def hits_from(specs) -> list[Hit]:
    """specs: (category, attributes) per hit, in similarity order."""
    return [Hit(Item(id=f"i{n}", image="", category=c, attributes=dict(a)), score=1.0 - n / 100, shape=0.0,
                colour=0.0, rank=n + 1) for n, (c, a) in enumerate(specs)]


def reference(specs, query, alpha, beta, normalised=False, weights=None):
    """The formula, spelled out: score_i = β·Σ_{a ∈ Q ∩ G_i} w_a − α·i (or /Σ_{a ∈ Q} w_a, /N), sorted by (−score, i)."""
    w = weights if weights is not None else {a: VOCAB[a].weight for a in VOCAB.names()}
    n = len(specs)
    q = {k: v for k, v in query.items() if not k.startswith("_")}
    scores = []
    for i, (cat, attrs) in enumerate(specs, start=1):
        g = dict(attrs, category=cat)
        overlap = sum(w.get(k, 1.0) for k, v in q.items() if g.get(k) == v)
        if normalised:
            scores.append(beta * overlap / sum(w.get(k, 1.0) for k in q) - alpha * i / n)
        else:
            scores.append(beta * overlap - alpha * i)
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    return [f"i{i}" for i in order], [scores[i] for i in order]


CATS = ["dress", "skirt", "pants"]
COLS = ["red", "blue", "black"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("normalised", [False, True])
def test_matches_reference_on_random_lists(seed, normalised):
    rng = np.random.default_rng(seed)
    specs = [(CATS[rng.integers(3)], {"colour": COLS[rng.integers(3)]}) for _ in range(int(rng.integers(5, 40)))]
    query = {"category": "dress", "colour": "red", "_confidence": {"category": 0.9, "colour": 0.5}}
    for alpha, beta in itertools.product([0, 0.5, 1, 2], [0, 1, 2, 7]):
        for weights in (None, {}, {"category": 0.5, "colour": 3}):
            got = rerank(hits_from(specs), query, alpha, beta, normalised=normalised, weights=weights)
            want_ids, want_scores = reference(specs, query, alpha, beta, normalised, weights)
            assert [h.item.id for h in got] == want_ids
            assert np.allclose([h.extra["rerank_score"] for h in got], want_scores, atol=1e-5)


def test_plain_count_is_the_papers_formula():
    """weights={}: Total = α·(−rank) + β·|Q ∩ G|, e.g. α = β = 2 as in seed paper 001."""
    specs = [("skirt", {"colour": "red"}), ("dress", {"colour": "blue"}), ("dress", {"colour": "red"})]
    got = rerank(hits_from(specs), {"category": "dress", "colour": "red"}, 2, 2, weights={})
    # i0: 2·1 − 2·1 = 0; i1: 2·1 − 2·2 = −2; i2: 2·2 − 2·3 = −2 (a tie: i1 stays above i2)
    assert [(h.item.id, h.extra["rerank_score"]) for h in got] == [("i0", 0.0), ("i1", -2.0), ("i2", -2.0)]
    assert VOCAB["category"].weight == 2  # the measured default (docs/rerank.md)


def test_ties_keep_similarity_order():
    # Every item matches one attribute: with α = 0 and equal weights all scores tie, so the order must not move.
    specs = [("dress", {"colour": "blue"}), ("skirt", {"colour": "red"}), ("dress", {"colour": "black"})]
    got = rerank(hits_from(specs), {"category": "dress", "colour": "red"}, alpha=0, beta=3, weights={})
    assert [h.item.id for h in got] == ["i0", "i1", "i2"]
    # An exact tie between a match lower down and a non-match above it: the one above stays above.
    specs = [("skirt", {}), ("dress", {}), ("skirt", {})]
    got = rerank(hits_from(specs), {"category": "dress"}, alpha=1, beta=1, weights={})  # −1, 1−2 = −1, −3
    assert [h.item.id for h in got] == ["i0", "i1", "i2"]


def test_zero_weights_are_the_identity_and_negative_weights_refused():
    specs = [(c, {}) for c in CATS * 3]
    assert [h.item.id for h in rerank(hits_from(specs), {"category": "pants"}, 0, 0)] == [f"i{i}" for i in range(9)]
    with pytest.raises(ValueError, match=">= 0"):
        rerank(hits_from(specs), {}, alpha=-1, beta=1)


def test_breakdown_in_extra():
    specs = [("skirt", {"colour": "red"}), ("dress", {"colour": "red"})]
    top = rerank(hits_from(specs), {"category": "dress", "colour": "red"}, alpha=1, beta=2, weights={})[0]
    assert top.item.id == "i1"  # 2·2 − 1·2 = 2 beats 2·1 − 1·1 = 1
    assert top.extra == {"rerank_score": 2.0, "rank_term": -2.0, "overlap_term": 4.0, "overlap": 2,
                         "matched": {"category": "dress", "colour": "red"}, "similarity_rank": 2, "position": 1}
    assert top.rank == 2  # hit.rank stays the similarity rank
    d = top.to_dict()
    assert d["rank_term"] == -2.0 and d["matched"] == {"category": "dress", "colour": "red"}


def test_normalised_terms_are_shares():
    specs = [("skirt", {}), ("dress", {"colour": "red"}), ("dress", {}), ("pants", {})]
    got = rerank(hits_from(specs), {"category": "dress", "colour": "red"}, alpha=1, beta=1, normalised=True)
    by_id = {h.item.id: h.extra for h in got}
    assert by_id["i1"]["rank_term"] == pytest.approx(-2 / 4) and by_id["i1"]["overlap_term"] == pytest.approx(1.0)
    assert by_id["i2"]["overlap_term"] == pytest.approx(2 / 3)  # category weighs 2 of the query's 3
    # A query with no attributes: the overlap term is 0, not a division by zero.
    assert all(h.extra["overlap_term"] == 0 for h in rerank(hits_from(specs), {}, 1, 1, normalised=True))


def test_top_k_and_fields():
    specs = [("skirt", {"colour": "red"})] * 3 + [("dress", {"colour": "blue"})]
    q = {"category": "dress", "colour": "red"}
    assert len(rerank(hits_from(specs), q, 1, 10, top_k=2)) == 2
    only_cat = rerank(hits_from(specs), q, 1, 10, fields=["category"])
    assert only_cat[0].item.id == "i3" and only_cat[0].extra["matched"] == {"category": "dress"}
    only_col = rerank(hits_from(specs), q, 1, 10, fields=["colour"])
    assert only_col[0].item.id == "i0"


def test_catalogue_spelling_and_lists_compare_in_vocabulary_terms():
    hit = hits_from([("T-Shirt", {"colour": ["Gray", "navy blue"], "pattern": "Plaid"})])[0]
    q = {"category": "t-shirt", "colour": "navy", "pattern": "checked", "neckline": "round", "_confidence": {}}
    assert matched(q, hit) == {"category": "t-shirt", "colour": "navy", "pattern": "checked"}
    assert query_size(q) == 4
    # Unknown words still match themselves (case-insensitively), never anything else.
    other = hits_from([("dress", {"colour": "Teal"})])[0]
    assert matched({"colour": "teal"}, other) == {"colour": "teal"} and matched({"colour": "blue"}, other) == {}
