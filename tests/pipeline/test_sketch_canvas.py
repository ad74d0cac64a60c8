"""Reading a drawing: the editor's value (layers / composite), example PNGs, outline vs paint."""
from __future__ import annotations

import cv2
import numpy as np

from pipeline.colour.lab import LabHistogram
from pipeline.sketch import canvas
from tests.pipeline.sketch_fakes import garment

RED, BLUE = (200, 30, 40), (30, 60, 190)


def drawing(size=400, outline=True, paint=RED, paint_width=30, pen=4):
    """RGBA layer: a black outline (anti-aliased) and one thick paint stroke, transparent elsewhere."""
    layer = np.zeros((size, size, 4), np.uint8)
    if paint is not None:
        cv2.line(layer, (150, 150), (250, 260), (*paint, 255), paint_width, cv2.LINE_AA)
    if outline:
        cv2.polylines(layer, [np.array([[120, 60], [280, 60], [330, 340], [70, 340]], np.int32)], True,
                      (0, 0, 0, 255), pen, cv2.LINE_AA)
    return layer


def test_layers_only_value_reads_outline_and_paint():
    layer = drawing()
    layer[layer[..., 3] == 0, :3] = (12, 200, 90)  # colour under alpha 0 is arbitrary: must be ignored
    d = canvas.read({"background": None, "layers": [layer], "composite": None})
    assert d.outline.sum() > 500 and d.has_colour
    px = d.colour_pixels().reshape(-1, 3).astype(int)
    assert np.all(px[:, 0] > px[:, 2])  # paint is red only: no green from under the transparent pixels


def test_composite_is_preferred_and_anti_aliasing_is_not_paint():
    layer = drawing(paint=None)
    comp = canvas._flatten(layer)
    d = canvas.read({"background": None, "layers": [np.zeros_like(layer)], "composite": layer})
    assert d.outline.sum() > 500
    assert not d.has_colour  # the grey fringe of black anti-aliased lines is not a grey garment
    assert canvas.read(comp).outline.sum() == d.outline.sum()


def test_an_example_png_as_background_reads_like_a_drawing(tmp_path):
    from PIL import Image

    path = tmp_path / "sketch.png"
    Image.fromarray(canvas._flatten(drawing())).save(path)
    for value in (str(path), {"background": str(path), "layers": [], "composite": None}):
        d = canvas.read(value)
        assert d.outline.sum() > 500 and d.has_colour


def test_thick_dark_paint_is_colour_and_the_thin_pen_is_outline():
    d = canvas.read(drawing(paint=(20, 22, 30), paint_width=40))  # a navy/black garment painted in
    assert d.has_colour and d.outline.sum() > 500
    assert not d.colour[60, 200]  # the pen line stays outline


def test_grey_paint_away_from_the_lines_counts():
    d = canvas.read(drawing(paint=(128, 128, 128)))
    assert d.has_colour


def test_empty_canvas_and_missing_value():
    assert canvas.read(None) is None
    assert canvas.read({"background": None, "layers": [], "composite": None}) is None
    blank = np.zeros((100, 100, 4), np.uint8)
    assert canvas.read({"background": None, "layers": [blank], "composite": blank}).empty


def test_paint_only_gives_a_shape_from_its_boundary():
    d = canvas.read(drawing(outline=False, paint_width=60))
    assert d.outline.sum() == 0 and d.shape_lines().sum() > 100


def test_colour_from_strokes_matches_the_garment_of_that_colour():
    hist = LabHistogram()
    q = hist.histogram(canvas.read(drawing(paint=RED)).colour_pixels(), None)
    red, blue = (hist.histogram(g, g.min(axis=2) < 230) for g in (garment("dress", RED), garment("dress", BLUE)))
    assert float(q @ red) > float(q @ blue) + 0.3
