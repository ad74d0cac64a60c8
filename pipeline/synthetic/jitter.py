"""Photometric and geometric jitter, applied to an image and its mask together.

Queries in the wild are not the catalogue shot with a hand pasted on: they
are re-framed, slightly tilted, lit differently and JPEG-compressed again.
Geometry is applied to the mask with the very same warp (as a float, then
thresholded) so the ground truth stays pixel-aligned with the query.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass
class Jitter:
    crop: tuple[int, int, int, int]  # y0, y1, x0, x1 in the input
    angle: float  # degrees, counter-clockwise
    zoom: float  # about the crop centre; ≥ what hides the rotated corners
    scale: float  # output size / crop size
    gain: float  # brightness multiplier
    shift: tuple[float, float, float]  # per-channel RGB offset (a colour cast)
    quality: int  # JPEG re-encode quality; 0 = none

    def as_dict(self) -> dict:
        d = asdict(self)
        d["crop"] = list(self.crop)
        d["shift"] = [round(float(v), 3) for v in self.shift]
        for k in ("angle", "zoom", "scale", "gain"):
            d[k] = round(float(d[k]), 4)
        return d


def sample_jitter(shape: tuple[int, ...], rng: np.random.Generator, strength: float = 1.0) -> Jitter:
    """Random jitter for an image of `shape`; strength 0 gives the identity (bar JPEG)."""
    h, w = shape[:2]
    keep_y = 1.0 - strength * rng.uniform(0.0, 0.15)
    keep_x = 1.0 - strength * rng.uniform(0.0, 0.15)
    ch, cw = max(1, round(h * keep_y)), max(1, round(w * keep_x))
    y0 = int(rng.integers(0, h - ch + 1))
    x0 = int(rng.integers(0, w - cw + 1))
    angle = float(strength * rng.uniform(-6.0, 6.0))
    a = np.deg2rad(abs(angle))
    aspect = max(cw / ch, ch / cw)
    zoom = float(np.cos(a) + np.sin(a) * aspect)  # smallest zoom with no empty corners
    return Jitter(
        crop=(y0, y0 + ch, x0, x0 + cw),
        angle=angle,
        zoom=zoom,
        scale=float(1.0 + strength * rng.uniform(-0.2, 0.2)),
        gain=float(1.0 + strength * rng.uniform(-0.15, 0.15)),
        shift=tuple(float(v) for v in strength * rng.uniform(-10.0, 10.0, 3)),
        quality=int(rng.integers(60, 96)),
    )


def _warp(a: np.ndarray, j: Jitter, size: tuple[int, int], interp: int) -> np.ndarray:
    h, w = a.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), j.angle, j.zoom)
    out_w, out_h = size
    # Fold the output resize into the same affine map: one resampling, not two.
    m = m * np.array([[out_w / w], [out_h / h]])
    return cv2.warpAffine(a, m, (out_w, out_h), flags=interp, borderMode=cv2.BORDER_REFLECT_101)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def apply_jitter(image: np.ndarray, mask: np.ndarray | None, j: Jitter, photometric: bool = True):
    """Apply `j` to an RGB uint8 image and (optionally) its bool mask; returns (image, mask)."""
    y0, y1, x0, x1 = j.crop
    img = image[y0:y1, x0:x1]
    ch, cw = img.shape[:2]
    size = (max(1, round(cw * j.scale)), max(1, round(ch * j.scale)))
    img = _warp(img, j, size, cv2.INTER_LINEAR)
    out_mask = None
    if mask is not None:
        m = mask[y0:y1, x0:x1].astype(np.float32)
        out_mask = _warp(m, j, size, cv2.INTER_LINEAR) >= 0.5
    if photometric:
        f = img.astype(np.float32) * j.gain + np.asarray(j.shift, np.float32)
        img = np.clip(f + 0.5, 0, 255).astype(np.uint8)
        if j.quality:
            img = jpeg(img, j.quality)
    return img, out_mask
