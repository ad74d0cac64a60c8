"""The classical (offline) parser: contract, clean shots stay clean, synthetic arms are found, odd inputs.

Thresholds come from measurements on these very images (see bench/maskiou.py
for the method) minus a margin: arm IoU measured 0.78–0.93 per image, 0.86
mean; clean occluder fraction measured 0.0 on every clean image here.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.labels import INDEX, LABELS
from pipeline.parse import PARSERS
from pipeline.region import product_region
from pipeline.synthetic.occluders import occlude
from pipeline.types import Garment, Parser, Parsing

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "clothing-small"

# Skin-coloured or beige garments, a plaid, a shirt on beige bedding: none has anything to remove.
CLEAN = [
    "dress/07cddef1-1fc8-47e4-a28a-613e60912590.jpg",  # pink top on a wooden floor
    "pants/2f03be8f-7053-4b94-b619-d5166b34ef3f.jpg",  # beige trousers
    "pants/012d1ca9-baaf-4b01-8b60-955f3408b1b7.jpg",  # cream trousers on a hanger
    "skirt/36d30ee9-1a06-49a5-94ca-1e58f13e7dc2.jpg",  # plaid skirt on a beige rug
    "shirt/118fb0e8-2783-4086-b81a-d2a332fbb4f2.jpg",  # blue shirt on beige bedding
]
ARM = [
    "t-shirt/06de9ebd-be39-4cc6-aea7-1d047ccf1a52.jpg",
    "shirt/00143901-a14c-4600-960f-7747b4a3a8cd.jpg",
    "longsleeve/0354015d-9ed3-4175-9f85-dd5725dce0e1.jpg",
    "outwear/0ad8629f-2e9f-4591-a661-7489d6d49737.jpg",
    "shorts/0c4d3d88-9756-4211-83ad-2d6c68ea0043.jpg",
]


@pytest.fixture(scope="module")
def validation() -> Path:
    root = (DATA / "validation").resolve()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (expected the repo's sibling shared/data/clothing-small)")
    return root


@pytest.fixture(scope="module")
def parser():
    return PARSERS.create("classical")


def _load(root: Path, rel: str) -> np.ndarray:
    from pipeline.imageio import load_image

    return load_image(root / rel)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else 1.0


def test_registered_and_protocol(parser):
    assert "classical" in PARSERS.names()
    assert parser.name == "classical"
    assert isinstance(parser, Parser)


def test_output_contract(parser, validation):
    image = _load(validation, CLEAN[0])
    p = parser.parse(image)
    assert isinstance(p, Parsing)
    assert p.label_map.dtype == np.int16 and p.label_map.shape == image.shape[:2]
    assert p.label_map.min() >= 0 and p.label_map.max() < len(LABELS)
    assert p.backend == "classical" and p.seconds > 0
    assert p.garments and all(isinstance(g, Garment) for g in p.garments)
    areas = [g.area for g in p.garments]
    assert areas == sorted(areas, reverse=True)
    g = p.garments[0]
    assert g.label == "garment" and g.mask.dtype == bool and g.mask.shape == image.shape[:2]
    # The garment mask is exactly the pixels the label map calls garment.
    assert np.array_equal(g.mask, p.label_map == INDEX["garment"])
    assert 0.05 < g.mask.mean() < 0.95


def test_deterministic(parser, validation):
    image = _load(validation, ARM[0])
    assert np.array_equal(parser.parse(image).label_map, parser.parse(image).label_map)


@pytest.mark.parametrize("rel", CLEAN)
def test_clean_shot_has_almost_no_occluder(parser, validation, rel):
    region = product_region(parser.parse(_load(validation, rel)))
    assert region.product.mean() > 0.1, "the garment itself was lost"
    assert region.occluded_fraction < 0.02


def test_striped_skin_coloured_garment_is_not_skin(parser):
    # Beige and tan stripes fire every skin rule; they are the garment's own colours, not an arm.
    h, w = 360, 300
    image = np.full((h, w, 3), (70, 90, 110), np.uint8)
    body = np.zeros((h, w), np.uint8)
    cv2.fillPoly(body, [np.array([[80, 50], [220, 50], [270, 120], [240, 140], [230, 320], [70, 320],
                                  [60, 140], [30, 120]])], 1)
    stripes = ((np.arange(h) // 14) % 2).astype(bool)[:, None].repeat(w, 1)
    colour = np.where(stripes[..., None], (222, 184, 150), (160, 110, 80)).astype(np.uint8)
    image[body.astype(bool)] = colour[body.astype(bool)]
    image = cv2.GaussianBlur(image, (3, 3), 0)
    region = product_region(parser.parse(image))
    assert region.product.sum() > 0.8 * body.sum()
    assert region.occluded_fraction < 0.02


def test_synthetic_arm_is_found(parser, validation):
    ious = []
    for rel in ARM:
        clean = _load(validation, rel)
        product = product_region(parser.parse(clean)).product
        query, drawn, _ = occlude(clean, np.random.default_rng(7), kinds=("arm",), jitter=False)
        predicted = product_region(parser.parse(query)).occluder
        ious.append(_iou(predicted, drawn & product))
    assert min(ious) > 0.5, ious
    assert float(np.mean(ious)) > 0.7, ious


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 1), (3, 5, 3), (7, 9, 3), (12, 200, 3), (4, 2000, 3),
                                   (2000, 4, 3), (31, 17, 4), (64, 48)])
def test_odd_inputs_do_not_crash(parser, shape):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=shape, dtype=np.uint8)
    p = parser.parse(image)
    assert p.label_map.shape == shape[:2] and p.label_map.dtype == np.int16
    region = product_region(p)
    assert region.product.shape == shape[:2]


@pytest.mark.parametrize("value", [0, 128, 255])
def test_flat_and_grey_images(parser, value):
    flat = np.full((120, 90, 3), value, np.uint8)
    p = parser.parse(flat)
    assert p.label_map.shape == (120, 90)
    assert not p.occluders.any()
    grey = cv2.cvtColor(_gradient_shirt(), cv2.COLOR_RGB2GRAY)
    assert parser.parse(grey).label_map.shape == grey.shape


def _gradient_shirt() -> np.ndarray:
    image = np.full((200, 160, 3), 230, np.uint8)
    cv2.rectangle(image, (40, 40), (120, 170), (40, 60, 150), -1)
    return image


def test_speed_budget(parser, validation):
    # The budget is 40 ms per 512 px image on one core; a shared CI box gets a generous margin.
    images = []
    for rel in ARM:
        im = _load(validation, rel)
        s = 512 / max(im.shape[:2])
        images.append(cv2.resize(im, (round(im.shape[1] * s), round(im.shape[0] * s))))
    parser.parse(images[0])
    t0 = time.process_time()
    for im in images:
        parser.parse(im)
    per_image = (time.process_time() - t0) / len(images)
    assert per_image < 0.15, f"{per_image * 1000:.0f} ms per image"
