"""The Sketch tab's actions without a server: search, re-rank, colour-only fallback, the page builds."""
from __future__ import annotations

import types

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demo.sketch import SketchView, sketch_tab, swatches
from pipeline.index import open_index
from pipeline.sketch import canvas
from tests.pipeline.sketch_fakes import FakeEngine, garment

RED, BLUE = (200, 30, 40), (30, 60, 190)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("sketch-view") / "catalogue"
    for shape in ("dress", "pants"):
        (root / shape).mkdir(parents=True)
        for name, rgb in (("red", RED), ("blue", BLUE)):
            Image.fromarray(garment(shape, rgb)).save(root / shape / f"{name}.png")
    return root


def _engine(catalogue, index_dir, settings_factory, sketch: bool):
    from pipeline.ingest import ingest

    settings = settings_factory(index_dir=index_dir, edges="canny", sketch=sketch)
    eng = FakeEngine(settings)
    eng.index = open_index(settings, eng.signature(), create=True)
    ingest(eng, eng.index, catalogue, progress=lambda d, t: None)
    return eng


@pytest.fixture(scope="module")
def view(catalogue, tmp_path_factory, settings_factory):
    eng = _engine(catalogue, tmp_path_factory.mktemp("v") / "idx", settings_factory, sketch=True)
    return SketchView(eng, [catalogue.resolve()])


def red_dress_drawing(size=400):
    """What the canvas sends: an RGBA layer with a thin black outline and thick red paint."""
    import cv2

    layer = np.zeros((size, size, 4), np.uint8)
    cv2.line(layer, (200, 120), (200, 300), (*RED, 255), 60)
    pts = np.array([[160, 50], [240, 50], [330, 360], [70, 360]], np.int32)
    cv2.polylines(layer, [pts], True, (0, 0, 0, 255), 4, cv2.LINE_AA)
    return {"background": None, "layers": [layer], "composite": layer}


def test_a_drawing_searches_and_the_slider_reranks_without_reading_it_again(view):
    summary, gallery, table, seen, raw, state = view.run(red_dress_drawing(), 0.5, 3, None)
    assert "3 results" in summary and "Shapes are off" not in summary
    assert raw["results"][0]["id"] == "dress/red.png"
    assert len(gallery) == 3 and isinstance(gallery[0][0], str)  # catalogue files are served as they are
    assert list(table["Item"])[0] and len(seen) == 2  # line picture + painted colours
    summary2, _, _, _, raw2 = view.rerank(1.0, 4, state)
    assert "w = 1.00" in summary2 and len(raw2["results"]) == 4
    assert {r["id"] for r in raw2["results"][:2]} == {"dress/red.png", "dress/blue.png"}  # outline only


def test_clear_errors_for_an_empty_canvas_and_a_rerank_before_any_search(view):
    with pytest.raises(gr.Error, match="empty"):
        view.run({"background": None, "layers": [], "composite": np.zeros((50, 50, 4), np.uint8)}, 0.5, 3)
    with pytest.raises(gr.Error, match="No sketch yet"):
        view.rerank(0.5, 3, None)


def test_without_sketch_vectors_it_searches_colour_only_and_says_how_to_add_them(catalogue, tmp_path,
                                                                               settings_factory):
    eng = _engine(catalogue, tmp_path / "idx", settings_factory, sketch=False)
    plain = SketchView(eng, [])
    assert "python -m pipeline.sketch index" in plain.problem
    summary, _, _, _, raw, _ = plain.run(red_dress_drawing(), 0.5, 2)
    assert "colour only" in summary and raw["results"][0]["id"].endswith("red.png")
    from pipeline.sketch.build import add_sketch_vectors

    add_sketch_vectors(eng, eng.index, progress=lambda d, t: None)
    summary, *_ = plain.run(red_dress_drawing(), 0.5, 2)
    assert "Shapes are off" not in summary  # built while the app ran: picked up at the next search


def test_swatches_show_the_painted_colours_by_share():
    strip = swatches(canvas.read(red_dress_drawing()["composite"]))
    middle = strip[strip.shape[0] // 2, 5:-5].astype(int)
    assert (middle[:, 0] > middle[:, 2] + 80).mean() > 0.9


def test_the_tab_builds_inside_a_page(view):
    with gr.Blocks() as blocks:
        with gr.Tabs():
            sketch_tab(types.SimpleNamespace(engine=view.engine, roots=view.roots))
    names = {d.get("api_name") for d in blocks.config["dependencies"]}
    assert {"sketch", "sketch_rerank"} <= names and "rerank" not in names
