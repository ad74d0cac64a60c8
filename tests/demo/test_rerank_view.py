"""The attribute rerank in the app: α/β sliders, filter dropdowns, the breakdown and shared links."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from demo import layout
from demo.examples import Example
from demo.handlers import Handlers
from demo.state import View, parse_preset


@pytest.fixture
def handlers(fake_served, query_image, tmp_path):
    return Handlers(fake_served, [Example(query_image, "red dress + hand", "dress/item00.jpg")],
                    upload_roots=[tmp_path])


@pytest.fixture
def searched(handlers, query_image):
    payload = {"path": str(query_image), "orig_name": query_image.name}
    *_, cache = handlers.search(payload, 0.5, 12, True)
    return cache


def _ids(raw: dict) -> list[str]:
    return [r["id"] for r in raw["results"]]


def test_facets_become_filter_choices(handlers):
    assert handlers.facets["category"] == sorted({"dress", "pants", "shirt", "skirt", "t-shirt", "longsleeve"})
    assert handlers.facets["colour"] == ["blue", "green", "red"]
    assert handlers.facets["pattern"] == ["plain", "striped"]


def test_alpha_beta_rerank_the_cached_analysis_without_a_model(handlers, searched):
    runs = len(handlers.engine.analyses)
    similarity = handlers.rerank(0.5, 12, True, 0.0, 0.0, cache=searched)
    attributes = handlers.rerank(0.5, 12, True, 0.0, 4.0, cache=searched)
    assert len(handlers.engine.analyses) == runs  # no model ran
    assert [c["alpha"] for c in handlers.engine.ranks[-2:]] == [0.0, 0.0]
    assert [c["beta"] for c in handlers.engine.ranks[-2:]] == [0.0, 4.0]
    assert "rerank off" in similarity[0] and "α 0, β 4" in attributes[0]
    # β only: every item matching the query's category (dress) and pattern (striped) comes first.
    raw = attributes[3]["results"]
    overlaps = [r["overlap"] for r in raw]
    assert overlaps == sorted(overlaps, reverse=True) and raw[0]["matched"] == {"category": "dress",
                                                                              "pattern": "striped"}
    assert _ids(similarity[3]) != _ids(attributes[3])
    assert "rerank_score" not in similarity[3]["results"][0]  # α = β = 0: the rerank is off


def test_breakdown_and_summary_show_the_terms_and_the_query_attributes(handlers, searched):
    summary, _, table, raw = handlers.rerank(0.5, 5, True, 0.25, 1.0, cache=searched)
    assert "Query attributes" in summary and "category **dress** (91%)" in summary
    assert "_confidence" not in summary
    cells = table["Rerank: overlap − rank = score"].tolist()
    assert all(" − " in c and " = " in c for c in cells)  # real terms, not the "—" placeholder
    first = raw["results"][0]
    assert cells[0] == f"{first['overlap_term']:.2f} − {abs(first['rank_term']):.2f} = {first['rerank_score']:.2f}"
    assert table["Matched attributes"].tolist()[0] in ("category: dress, pattern: striped", "category: dress")


def test_filters_exclude_exactly_and_rerank_without_a_model(handlers, searched):
    runs = len(handlers.engine.analyses)
    items = handlers.engine.index.items
    for field, chosen in (("category", ["dress", "skirt"]), ("colour", ["red"]), ("pattern", ["plain"])):
        args = {"category": None, "colour": None, "pattern": None, field: chosen}
        summary, _, table, raw = handlers.rerank(0.5, 12, True, 0.25, 1.0, *args.values(), cache=searched)
        want = {it.id for it in items if (it.category if field == "category" else it.attributes[field]) in chosen}
        assert set(_ids(raw)) == want and f"only {field} = " in summary
    both = handlers.rerank(0.5, 12, True, 0.25, 1.0, ["dress", "pants"], ["red"], None, cache=searched)[3]
    assert set(_ids(both)) == {it.id for it in items if it.category in ("dress", "pants")
                               and it.attributes["colour"] == "red"}  # fields AND, values OR
    assert len(handlers.engine.analyses) == runs


def test_unknown_filter_values_are_dropped_not_obeyed(handlers, searched):
    raw = handlers.rerank(0.5, 12, True, 0.25, 1.0, ["no-such-category"], cache=searched)[3]
    assert len(raw["results"]) == 12  # a stale link does not empty the page
    assert handlers.engine.ranks[-1]["filters"] is None


def test_search_passes_sliders_and_filters(handlers, query_image):
    payload = {"path": str(query_image), "orig_name": query_image.name}
    out = handlers.search(payload, 0.5, 10, True, 1.5, 0.5, ["dress"], None, None)
    assert handlers.engine.ranks[-1] == {"alpha": 1.5, "beta": 0.5, "filters": {"category": ["dress"]}}
    assert {r["category"] for r in out[6]["results"]} == {"dress"}


def test_old_api_calls_get_the_default_alpha_beta(handlers, fake_served, searched):
    handlers.rerank(0.5, 5, True, cache=searched)  # the README's /rerank call: w, top-k, restore
    s = fake_served.engine.settings
    assert handlers.engine.ranks[-1] == {"alpha": s.alpha, "beta": s.beta, "filters": None}


def test_link_and_preset_round_trip_alpha_beta_and_filters(handlers, searched):
    request = SimpleNamespace(headers={"referer": "https://example.org/app/"})
    link, preset = handlers.share(0.5, 10, True, 0.5, False, 0.5, True, 2.0, 0.5, ["skirt", "dress"], ["red"],
                                  [], cache=searched, request=request)
    assert "alpha=2" in link and "beta=0.5" in link and "category=dress%2Cskirt" in link and "pattern" not in link
    for text in (link, preset):
        values = handlers.apply_preset(text)
        assert values[7:12] == (2.0, 0.5, ["dress", "skirt"], ["red"], [])
    default_link, _ = handlers.share(0.5, 10, True, 0.5, False, 0.5, True, 0.25, 1.0, [], [], [], cache=searched)
    assert "alpha" not in default_link and "category" not in default_link  # defaults stay out of links


def test_view_parses_alpha_beta_and_filters():
    view, problems = View().apply(parse_preset('{"alpha": 3, "beta": 0, "colour": ["red", "blue"]}'))
    assert (view.alpha, view.beta, view.colour, problems) == (3.0, 0.0, ("blue", "red"), [])
    assert view.filters() == {"colour": ["blue", "red"]}
    view, problems = View().apply({"alpha": "9", "beta": "x"})
    assert (view.alpha, view.beta) == (View().alpha, View().beta) and len(problems) == 2


def test_shared_filter_values_not_in_the_catalogue_are_reported(handlers, monkeypatch):
    warned = []
    monkeypatch.setattr("gradio.Warning", lambda msg: warned.append(msg))
    values = handlers.apply_preset("?category=dress,gowns")
    assert values[9] == ["dress"] and "gowns not in this catalogue" in warned[0]


def test_layout_wires_sliders_and_filters_to_one_rerank_endpoint(handlers):
    blocks = layout.build_blocks(handlers)
    try:
        fns = {fn.api_name: fn for fn in blocks.fns.values() if fn.api_visibility == "public"}
        labels = [getattr(c, "label", "") for c in fns["rerank"].inputs]
        assert labels[:3] == ["Shape ↔ colour weight  w", "Results (top-k)", "Remove and restore occluders"]
        assert any(str(lbl).startswith("α") for lbl in labels) and any(str(lbl).startswith("β") for lbl in labels)
        assert [lbl for lbl in labels if str(lbl).startswith("Only")] == ["Only category", "Only colour",
                                                                          "Only pattern"]
        assert len(fns["search"].inputs) == len(fns["rerank"].inputs) + 1  # the photo
    finally:
        blocks.close()


def test_probe_path_is_per_catalogue_and_index(tmp_path):
    from demo.probes import probe_path

    a = probe_path(tmp_path / "catalogues" / "a", Path("/x/index-1"))
    assert a.parent == tmp_path / "catalogues" / "a" / "probes" and a.name == "index-1.npz"
