"""A CIE Lab colour histogram over garment pixels only.

Lab because its distances follow perception; a and b are binned over the
band real garments occupy rather than the full byte range. Each bin leaks a
little into its neighbours so a slight lighting shift moves mass instead of
emptying a bin; the square root (Hellinger map) makes the cosine of two
vectors the Bhattacharyya coefficient of the two distributions.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import COLOURS

L_BINS, A_BINS, B_BINS = 4, 8, 8
AB_RANGE = (64, 192)  # OpenCV's 8-bit a*, b* (128 = neutral)
_KERNEL = np.array([0.2, 0.6, 0.2], np.float32)


def _smooth(h: np.ndarray) -> np.ndarray:
    for axis in range(3):
        pad = [(0, 0)] * 3
        pad[axis] = (1, 1)
        p = np.pad(h, pad, mode="edge")
        sl = [slice(None)] * 3
        parts = []
        for i in range(3):
            sl[axis] = slice(i, i + h.shape[axis])
            parts.append(p[tuple(sl)] * _KERNEL[i])
        h = sum(parts)
    return h


def lab_pixels(image: np.ndarray) -> np.ndarray:
    """RGB uint8 → OpenCV 8-bit Lab, same shape."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)


@COLOURS.register("lab-hist")
class LabHistogram:
    name = "lab-hist"
    dim = L_BINS * A_BINS * B_BINS

    def histogram(self, image: np.ndarray, mask: np.ndarray | None, max_side: int = 192) -> np.ndarray:
        # A histogram does not need every pixel: a small copy keeps the same distribution.
        h0, w0 = image.shape[:2]
        scale = max_side / max(h0, w0)
        if scale < 1.0:
            size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            if mask is not None:
                mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        lab = lab_pixels(image)
        lab[..., 1:] = np.clip(lab[..., 1:], AB_RANGE[0], AB_RANGE[1] - 1)
        m = None
        if mask is not None:
            if mask.sum() < 16:  # too few garment pixels to trust: use the whole image
                mask = None
            else:
                m = mask.astype(np.uint8)
        h = cv2.calcHist(
            [lab], [0, 1, 2], m, [L_BINS, A_BINS, B_BINS],
            [0, 256, AB_RANGE[0], AB_RANGE[1], AB_RANGE[0], AB_RANGE[1]],
        )
        h = _smooth(h.astype(np.float32))
        total = float(h.sum())
        if total <= 0:
            h = np.ones_like(h)
            total = float(h.size)
        v = np.sqrt(h.ravel() / total).astype(np.float32)
        return v / max(float(np.linalg.norm(v)), 1e-12)
