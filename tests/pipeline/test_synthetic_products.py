"""The generated default catalogue: files, CSV, determinism, masks, speed."""
from __future__ import annotations

import csv
import hashlib
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.synthetic.products import (
    CATEGORIES, COLOURS, COLUMNS, PATTERNS, catalogue_specs, generate_catalogue, random_spec, render_product,
)
from pipeline.synthetic.spec import nearest_colour, spec_key

N_BIG = 100  # the smallest catalogue in which every category must appear


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, list[dict[str, str]], list[tuple[int, int]]]:
    out = tmp_path_factory.mktemp("cat")
    calls: list[tuple[int, int]] = []
    path = generate_catalogue(out, n_items=N_BIG, seed=3, progress=lambda d, t: calls.append((d, t)))
    return path, _rows(path), calls


def test_csv_columns_rows_and_files(big):
    path, rows, _ = big
    assert path.name == "catalogue.csv"
    assert len(rows) == N_BIG
    assert len({r["id"] for r in rows}) == N_BIG
    for r in rows:
        img = path.parent / r["image"]
        assert img.is_file() and img.suffix == ".jpg"
        assert Path(r["image"]).parts[:2] == ("images", r["category"])
        assert r["url"] == ""
        assert r["colour"] in COLOURS and r["pattern"] in PATTERNS and r["category"] in CATEGORIES
        assert r["colour"].lower() in r["title"].lower()
    # No temp files left behind by the atomic writes.
    assert not [p for p in path.parent.rglob("*") if p.name.startswith(".")]


def test_attributes_only_where_they_apply(big):
    _, rows, _ = big
    for r in rows:
        assert bool(r["sleeve"]) == (r["category"] in ("t-shirt", "longsleeve", "shirt", "dress"))
        assert bool(r["neckline"]) == (r["category"] in ("t-shirt", "longsleeve", "shirt", "dress"))
        if r["category"] in ("dress", "skirt"):
            assert r["length"] in ("mini", "midi", "maxi")
            assert r["length"] in r["title"]
        if r["category"] in ("t-shirt", "longsleeve", "shirt", "hat"):
            assert r["length"] == ""


def test_all_categories_represented(big):
    _, rows, _ = big
    counts = Counter(r["category"] for r in rows)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= N_BIG // len(CATEGORIES) - 1  # balanced, not just present


def test_images_decode_at_requested_size(big):
    path, rows, _ = big
    for r in rows[::7]:
        with Image.open(path.parent / r["image"]) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == (384, 512)


def test_progress_reports_every_item(big):
    _, _, calls = big
    assert calls == [(i, N_BIG) for i in range(1, N_BIG + 1)]


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = _digest(Path(generate_catalogue(tmp_path / "a", n_items=6, seed=7)).parent)
    b = _digest(Path(generate_catalogue(tmp_path / "b", n_items=6, seed=7)).parent)
    c = _digest(Path(generate_catalogue(tmp_path / "c", n_items=6, seed=8)).parent)
    assert a == b
    assert len(a) == 7  # 6 images + the CSV
    assert a != c


def test_rerun_over_existing_output_is_safe(tmp_path):
    first = _digest(Path(generate_catalogue(tmp_path, n_items=4, seed=1)).parent)
    (tmp_path / "catalogue.csv").unlink()  # as if the first run had been killed before the CSV
    again = _digest(Path(generate_catalogue(tmp_path, n_items=4, seed=1)).parent)
    assert first == again


def test_custom_size(tmp_path):
    path = generate_catalogue(tmp_path, n_items=3, seed=0, size=(200, 260))
    for r in _rows(path):
        with Image.open(tmp_path / r["image"]) as im:
            assert im.size == (200, 260)


@pytest.mark.parametrize("category", CATEGORIES)
def test_render_product_mask(category):
    rng = np.random.default_rng(11)
    for k in range(2):
        spec = random_spec(rng, category)
        img, mask = render_product(spec, np.random.default_rng(k), (384, 512))
        assert img.shape == (512, 384, 3) and img.dtype == np.uint8
        assert mask.shape == (512, 384) and mask.dtype == bool
        frac = mask.mean()
        assert 0.08 < frac < 0.8, (spec, frac)
        # Within bounds: the garment never touches the frame.
        assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
        # The mask is the garment: its pixels differ from the backdrop around it.
        bg = img[~mask].astype(float).mean(0)
        assert np.abs(img[mask].astype(float).mean(0) - bg).max() > 8 or spec.colour in ("white", "beige")


def test_solid_garments_read_as_their_colour_name():
    specs = [s for s in catalogue_specs(64, 5) if s.pattern == "solid"]
    assert len(specs) >= 10
    hits = 0
    for i, spec in enumerate(specs):
        img, mask = render_product(spec, np.random.default_rng(i))
        hits += nearest_colour(np.median(img[mask], axis=0)) == spec.colour
    assert hits >= 0.9 * len(specs)


def test_specs_are_mostly_unique_and_varied():
    specs = catalogue_specs(600, 0)
    keys = [spec_key(s) for s in specs]
    assert len(set(keys)) >= 0.95 * len(keys)
    assert {s.pattern for s in specs} == set(PATTERNS)
    assert {s.colour for s in specs} == set(COLOURS)
    assert len({(s.category, s.style) for s in specs}) >= 20  # silhouettes vary within a category


def test_render_is_fast_enough():
    specs = catalogue_specs(16, 9)
    render_product(specs[0], np.random.default_rng(0))  # warm the texture caches
    t0 = time.process_time()
    for i, spec in enumerate(specs):
        render_product(spec, np.random.default_rng(i))
    per_image = (time.process_time() - t0) / len(specs)
    assert per_image < 0.08, f"{per_image * 1000:.0f} ms per image"  # target ~12 ms; generous for CI
