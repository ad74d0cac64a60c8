"""Handlers as plain functions, on the model-free engine."""
from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo.examples import Example
from demo.handlers import Handlers
from demo.state import QueryCache


@pytest.fixture
def handlers(fake_served, query_image, tmp_path):
    # tmp_path plays Gradio's upload folder: the only place (with the examples) uploads are read from.
    return Handlers(fake_served, [Example(query_image, "red dress + hand", "dress/item00.jpg")],
                    upload_roots=[tmp_path])


def _payload(path: Path, name: str | None = None) -> dict:
    """What the browser's upload hands the handler (preprocess=False)."""
    return {"path": str(path), "orig_name": name or path.name, "meta": {"_type": "gradio.FileData"}}


def test_search_returns_every_view(handlers, query_image):
    summary, gallery, table, stages, legend, timings, raw, cache = handlers.search(_payload(query_image), 0.5, 5, True)
    assert "5 results" in summary and len(gallery) == 5 and len(table) == 5 and len(stages) == 7
    assert raw["results"][0]["position"] == 1 and set(raw["results"][0]) >= {"id", "score", "shape", "colour"}
    assert timings["Stage"].iloc[-1] == "total"
    assert isinstance(cache, QueryCache) and cache.name == query_image.name


def test_sliders_rerank_without_running_a_model(handlers, query_image):
    *_, cache = handlers.search(_payload(query_image), 0.5, 5, True)
    runs = len(handlers.engine.analyses)
    colour_only = handlers.rerank(0.0, 8, True, cache=cache)
    shape_only = handlers.rerank(1.0, 8, True, cache=cache)
    assert len(handlers.engine.analyses) == runs  # no model ran
    assert "re-ranked the cached analysis" in colour_only[0] and len(colour_only[1]) == 8
    assert colour_only[3]["weight"] == 0.0 and shape_only[3]["weight"] == 1.0
    assert [r["id"] for r in colour_only[3]["results"]] != [r["id"] for r in shape_only[3]["results"]]


def test_restoration_toggle_analyses_each_setting_once(handlers, query_image):
    cache = None
    for restore in (True, False, True, False):
        *_, cache = handlers.search(_payload(query_image), 0.5, 5, restore, cache=cache)
    assert handlers.engine.analyses == [True, False]


def test_rerank_before_any_search_is_a_clear_error(handlers):
    with pytest.raises(gr.Error, match="search with a photo first"):
        handlers.rerank(0.5, 10, True, cache=QueryCache())


def test_no_image_clears_instead_of_failing(handlers):
    out = handlers.search(None, 0.5, 10, True, cache=QueryCache())
    assert out[0].startswith("Pick an example") and out[1] == []


@pytest.mark.parametrize("kind", ["text", "truncated", "empty", "bomb"])
def test_bad_uploads_raise_a_helpful_gr_error(handlers, tmp_path, query_image, kind):
    bad = tmp_path / "bad.jpg"
    if kind == "text":
        bad.write_text("this is not a photo")
    elif kind == "truncated":
        bad.write_bytes(query_image.read_bytes()[:400])
    elif kind == "empty":
        bad.write_bytes(b"")
    else:  # a tiny PNG claiming 20000×20000 pixels
        buf = io.BytesIO()
        Image.new("1", (20000, 20000)).save(buf, "PNG")
        bad.write_bytes(buf.getvalue())
    with pytest.raises(gr.Error) as err:
        handlers.search(_payload(bad, "holiday.jpg"), 0.5, 10, True)
    assert "holiday.jpg" in err.value.message and "JPEG, PNG or WebP" in err.value.message
    assert handlers.search(_payload(query_image), 0.5, 3, True)[0].startswith("**3 results**")  # still serving


def test_oversized_upload_is_refused_before_decoding(handlers, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * (handlers.upload_limit_mb * 2**20 + 1))
    with pytest.raises(gr.Error, match="limit is 10 MB"):
        handlers.search(_payload(big), 0.5, 10, True)


def test_paths_outside_the_upload_folder_are_never_read(handlers, fake_served):
    catalogue_file = fake_served.engine.index.items[0].image  # exists, is an image, is not an upload
    for image in (_payload(Path(catalogue_file)), catalogue_file, {"path": "/etc/passwd"}):
        with pytest.raises(gr.Error, match="did not arrive"):
            handlers.search(image, 0.5, 5, True)
    assert fake_served.engine.analyses == []


def test_compare_ranks_the_same_query_under_two_settings(handlers, query_image):
    ga, gb, table, note, cache = handlers.compare(_payload(query_image), 6, 0.2, False, 0.8, True, None)
    assert len(ga) == len(gb) == 6 and ga[0][1].startswith("A#1") and gb[0][1].startswith("B#1")
    assert {"Item", "A → B"} <= set(table.columns) and "restore off" in note
    assert handlers.engine.analyses == [False, True]
    handlers.search(_payload(query_image), 0.5, 5, True, cache=cache)  # Search reuses Compare's analyses
    assert handlers.engine.analyses == [False, True]
    with pytest.raises(gr.Error):
        handlers.compare(None, 6, 0.2, False, 0.8, True, None)


def test_share_link_restores_the_same_settings(handlers, query_image):
    *_, cache = handlers.search(_payload(query_image), 0.5, 5, True)
    request = SimpleNamespace(headers={"referer": "https://example.org/space/?old=1"})
    link, preset = handlers.share(0.8, 12, False, 0.1, False, 0.9, True, cache=cache, request=request)
    assert link.startswith("https://example.org/space/?") and "old=1" not in link
    assert f"q={query_image.name}" in link  # the loaded example travels with the link
    restored = handlers.apply_preset(link)
    assert restored[:7] == (0.8, 12, False, 0.1, False, 0.9, True)
    assert restored[-1] == str(query_image)
    assert handlers.apply_preset(preset)[:7] == restored[:7]


def test_uploads_never_travel_in_a_link(handlers, tmp_path):
    own = tmp_path / "mine.jpg"
    Image.fromarray(np.full((64, 48, 3), 90, np.uint8)).save(own)
    *_, cache = handlers.search(_payload(own), 0.5, 5, True)
    link, _ = handlers.share(0.5, 10, True, 0.5, False, 0.5, True, cache=cache)
    assert "mine" not in link and "q=" not in link


def test_page_load_applies_url_parameters(handlers):
    request = SimpleNamespace(query_params={"w": "0.25", "k": "7", "restore": "off"}, headers={})
    values = handlers.on_load(request)
    assert values[:3] == (0.25, 7, False)
    assert handlers.on_load(SimpleNamespace(query_params={}, headers={}))[:3] == (0.5, 10, True)


def test_bad_presets_say_what_to_paste(handlers):
    with pytest.raises(gr.Error, match="Paste a shared link"):
        handlers.apply_preset("")
    with pytest.raises(gr.Error, match="JSON"):
        handlers.apply_preset("{oops")


def test_about_describes_the_catalogue(handlers):
    assert "About this catalogue" in handlers.about_line() and "12 items" in handlers.about_line()
    info = handlers.about()
    assert info["items"] == 12 and "dress" in info["categories"]
