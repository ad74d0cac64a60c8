"""OpenCV inpainting: Telea, Navier–Stokes, and FSR from opencv-contrib.

Only pixels inside the mask change; an empty mask returns the input as is.
Work happens on a crop around the mask, so a small occluder on a large photo
costs what the occluder costs, not what the photo costs.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import INPAINTERS


def _crop_box(mask: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (max(0, ys.min() - pad), min(h, ys.max() + pad + 1),
            max(0, xs.min() - pad), min(w, xs.max() + pad + 1))


def paste_inside(image: np.ndarray, mask: np.ndarray, fill) -> np.ndarray:
    """Run `fill(crop, crop_mask) -> crop` on a box around the mask; keep pixels outside it."""
    if mask is None or not mask.any():
        return image
    y0, y1, x0, x1 = _crop_box(mask, pad=16)
    crop, m = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    filled = fill(crop, m)
    out = image.copy()
    region = out[y0:y1, x0:x1]
    region[m] = filled[m]
    return out


class _CV:
    flag: int
    name: str

    def __init__(self, radius: int = 5):
        self.radius = radius

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        def fill(crop, m):
            bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
            out = cv2.inpaint(bgr, m.astype(np.uint8) * 255, self.radius, self.flag)
            return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)

        return paste_inside(image, mask, fill)


@INPAINTERS.register("telea")
class Telea(_CV):
    name = "telea"
    flag = cv2.INPAINT_TELEA


@INPAINTERS.register("ns")
class NavierStokes(_CV):
    name = "ns"
    flag = cv2.INPAINT_NS


@INPAINTERS.register("fsr")
class FSR:
    """Frequency-selective reconstruction (opencv-contrib xphoto): better texture, slower."""

    name = "fsr"

    def __init__(self, quality: str = "fast"):
        if not hasattr(cv2, "xphoto"):
            raise ImportError("the fsr inpainter needs opencv-contrib: pip install opencv-contrib-python-headless==4.12.0.88")
        self.algo = cv2.xphoto.INPAINT_FSR_FAST if quality == "fast" else cv2.xphoto.INPAINT_FSR_BEST

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        def fill(crop, m):
            bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
            keep = (~m).astype(np.uint8)  # xphoto marks the *valid* pixels
            dst = np.zeros_like(bgr)
            cv2.xphoto.inpaint(bgr, keep, dst, self.algo)
            return cv2.cvtColor(dst, cv2.COLOR_BGR2RGB)

        return paste_inside(image, mask, fill)


@INPAINTERS.register("none")
class NoRestore:
    """Removal only: occluder pixels are left blank (grey), for ablations."""

    name = "none"

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if mask is None or not mask.any():
            return image
        out = image.copy()
        out[mask] = 128
        return out
