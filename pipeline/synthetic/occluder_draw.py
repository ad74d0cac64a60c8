"""Drawing primitives for synthetic occluders: shaded tubes, soft masks, compositing.

Limbs and straps are unions of capsules (a segment swept by a radius that
may change along it). Coverage comes from the analytic distance to each
segment, so edges are anti-aliased at any scale without supersampling, and
the same distance gives the across-the-tube coordinate that cylindrical
shading needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Capsule:
    a: tuple[float, float]  # (x, y) start
    b: tuple[float, float]  # (x, y) end
    ra: float  # radius at a
    rb: float  # radius at b


def bbox_of(caps: list[Capsule], shape: tuple[int, int], pad: float = 2.0) -> tuple[int, int, int, int] | None:
    """Pixel box (y0, y1, x0, x1) touched by the capsules, clipped to the image; None if outside."""
    h, w = shape
    xs = [c.a[0] for c in caps] + [c.b[0] for c in caps]
    ys = [c.a[1] for c in caps] + [c.b[1] for c in caps]
    r = max(max(c.ra, c.rb) for c in caps) + pad
    x0, x1 = int(np.floor(min(xs) - r)), int(np.ceil(max(xs) + r)) + 1
    y0, y1 = int(np.floor(min(ys) - r)), int(np.ceil(max(ys) + r)) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x0 >= x1 or y0 >= y1:
        return None
    return y0, y1, x0, x1


def tubes(caps: list[Capsule], shape: tuple[int, int]):
    """Coverage (float32 0..1) and across-tube coordinate s in [-1, 1] for a union of capsules.

    Where capsules overlap, the one whose surface is highest (deepest inside,
    relative to its radius) wins, as a rounded 3-D tube in front would.
    """
    h, w = shape
    cover = np.zeros((h, w), np.float32)
    across = np.zeros((h, w), np.float32)
    box = bbox_of(caps, shape)
    if box is None:
        return cover, across
    y0, y1, x0, x1 = box
    py, px = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    best = np.full(px.shape, -np.inf, np.float32)
    cov = np.zeros(px.shape, np.float32)
    acr = np.zeros(px.shape, np.float32)
    for c in caps:
        ax, ay = c.a
        dx, dy = c.b[0] - ax, c.b[1] - ay
        ll = dx * dx + dy * dy or 1e-6
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / ll, 0.0, 1.0)
        qx, qy = px - (ax + t * dx), py - (ay + t * dy)
        d = np.sqrt(qx * qx + qy * qy)
        r = np.maximum(c.ra + t * (c.rb - c.ra), 0.5)
        height = 1.0 - d / r  # 1 on the axis, 0 on the silhouette
        side = np.sign(dx * qy - dy * qx)
        win = height > best
        best = np.where(win, height, best)
        cov = np.maximum(cov, np.clip(r - d + 0.5, 0.0, 1.0))
        acr = np.where(win, np.clip(side * d / r, -1.0, 1.0), acr)
    cover[y0:y1, x0:x1] = cov
    across[y0:y1, x0:x1] = acr
    return cover, across


def cylinder_light(across: np.ndarray, light: float, ambient: float = 0.5, gloss: float = 0.12) -> np.ndarray:
    """Brightness of a cylinder seen side-on, lit from angle `light` (radians) in its cross-section."""
    nz = np.sqrt(np.clip(1.0 - across * across, 0.0, 1.0))
    lam = np.clip(across * np.sin(light) + nz * np.cos(light), 0.0, 1.0)
    return ambient + (1.0 - ambient) * lam + gloss * lam ** 16


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Zero-mean, unit-ish band-limited noise: the blotchiness of skin or leather."""
    h, w = shape
    n = rng.standard_normal((h, w)).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), max(0.5, sigma))
    sd = float(n.std()) or 1.0
    return n / sd


def rounded_rect(shape: tuple[int, int], centre, size, angle: float, radius: float) -> np.ndarray:
    """Anti-aliased coverage of a rotated rounded rectangle (size = full width, height)."""
    h, w = shape
    py, px = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    x, y = px - centre[0], py - centre[1]
    u, v = c * x + s * y, -s * x + c * y
    hx, hy = size[0] / 2 - radius, size[1] / 2 - radius
    qx, qy = np.abs(u) - hx, np.abs(v) - hy
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    sdf = outside + np.minimum(np.maximum(qx, qy), 0) - radius
    return np.clip(0.5 - sdf, 0.0, 1.0).astype(np.float32)


def composite(image: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha-blend a float RGB layer (0..255) over a uint8 image."""
    a = alpha[..., None]
    out = image.astype(np.float32) * (1.0 - a) + colour * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def cast_shadow(image: np.ndarray, alpha: np.ndarray, offset: tuple[float, float], blur: float,
                strength: float) -> np.ndarray:
    """Darken the image under a soft, offset copy of `alpha` (a contact shadow, not an occluder)."""
    m = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
    h, w = alpha.shape
    sh = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    sh = cv2.GaussianBlur(sh, (0, 0), max(0.5, blur))
    out = image.astype(np.float32) * (1.0 - strength * sh[..., None])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def bezier(p0, p1, p2, n: int) -> np.ndarray:
    """n points on the quadratic Bézier p0 → p2 pulled towards p1."""
    t = np.linspace(0.0, 1.0, max(2, n))[:, None]
    p0, p1, p2 = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
