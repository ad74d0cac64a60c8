"""Metric functions on hand-computed cases."""
import pytest

from bench.metrics import average_precision, first_rank, hit_at, recall_at, summarise


def test_hit_and_recall():
    ranked = ["a", "b", "c", "d"]
    assert hit_at(ranked, {"c"}, 2) == 0.0 and hit_at(ranked, {"c"}, 3) == 1.0
    assert recall_at(ranked, {"b", "d", "z"}, 2) == pytest.approx(1 / 3)
    assert recall_at(ranked, {"b", "d", "z"}, 4) == pytest.approx(2 / 3)
    assert first_rank(ranked, {"d"}) == 4 and first_rank(ranked, {"z"}) is None


def test_average_precision_by_hand():
    # relevant at ranks 1 and 3 of 2 relevant: (1/1 + 2/3) / 2
    assert average_precision(["a", "x", "b"], {"a", "b"}) == pytest.approx((1 + 2 / 3) / 2)
    # one relevant never returned counts as a miss: (1/2) / 2
    assert average_precision(["x", "a"], {"a", "b"}) == pytest.approx(0.25)
    assert average_precision(["x"], set()) == 0.0


def test_summarise():
    runs = [(["a", "b"], {"a"}), (["c", "d"], {"d"}), (["e", "f"], {"z"})]
    m = summarise(runs, [1, 2])
    assert m["queries"] == 3
    assert m["hit@1"] == pytest.approx(1 / 3) and m["hit@2"] == pytest.approx(2 / 3)
    assert m["mAP"] == pytest.approx((1 + 0.5 + 0) / 3)
