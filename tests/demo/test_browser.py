"""A real browser: open a shared link, upload a photo, see results; a bad upload shows an error."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import browser_page

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def page(running_app):
    with browser_page(height=900, timeout_ms=45_000) as page:
        yield page


def _upload(page, path: Path) -> None:
    page.locator("#query input[type=file]").set_input_files(str(path))


def test_upload_shows_results_and_a_shared_link_sets_the_controls(page, running_app, tmp_path):
    page.goto(running_app.url + "?w=0.3&k=6", wait_until="load")
    page.wait_for_function("document.querySelector('#query input[type=file]') !== null")
    page.wait_for_function("""() => [...document.querySelectorAll('input[type=number]')]
                               .some(e => e.value === '0.3')""")  # the link's w reached the slider
    photo = sorted((running_app.catalogue / "t-shirt").glob("*.jpg"))[1]
    _upload(page, photo)
    page.wait_for_function("document.querySelectorAll('#results img').length === 6")
    assert "6 results" in page.locator("#summary").inner_text()
    assert "w = 0.30" in page.locator("#summary").inner_text()
    assert photo.stem[:8] in page.locator("#breakdown").inner_text()  # rank 1 is the photo's own item
    shot = tmp_path / "browser-search.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_a_bad_upload_shows_an_error_and_the_page_recovers(page, running_app, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_text("not an image")
    page.goto(running_app.url, wait_until="load")
    page.wait_for_function("document.querySelector('#query input[type=file]') !== null")
    _upload(page, bad)
    toast = page.get_by_text("not an image", exact=False).first
    toast.wait_for(state="visible")
    assert "JPEG, PNG or WebP" in page.locator("body").inner_text()
    page.reload(wait_until="load")
    page.wait_for_function("document.querySelector('#query input[type=file]') !== null")
    _upload(page, sorted((running_app.catalogue / "skirt").glob("*.jpg"))[0])
    page.wait_for_function("document.querySelectorAll('#results img').length === 10")
