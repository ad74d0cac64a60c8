"""A real browser on the Sketch tab: draw an outline, paint it red with a thick brush, search, see results."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import browser_page

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # ~1.5 min: software canvas redraws, sketch vectors


@pytest.fixture(scope="module")
def sketch_app(running_app):
    """The shared app, with sketch vectors (Canny, a dozen items: enough to rank) added while it runs."""
    from pipeline.sketch.build import add_sketch_vectors

    engine = running_app.app.handlers.engine
    add_sketch_vectors(engine, engine.index, limit=12, edges="canny", progress=lambda d, t: None)
    return running_app


@pytest.fixture(scope="module")
def page(sketch_app):
    with browser_page(height=1000, timeout_ms=60_000) as page:
        yield page


def _stroke(page, x0, y0, points, steps=1):
    # one pointer event per corner: headless Chromium redraws the canvas in software, seconds per event
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for dx, dy in points[1:]:
        page.mouse.move(x0 + dx, y0 + dy, steps=steps)
    page.mouse.up()


def test_draw_paint_search_and_see_results(page, sketch_app, tmp_path):
    page.goto(sketch_app.url, wait_until="load")
    page.get_by_role("tab", name="Sketch").click()
    pad = page.locator("#sketchpad")
    pad.locator("canvas").first.wait_for()
    pad.locator("button[aria-label=Brush]").click()
    box = pad.locator("canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    _stroke(page, cx, cy, [(-50, -120), (50, -120), (110, 130), (-110, 130), (-50, -120)])  # a dress, black pen
    pad.locator("button[aria-label=Color]").click()
    pad.locator("button.color[style*='rgb(200, 16, 46)']").click()  # red from the palette
    pad.locator("button[aria-label='Brush Size']").click()
    pad.locator("input[type=range]").fill("30")
    _stroke(page, cx, cy, [(-20, -80), (20, -40), (-40, 20), (40, 70), (-60, 100)])
    page.locator("#sketch_go").click()
    page.wait_for_function("document.querySelectorAll('#sketch_results img').length >= 5")
    summary = page.locator("#sketch_summary").inner_text()
    assert "results" in summary and "colour is ignored" not in summary  # the red paint was read as colour
    assert page.locator("#sketch_seen img").count() >= 2  # outline picture + painted colours
    shot = tmp_path / "browser-sketch.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
