"""The shape-based product region claims occluders inside the garment's outline only."""
import numpy as np

from pipeline.labels import INDEX
from pipeline.region import enclosed, fill_holes, product_region
from pipeline.types import Garment, Parsing


def parsing_with(garment: np.ndarray, occluder: np.ndarray, label: str = "left-arm") -> Parsing:
    lm = np.zeros(garment.shape, np.int16)
    lm[garment] = INDEX["garment"]
    lm[occluder] = INDEX[label]
    return Parsing(lm, [Garment("garment", garment & ~occluder)])


def test_fill_holes():
    m = np.zeros((9, 9), bool)
    m[2:7, 2:7] = True
    m[4, 4] = False
    assert fill_holes(m)[4, 4] and not fill_holes(m)[0, 0]


def test_arm_across_garment_is_claimed_and_arm_outside_is_not():
    h, w = 100, 100
    garment = np.zeros((h, w), bool)
    garment[20:80, 30:70] = True
    arm = np.zeros((h, w), bool)
    arm[45:55, 0:60] = True  # enters from the left border, crosses into the garment
    region = product_region(parsing_with(garment, arm))
    inside = arm & garment
    assert region.occluder[inside].mean() > 0.95
    # the part of the arm outside the garment's outline stays out
    assert not region.occluder[45:55, 0:25].any()
    assert region.product[inside].all()


def test_no_occluder_means_empty_noise_mask():
    garment = np.zeros((50, 50), bool)
    garment[10:40, 10:40] = True
    region = product_region(parsing_with(garment, np.zeros_like(garment)))
    assert not region.occluder.any() and region.product.sum() >= garment.sum()


def test_no_garment():
    lm = np.zeros((20, 20), np.int16)
    region = product_region(Parsing(lm, []))
    assert not region.product.any() and region.garment_label == "none"


def test_enclosed_between_rows():
    g = np.zeros((10, 10), bool)
    g[1, :] = g[8, :] = True
    assert enclosed(g)[5, 5]
