"""Edge backends and the line normal form shared by catalogue edge maps and drawings."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.edges import EDGES, create
from pipeline.registry import UnknownBackend
from pipeline.sketch import strokes
from tests.pipeline.sketch_fakes import garment


def test_registry_lists_both_backends_and_rejects_typos():
    assert {"canny", "hed"} <= set(EDGES.names())
    with pytest.raises(UnknownBackend, match="valid: canny, hed"):
        EDGES.create("dexined")


def test_canny_finds_the_outline_and_not_the_paper():
    img = garment("dress", (200, 40, 40))
    edges = EDGES.create("canny").detect(img)
    assert edges.shape == img.shape[:2] and edges.dtype == np.float32
    assert 0.0 <= edges.min() and edges.max() <= 1.0
    inside = img.min(axis=2) < 230
    border = cv2.morphologyEx(inside.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
    on_border = edges[border].sum() / max(edges.sum(), 1)
    assert on_border > 0.6  # most edge pixels lie on the garment's boundary (the rest: its seam)
    assert edges[:10].sum() == 0  # white paper has no edges


def test_hed_falls_back_to_canny_with_a_notice_when_tensorflow_is_missing(monkeypatch):
    from pipeline.edges import hed

    def broken(self):
        raise ImportError("the hed edge backend needs: pip install tensorflow (No module named 'tensorflow')")

    monkeypatch.setattr(hed.HedEdges, "load", broken)
    notices: list[str] = []
    detector = create("hed", notices=notices)
    assert detector.name == "canny" and "hed unavailable" in notices[0]
    with pytest.raises(ImportError):
        create("hed", fallback=None)


@pytest.mark.slow
def test_hed_with_the_bundled_weights_outlines_a_garment():
    pytest.importorskip("tensorflow")
    img = garment("pants", (30, 60, 150))
    edges = EDGES.create("hed", max_side=128).detect(img)
    assert edges.shape == img.shape[:2]
    inside = img.min(axis=2) < 230
    border = cv2.morphologyEx(inside.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((7, 7), np.uint8)) > 0
    assert edges[border].mean() > 3 * edges[~border].mean()


def test_edge_lines_are_one_pixel_wide_and_drop_specks():
    strength = np.zeros((100, 100), np.float32)
    cv2.rectangle(strength, (20, 20), (80, 80), 1.0, 5)
    strength[5, 5] = 1.0  # a speck
    lines = strokes.edge_lines(strength)
    assert not lines[5, 5]
    assert lines[50, 15:26].sum() == 1  # the 5-px band became one centre line


def test_render_ignores_position_scale_and_brush_width():
    a = np.zeros((400, 400), np.uint8)
    b = np.zeros((800, 800), np.uint8)
    pts = np.array([[0, 0], [40, 0], [60, 90], [-20, 90]], np.float32)
    cv2.polylines(a, [(pts + 60).astype(np.int32)], True, 1, 3)
    cv2.polylines(b, [(pts * 3 + 300).astype(np.int32)], True, 1, 24)  # three times larger, thick brush, elsewhere
    pa, pb = strokes.render(a > 0), strokes.render(b > 0)
    assert pa.shape == (strokes.SIDE, strokes.SIDE, 3)
    ink_a, ink_b = pa[..., 0] < 128, pb[..., 0] < 128
    near = cv2.dilate(ink_b.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert (ink_a & near).sum() / ink_a.sum() > 0.9
