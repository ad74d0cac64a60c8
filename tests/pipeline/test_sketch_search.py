"""Sketch vectors into a second index (ingest hook, resumable command) and drawings → the right item."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.index import open_index
from pipeline.sketch import canvas, features, pseudo
from pipeline.sketch.build import add_sketch_vectors
from pipeline.sketch.search import SketchError, SketchSearch, fuse
from pipeline.types import Hit, Item
from tests.pipeline.sketch_fakes import FakeEngine, garment

COLOURS = {"red": (200, 30, 40), "blue": (30, 60, 190), "green": (40, 150, 60)}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("sketch") / "catalogue"
    for shape in ("dress", "pants", "tshirt"):
        (root / shape).mkdir(parents=True)
        for name, rgb in COLOURS.items():
            Image.fromarray(garment(shape, rgb)).save(root / shape / f"{name}.png")
    return root


@pytest.fixture(scope="module")
def engine(catalogue, tmp_path_factory, settings_factory):
    """One ingest for the module; tests that change the sketch index put it back as it was."""
    from pipeline.ingest import ingest

    settings = settings_factory(index_dir=tmp_path_factory.mktemp("sketch-idx") / "idx", edges="canny", sketch=True, batch_size=4)
    eng = FakeEngine(settings)
    eng.index = open_index(settings, eng.signature(), create=True)
    ingest(eng, eng.index, catalogue, progress=lambda d, t: None)
    return eng


def test_ingest_with_sketch_on_fills_a_second_index_with_the_same_ids(engine):
    sketch = features.open_sketch_index(engine)
    assert sketch.count() == engine.index.count() == 9
    assert sketch.ids() == engine.index.ids()
    assert sketch.manifest["edges"] == "canny" and sketch.manifest["sketch_version"] == features.VERSION
    _, photo_colour = engine.index.vectors(["dress/red.png"])
    shape, colour = sketch.vectors(["dress/red.png"])
    np.testing.assert_allclose(colour, photo_colour, atol=1e-6)  # colour is the photo's own vector
    assert abs(float(np.linalg.norm(shape)) - 1) < 1e-4


def test_the_index_command_is_resumable_and_skips_what_is_there(engine):
    sketch = features.open_sketch_index(engine)
    sketch.delete(["pants/blue.png", "tshirt/green.png"])
    report = add_sketch_vectors(engine, engine.index, batch=4, progress=lambda d, t: None)
    assert (report.indexed, report.skipped, report.failed) == (2, 7, [])
    assert "2 added, 7 already there" in report.summary()
    again = add_sketch_vectors(engine, engine.index, progress=lambda d, t: None)
    assert (again.indexed, again.skipped) == (0, 9)


def test_a_sketch_index_refuses_vectors_from_another_edge_backend(engine):
    from pipeline.index import IndexError_

    with pytest.raises(IndexError_, match="edges"):
        features.open_sketch_index(engine, create=True, edges="hed")


def _pseudo_sketch(engine, detector, path, seed, style):
    e = features.item_edges(engine, detector, path)
    return pseudo.draw(e.crop, e.mask, e.strength, np.random.default_rng(seed), style)


def test_a_drawing_finds_its_garment_and_colour_separates_look_alikes(engine, catalogue):
    from pipeline.edges import EDGES

    search = SketchSearch(engine)
    detector = EDGES.create("canny")
    found = 0
    for i, path in enumerate(sorted(catalogue.rglob("*.png"))):
        sketch = _pseudo_sketch(engine, detector, path, i, pseudo.Style(interior=False))
        result = search.search(sketch, weight=0.5, top_k=3)
        found += result.hits[0].item.id == f"{path.parent.name}/{path.name}"
    assert found >= 7  # of 9: shape picks the garment type, paint picks among the three colours

    plain = _pseudo_sketch(engine, detector, catalogue / "dress" / "red.png", 0, pseudo.Style(colour=False))
    result = search.search(plain, weight=0.2, top_k=9)
    assert result.weight == 1.0  # no paint: shape only, whatever the slider says
    assert {h.item.category for h in result.hits[:3]} == {"dress"}


def test_blank_and_unreadable_drawings_say_what_to_do(engine):
    search = SketchSearch(engine)
    with pytest.raises(SketchError, match="empty"):
        search.analyse(np.full((64, 64, 3), 255, np.uint8))
    dot = np.full((64, 64, 3), 255, np.uint8)
    dot[30:32, 30:32] = 0
    with pytest.raises(SketchError, match="outline"):
        search.analyse(dot)


def test_fuse_averages_scores_and_bounds_missing_ones():
    a, b, c = (Item(id=i, image="") for i in "abc")
    sketch = [Hit(a, 0.9, 0.9, 0.9, 1), Hit(b, 0.5, 0.5, 0.5, 2)]
    photo = [Hit(c, 0.8, 0.8, 0.8, 1), Hit(a, 0.7, 0.7, 0.7, 2)]
    fused = fuse(sketch, photo)
    assert [h.item.id for h in fused] == ["a", "c", "b"]
    assert fused[0].score == pytest.approx(0.8) and fused[0].rank == 1
    assert fused[1].extra == {"sketch_score": 0.5, "photo_score": 0.8}  # c: sketch list's floor


def test_canvas_reading_survives_an_rgba_editor_value(engine, catalogue):
    search = SketchSearch(engine)
    img = cv2.cvtColor(_pseudo_sketch(engine, __import__("pipeline.edges", fromlist=["x"]).EDGES.create("canny"),
                                      catalogue / "pants" / "green.png", 3, pseudo.Style()), cv2.COLOR_RGB2RGBA)
    q = search.analyse({"background": None, "layers": [img], "composite": img})
    assert q.has_colour and canvas.read(img).outline.any()
    assert search.rank(q, 0.5, 1).hits[0].item.category == "pants"
