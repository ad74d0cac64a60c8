"""Light on cloth: a height field per garment, its shading, fabric and background.

The garment is given a height field at half resolution (cheap, and shading
is smooth anyway): each piece rises from its outline like a pillow
(flat-lay) or a cylinder (mannequin), folds add ridges and valleys, and a
little noise crumples it. Its gradient gives both the Lambert shading and
the displacement that makes patterns bend with the folds. Noise and weave
textures are made once per image size from a fixed seed and cropped at a
random offset per image, which keeps every image cheap and deterministic.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .shapes import Layout

PAD = 64  # crop slack in the cached texture banks
_LIGHT = np.array([-0.35, -0.55, 1.0]) / np.linalg.norm([-0.35, -0.55, 1.0])
_HALF_VEC = (_LIGHT + [0, 0, 1]) / np.linalg.norm(_LIGHT + [0, 0, 1])


def _blur(a: np.ndarray, sx: float, sy: float | None = None) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), sx, sigmaY=sy if sy is not None else sx, borderType=cv2.BORDER_REFLECT)


def _unit(a: np.ndarray) -> np.ndarray:
    a = a - a.mean()
    return (a / (a.std() + 1e-6)).astype(np.float32)


@lru_cache(maxsize=4)
def noise_bank(h: int, w: int) -> dict[str, np.ndarray]:
    """Half-resolution smooth noise fields (zero mean, unit std), padded for cropping."""
    rng = np.random.default_rng(20240611)
    shape = (h + PAD, w + PAD)
    return {
        "wrinkle": _unit(_blur(rng.standard_normal(shape).astype(np.float32), 7)),
        "crinkle": _unit(_blur(rng.standard_normal(shape).astype(np.float32), 2.5)),
        "paper": _unit(_blur(rng.standard_normal(shape).astype(np.float32), 12)),
    }


@lru_cache(maxsize=4)
def fabric_bank(h: int, w: int) -> dict[str, np.ndarray]:
    """Full-resolution multiplicative fabric textures (mean 1), padded for cropping."""
    rng = np.random.default_rng(77)
    H, W = h + PAD, w + PAD
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    grain = _unit(_blur(rng.standard_normal((H, W)).astype(np.float32), 0.6))
    slub = _unit(_blur(rng.standard_normal((H, W)).astype(np.float32), 6, 0.8))
    streak = _unit(_blur(rng.standard_normal((H, W)).astype(np.float32), 0.8, 14))
    tex = {
        "jersey": 1 + 0.022 * grain + 0.018 * np.cos(2 * np.pi * x / 2.7),
        "woven": 1 + 0.018 * grain + 0.01 * (np.cos(np.pi * x) * np.cos(np.pi * y)) + 0.015 * slub,
        "denim": 1 + 0.03 * grain + 0.045 * np.cos(2 * np.pi * (x + y) / 3.3) + 0.06 * streak,
        "rib": 1 + 0.07 * np.cos(2 * np.pi * x / 3.6) + 0.02 * grain,
        "knit": 1 + 0.05 * np.abs(np.sin(np.pi * x / 3.2 + 0.6 * np.abs(np.sin(np.pi * y / 3.0)))) + 0.03 * grain,
        "grain": 0.006 * grain,
    }
    return {k: v.astype(np.float32) for k, v in tex.items()}


def crop(bank: np.ndarray, h: int, w: int, rng) -> np.ndarray:
    oy, ox = rng.integers(0, PAD, 2)
    return bank[oy:oy + h, ox:ox + w]


def _row_distance(m: np.ndarray) -> np.ndarray:
    """Distance to the nearest empty pixel in the same row."""
    idx = np.arange(m.shape[1], dtype=np.float32)[None, :]
    empty = m == 0
    left = np.maximum.accumulate(np.where(empty, idx, -1e4), axis=1)
    right = np.minimum.accumulate(np.where(empty, idx, 1e4)[:, ::-1], axis=1)[:, ::-1]
    return np.minimum(idx - left, right - idx)


def height_field(lay: Layout, label: np.ndarray, rng, cylinder: bool, org=(0, 0),
                 frame: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(height, distance to the piece's edge), both half-res float32 px.

    `label` is the half-res label map of a box whose top-left is `org` inside a
    half-res frame of shape `frame` (which keys the cached noise).
    """
    hh, ww = label.shape
    org = np.asarray(org, np.float64)
    height = np.zeros((hh, ww), np.float32)
    edge = np.full((hh, ww), 99.0, np.float32)
    for i, part in enumerate(lay.parts):
        poly = part.poly * 0.5 - org
        x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(poly.max(0)).astype(int) + 3, (ww, hh))
        if x1 <= x0 or y1 <= y0:
            continue
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(m, [np.round((poly - (x0, y0)) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        d = cv2.distanceTransform(m, cv2.DIST_L2, 3)
        r = float(max(part.radius * 0.5, 1.0))
        if cylinder and r > 12:  # a body on a mannequin curves across, not towards its hem
            d = np.minimum(_row_distance(m), d * 3)
        t = 1 - np.minimum(d * (1 / r), 1.0)
        prof = np.sqrt(1 - t * t) * r if cylinder else (1 - t * t) * (0.45 * r)
        sel = label[y0:y1, x0:x1] == i + 1
        np.copyto(height[y0:y1, x0:x1], prof, where=sel)
        np.copyto(edge[y0:y1, x0:x1], d, where=sel)
    ys = np.arange(hh, dtype=np.float32)[:, None]
    xs = np.arange(ww, dtype=np.float32)[None, :]
    for f in lay.folds:
        p0, p1 = np.array(f.p0) * 0.5 - org, np.array(f.p1) * 0.5 - org
        reach = max(f.w0, f.w1) * 0.5 * 2.5
        x0, y0 = np.maximum(np.floor(np.minimum(p0, p1) - reach).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(np.maximum(p0, p1) + reach).astype(int), (ww, hh))
        if x1 <= x0 or y1 <= y0:
            continue
        vx, vy = float(p1[0] - p0[0]), float(p1[1] - p0[1])
        inv_len2 = 1.0 / max(vx * vx + vy * vy, 1e-6)
        gx, gy = xs[:, x0:x1] - float(p0[0]), ys[y0:y1] - float(p0[1])
        t = np.clip((gx * vx + gy * vy) * inv_len2, 0, 1)
        d2 = (gx - t * vx) ** 2 + (gy - t * vy) ** 2
        wid = t * float((f.w1 - f.w0) * 0.5) + float(f.w0 * 0.5)
        height[y0:y1, x0:x1] += np.sin(t * np.float32(np.pi)) * np.exp(-d2 / (wid * wid)) * float(f.amp * 0.5)
    for fan in lay.fans:
        y0, y1 = int(max(fan.y0 * 0.5 - org[1], 0)), int(min(fan.y1 * 0.5 - org[1] + 4, hh))
        if y1 <= y0:
            continue
        sel = np.isin(label[y0:y1], [p + 1 for p in fan.parts])
        cols = np.flatnonzero(sel.any(0))
        if not len(cols):
            continue
        c0, c1 = int(cols[0]), int(cols[-1]) + 1
        sel = sel[:, c0:c1]
        phi = np.arctan2(xs[:, c0:c1] - float(fan.apex[0] * 0.5 - org[0]), ys[y0:y1] - float(fan.apex[1] * 0.5 - org[1]))
        s = phi * float(fan.count) + float(fan.phase)
        s = s + np.sin(s * 2.7 + float(fan.wobble_phase)) * float(fan.wobble)
        prof = 2 * (s - np.floor(s)) - 1 if fan.pleat else np.cos(s * np.float32(2 * np.pi))
        if not fan.pleat:  # folds deepen towards the hem
            prof *= 0.3 + 0.7 * np.clip((ys[y0:y1] - y0) * (1 / max(y1 - y0, 1)), 0, 1)
        height[y0:y1, c0:c1] += prof * sel * float(fan.amp * 0.5)
    bank = noise_bank(*(frame or (hh, ww)))
    crumple = crop(bank["wrinkle"], hh, ww, rng) + 0.2 * crop(bank["crinkle"], hh, ww, rng)
    height += crumple * (label > 0) * float(lay.wrinkle * 0.5)
    return height, edge


_L = [float(v) for v in _LIGHT]
_HV = [float(v) for v in _HALF_VEC]


def light(height: np.ndarray, edge: np.ndarray, gloss: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(shade factor, additive sheen, slope x, slope y) at half resolution."""
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
    inv = 1.0 / np.sqrt(gx * gx + gy * gy + 1)
    lam = (_L[2] - gx * _L[0] - gy * _L[1]) * inv
    shade = np.maximum(lam, 0) * (0.7 / _L[2]) + 0.3
    shade *= 1 - np.exp(edge * (-1 / 3.0)) * 0.22  # occlusion where a piece meets the table or another piece
    cavity = height - cv2.blur(height, (11, 11))
    shade *= np.clip(cavity * 0.04 + 1, 0.8, 1.1)
    sheen = np.zeros_like(shade)
    if gloss > 0:
        nh = np.clip((_HV[2] - gx * _HV[0] - gy * _HV[1]) * inv, 0, 1)
        nh *= nh * nh  # ^3, then ^24 by squaring: far cheaper than a float power
        nh *= nh
        nh *= nh
        nh *= nh
        sheen = nh * float(gloss * 255)
    return shade, sheen, gx, gy


def background(alpha_full: np.ndarray, rng, garment_rgb, pose: str) -> tuple[np.ndarray, np.ndarray]:
    """(luminance factor H×W float32, RGB base colour) of a studio sweep with a soft shadow."""
    h, w = alpha_full.shape
    q = cv2.resize(alpha_full, (w // 4, h // 4), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    hq, wq = q.shape
    ox, oy = rng.uniform(0.5, 1.5), rng.uniform(1.0, 2.5)  # light from the upper left
    m = np.float32([[1, 0, ox], [0, 1, oy]])
    contact = _blur(cv2.warpAffine(q, m, (wq, hq)), 1.0)
    soft = _blur(cv2.warpAffine(q, m * [[1, 1, 2.5], [1, 1, 2.5]], (wq, hq)), 5.0)
    strength = 0.18 if pose == "flat" else 0.12
    shadow = 1 - strength * contact - 0.14 * soft
    yy = np.linspace(-0.5, 0.5, hq, dtype=np.float32)[:, None]
    xx = np.linspace(-0.5, 0.5, wq, dtype=np.float32)[None, :]
    tilt = rng.uniform(-0.06, 0.02)
    field = (1 + tilt * yy - rng.uniform(0.04, 0.1) * (xx * xx + yy * yy)) * shadow
    paper = crop(noise_bank(hq * 2, wq * 2)["paper"], hq, wq, rng)
    field *= 1 + rng.uniform(0.004, 0.012) * paper
    full = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    full += crop(fabric_bank(h, w)["grain"], h, w, rng)
    tones = [(240, 238, 234), (236, 234, 230), (241, 237, 230), (232, 234, 236), (238, 236, 238)]
    base = np.array(tones[int(rng.integers(len(tones)))], np.float32) + rng.uniform(-4, 4)
    if sum(garment_rgb) > 600:  # keep a pale garment visible: a deeper, cooler sweep
        base = base * 0.9 - [4, 2, 0]
    return full, base
