"""`python -m bench occlude`: deterministic queries, truth.csv in the index's naming, aligned masks."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.__main__ import main
from pipeline.synthetic.occluders import DRAW, occlude, rough_garment

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "clothing-small"


def _product_shot(rng: np.random.Generator, h: int = 320, w: int = 240) -> np.ndarray:
    """A garment-ish blob on a textured floor: enough for placement and drawing."""
    floor = rng.integers(150, 200, size=3)
    image = (floor + rng.normal(0, 6, (h, w, 3))).clip(0, 255).astype(np.uint8)
    colour = tuple(int(v) for v in rng.integers(20, 120, size=3))
    cv2.ellipse(image, (w // 2, h // 2), (w // 3, int(h * 0.38)), 0, 0, 360, colour, -1)
    return image


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gallery")
    rng = np.random.default_rng(0)
    for rel in ("dress/a1.jpg", "dress/b2.jpg", "shirt/c3.png", "notes.txt"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".txt"):
            path.write_text("not an image")
        else:
            cv2.imwrite(str(path), cv2.cvtColor(_product_shot(rng), cv2.COLOR_RGB2BGR))
    return root


def _run(gallery: Path, out: Path, *extra: str) -> None:
    assert main(["occlude", "--gallery", str(gallery), "--out", str(out), *extra]) == 0


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(gallery, tmp_path):
    _run(gallery, tmp_path / "a", "--per-item", "2", "--seed", "5")
    _run(gallery, tmp_path / "b", "--per-item", "2", "--seed", "5")
    _run(gallery, tmp_path / "c", "--per-item", "2", "--seed", "6")
    a, b, c = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert a == b
    assert set(a) == set(c) and a != c


def test_truth_meta_and_masks(gallery, tmp_path):
    out = tmp_path / "out"
    _run(gallery, out, "--per-item", "3", "--seed", "1")
    with open(out / "truth.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["query", "item_id"]
    body = rows[1:]
    assert len(body) == 3 * 3  # three images (the .txt is not one), three queries each
    items = {r[1] for r in body}
    assert items == {"dress/a1.jpg", "dress/b2.jpg", "shirt/c3.png"}  # relative to --gallery, forward slashes
    meta = [json.loads(line) for line in (out / "meta.jsonl").read_text().splitlines()]
    assert [m["query"] for m in meta] == [r[0] for r in body]
    kinds = set()
    for (query, item), m in zip(body, meta):
        assert (gallery / item).is_file()
        image = cv2.imread(str(out / query))
        mask = cv2.imread(str(out / m["mask"]), cv2.IMREAD_UNCHANGED)
        assert image is not None and mask is not None
        assert mask.shape == image.shape[:2] and list(m["size"]) == [image.shape[1], image.shape[0]]
        assert set(np.unique(mask)) <= {0, 255}
        assert 0.002 < (mask > 0).mean() < 0.6, "the occluder is missing or swallows the frame"
        assert m["kinds"] and set(m["kinds"]) <= set(DRAW) and "jitter" in m
        kinds.update(m["kinds"])
    assert kinds == {"arm", "hair", "strap"}  # per-item kinds rotate


def test_limit_keeps_the_same_queries(gallery, tmp_path):
    _run(gallery, tmp_path / "all", "--seed", "2")
    _run(gallery, tmp_path / "some", "--seed", "2", "--limit", "2")
    full, part = _tree(tmp_path / "all"), _tree(tmp_path / "some")
    shared = [k for k in part if k.startswith(("queries/", "masks/"))]
    assert len(shared) == 4 and all(part[k] == full[k] for k in shared)


@pytest.mark.parametrize("kind", sorted(DRAW))
def test_occluder_is_drawn_inside_and_across_the_garment(kind):
    image = _product_shot(np.random.default_rng(3))
    garment = rough_garment(image)
    out, mask, meta = occlude(image, np.random.default_rng(11), kinds=(kind,), jitter=False)
    again = occlude(image, np.random.default_rng(11), kinds=(kind,), jitter=False)
    assert np.array_equal(out, again[0]) and np.array_equal(mask, again[1])
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert mask.dtype == bool and mask.shape == image.shape[:2]
    assert meta["kinds"] == [kind] and meta["occluders"][0]["kind"] == kind
    assert mask.sum() > 0.002 * mask.size
    # Measured 0.43–0.51 at worst over 75 draws: a good part of every occluder lies on the garment.
    assert (mask & garment).sum() > 0.25 * mask.sum(), "it does not cross the garment"
    changed = np.abs(out.astype(int) - image.astype(int)).sum(axis=2) > 12
    assert changed[mask].mean() > 0.8, "the mask claims pixels that were not painted"


def test_jitter_keeps_mask_aligned():
    image = _product_shot(np.random.default_rng(4))
    out, mask, meta = occlude(image, np.random.default_rng(9), kinds=("strap",), jitter=True)
    assert out.shape[:2] == mask.shape and meta["jitter"]["quality"] > 0
    plain, plain_mask, _ = occlude(image, np.random.default_rng(9), kinds=("strap",), jitter=False)
    assert out.shape != plain.shape or not np.array_equal(out, plain)
    # The strap keeps its colour under the mask after jitter: the mask moved with the image.
    inside = out[mask].astype(float).mean(0)
    outside = out[~mask].astype(float).mean(0)
    assert np.abs(inside - plain[plain_mask].astype(float).mean(0)).max() < np.abs(inside - outside).max()


def test_real_gallery_item_ids(tmp_path):
    gallery = (DATA / "validation").resolve()
    if not gallery.is_dir():
        pytest.skip(f"shared data not found at {gallery}")
    out = tmp_path / "real"
    _run(gallery, out, "--limit", "2", "--seed", "0")
    with open(out / "truth.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        assert (gallery / row["item_id"]).is_file() and "\\" not in row["item_id"]
        assert row["item_id"].count("/") == 1  # <category>/<file>, as the index names items
        assert (out / row["query"]).is_file()
