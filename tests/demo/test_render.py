"""Pure rendering: tables, galleries, stage images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from demo import render
from pipeline.types import Hit, Item, SearchResult


def _hit(i: int, rank: int, score: float = 0.5, **extra) -> Hit:
    return Hit(Item(id=f"id{i}", image=f"/nowhere/{i}.jpg", title=f"Item {i}", category="dress"),
               score, 0.6, 0.4, rank, dict(extra))


def test_breakdown_has_a_rerank_slot_until_a_reranker_fills_it():
    plain = render.breakdown(SearchResult([_hit(1, 1), _hit(2, 2)], {}, 0.5))
    assert list(plain.columns) == ["#", "Item", "Category", "Shape", "Colour", "Total", "Rerank"]
    assert plain["Rerank"].tolist() == ["—", "—"]
    other = render.breakdown(SearchResult([_hit(1, 1, final=0.91234)], {}, 0.5))
    assert other["final"].tolist() == [0.912]  # any other term a reranker adds gets its own column
    assert render.breakdown(SearchResult([], {}, 0.5)).empty
    assert len(render.column_widths(False)) == len(plain.columns)


def test_breakdown_spells_out_the_attribute_rerank():
    # as rerank.core leaves them: similarity rank 2 moved to position 1 by one matched attribute
    hit = _hit(1, 2, rerank_score=1.9, rank_term=-0.1, overlap_term=2.0, overlap=1,
               matched={"colour": "yellow"}, similarity_rank=2, position=1)
    table = render.breakdown(SearchResult([hit], {}, 0.5))
    assert list(table.columns) == render.BASE_COLUMNS + render.RERANK_COLUMNS
    assert table.iloc[0].tolist()[:1] == [1] and table.iloc[0].tolist()[-3:] == ["2.00 − 0.10 = 1.90",
                                                                                 "colour: yellow", 2]
    assert len(render.column_widths(True)) == len(table.columns)
    assert render.gallery([hit], [])[0][1].startswith("#1 ·")  # the shown position, not the similarity rank


def test_rank_table_shows_moves_and_items_in_one_list_only():
    a = SearchResult([_hit(1, 1), _hit(2, 2), _hit(3, 3)], {}, 0.2)
    b = SearchResult([_hit(2, 1), _hit(1, 2), _hit(4, 3)], {}, 0.8)
    table = render.rank_table(a, b, "A", "B")
    moves = dict(zip(table["Item"], table["A → B"]))
    assert moves == {"Item 1": "▼ 1", "Item 2": "▲ 1", "Item 3": "only in A", "Item 4": "new in B"}


def test_result_images_are_served_only_from_the_catalogue_root(tmp_path):
    from PIL import Image

    inside = tmp_path / "cat" / "a.jpg"
    inside.parent.mkdir()
    Image.new("RGB", (40, 50), "red").save(inside)
    outside = tmp_path / "elsewhere.jpg"
    Image.new("RGB", (40, 50), "blue").save(outside)
    roots = [(tmp_path / "cat").resolve()]
    assert render.result_image(str(inside), roots) == str(inside)
    pixels = render.result_image(str(outside), roots)  # read here and sent as pixels, never as a path
    assert isinstance(pixels, np.ndarray) and pixels[20, 20, 2] > 200
    missing = render.result_image(str(tmp_path / "gone.jpg"), roots)
    assert isinstance(missing, np.ndarray)  # a placeholder, not an exception mid-search


def test_timings_table_ends_with_the_total():
    table = render.timings({"parse": 0.040, "embed": 0.010})
    assert table["Stage"].tolist() == ["human parsing", "shape features (CNN)", "total"]
    assert table["ms"].tolist() == [40.0, 10.0, 50.0]


def test_stages_are_the_six_pipeline_views_plus_the_embedder_input(fake_served, query_image):
    analysis = fake_served.engine.analyse(str(query_image))
    views = render.stages(analysis)
    assert len(views) == 7
    names = [caption.split(" · ")[1] for _, caption in views]
    assert names == ["input", "garment", "parsing", "occluders", "occluders removed", "restored", "embedder input"]
    assert all(img.dtype == np.uint8 and img.ndim == 3 for img, _ in views)
    assert "left-arm" in render.parsing_legend(analysis)


def test_tint_marks_the_mask_and_fades_the_rest():
    img = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[0, 0] = True
    out = render.tint(img, mask, (255, 0, 0))
    assert out[0, 0, 0] > out[0, 0, 1] and out[3, 3, 0] > 100


def test_gallery_captions_lead_with_rank_and_score():
    items = render.gallery([_hit(1, 1, 0.987)], [Path("/nowhere")])
    assert items[0][1].startswith("#1 · 0.987")
    assert render.gallery([_hit(1, 1, 0.987)], [], "A", titles=False)[0][1] == "A#1 · 0.987"
