"""Shareable settings and the per-session query cache."""
from __future__ import annotations

import json

import pytest

from demo.state import QueryCache, View, content_key, parse_preset, preset_json


def test_view_round_trips_through_a_query_string():
    view = View(weight=0.8, top_k=12, restore=False, a_weight=0.2, a_restore=True, b_weight=0.9,
                b_restore=False, example="worn-02-hair.jpg")
    query = view.to_query()
    assert "w=0.8" in query and "k=12" in query and "restore=0" in query
    again, problems = View().apply(parse_preset(query))
    assert again == view and problems == []


def test_only_non_defaults_go_into_a_link():
    assert View().to_query() == ""
    assert View(weight=0.7).to_query(View()) == "w=0.7"


def test_bad_parameters_are_reported_and_ignored():
    view, problems = View().apply({"w": "2", "k": "abc", "restore": "maybe", "q": "../../etc/passwd",
                                   "utm_source": "x", "aw": "0.25"})
    assert view.weight == 0.5 and view.top_k == 10 and view.restore is True and view.example == ""
    assert view.a_weight == 0.25
    assert len(problems) == 4  # foreign keys (utm_source) are silently ignored


@pytest.mark.parametrize("text", ["https://host/app/?w=0.3&k=5#frag", "?w=0.3&k=5", "w=0.3&k=5",
                                  '{"w": 0.3, "k": 5}', '{"weight": 0.3, "top_k": 5}'])
def test_presets_accept_links_queries_and_json(text):
    view, problems = View().apply(parse_preset(text))
    assert (view.weight, view.top_k, problems) == (0.3, 5, [])


def test_bad_presets_raise_value_error():
    with pytest.raises(ValueError):
        parse_preset("{not json")
    with pytest.raises(ValueError):
        parse_preset("[1, 2]")
    assert parse_preset("   ") == {}


def test_preset_json_restores_the_same_view():
    view = View(weight=0.35, restore=False, example="worn-01-arm.jpg")
    assert View().apply(json.loads(preset_json(view)))[0] == view


def test_query_cache_keeps_one_query_with_both_restore_flags():
    cache = QueryCache()
    a_on, a_off, b_on = object(), object(), object()
    cache = cache.put("a", "a.jpg", True, a_on)
    cache = cache.put("a", "a.jpg", False, a_off)
    assert cache.get("a", True) is a_on and cache.get("a", False) is a_off
    cache = cache.put("b", "b.jpg", True, b_on)  # a new photo drops the old one's analyses
    assert cache.get("a", True) is None and cache.get("b", True) is b_on and cache.get("b", False) is None
    assert cache.latest(False) is b_on  # re-rank falls back to whatever analysis exists
    assert content_key(b"x") == content_key(b"x") != content_key(b"y")
