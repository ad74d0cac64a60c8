"""Geometry shared by the silhouette builders: curves, bands, and the layout.

Builders work in "garment units" (a top's chest is 1.0 wide, y grows down);
`Layout.fit` maps everything to pixels at the end, so proportions are
randomised in one place and the framing in another.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from math import comb

import numpy as np


@lru_cache(maxsize=64)
def _basis(k: int, n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.concatenate([comb(k, i) * t ** i * (1 - t) ** (k - i) for i in range(k + 1)], 1)


def bez(*ctrl, n: int = 12) -> np.ndarray:
    """Bezier curve of any degree through its control points, (n, 2)."""
    p = np.asarray(ctrl, np.float64)
    return _basis(len(p) - 1, n) @ p


def arc(c, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> np.ndarray:
    """Elliptic arc, angles in degrees (0 = +x, 90 = +y i.e. down)."""
    a = np.radians(np.linspace(a0, a1, n))
    return np.stack([c[0] + rx * np.cos(a), c[1] + ry * np.sin(a)], 1)


def chain(*pieces) -> np.ndarray:
    """Join polylines, dropping a point that repeats the previous piece's end."""
    out = [np.asarray(pieces[0], np.float64).reshape(-1, 2)]
    for p in pieces[1:]:
        p = np.asarray(p, np.float64).reshape(-1, 2)
        if np.allclose(p[0], out[-1][-1]):
            p = p[1:]
        out.append(p)
    return np.concatenate(out)


def mirror(pts) -> np.ndarray:
    p = np.array(pts, np.float64).reshape(-1, 2)
    p[:, 0] *= -1
    return p


def normals(pts: np.ndarray) -> np.ndarray:
    """Unit left-hand normals of a polyline (the side to the right when y is down)."""
    d = np.gradient(pts, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    return np.stack([-d[:, 1], d[:, 0]], 1)


def offset(pts, dist: float) -> np.ndarray:
    pts = np.asarray(pts, np.float64)
    return pts + normals(pts) * dist


def band(pts, width: float) -> np.ndarray:
    """Closed polygon of a strip of `width` along a polyline (collars, waistbands, hems)."""
    pts = np.asarray(pts, np.float64)
    return np.concatenate([pts, offset(pts, width)[::-1]])


def resample(pts, step: float) -> np.ndarray:
    """Points every `step` along a polyline (for stitches and buttons)."""
    pts = np.asarray(pts, np.float64)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    if s[-1] <= step:
        return pts[[0, -1]]
    q = np.arange(0, s[-1], step)
    return np.stack([np.interp(q, s, pts[:, 0]), np.interp(q, s, pts[:, 1])], 1)


def lerp(a, b, t: float) -> np.ndarray:
    return np.asarray(a, np.float64) * (1 - t) + np.asarray(b, np.float64) * t


@dataclass
class Part:
    """One fabric piece. Later parts are drawn over earlier ones."""

    poly: np.ndarray
    kind: str = "fabric"  # fabric | inside | rib | trim | secondary
    angle: float = 0.0  # pattern direction (radians) so stripes run across sleeves
    origin: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.05  # edge roll-off of the height field (pillow vs cylinder)
    shade: float = 1.0
    outline: bool = False  # lies on top of another piece: draw a contact line
    colour: tuple[int, int, int] | None = None  # trims: a fixed colour, no pattern


@dataclass
class Fold:
    """A soft ridge (amp > 0) or valley along a segment, wider at p1 than p0."""

    p0: tuple[float, float]
    p1: tuple[float, float]
    w0: float
    w1: float
    amp: float


@dataclass
class Fan:
    """Radial folds or pleats of a flared skirt, converging on `apex` above it."""

    apex: tuple[float, float]
    y0: float
    y1: float
    parts: tuple[int, ...]
    count: float  # folds per radian
    amp: float
    phase: float
    pleat: bool = False
    wobble: float = 0.0  # irregular spacing: s += wobble * sin(2.7 s + wobble_phase)
    wobble_phase: float = 0.0


@dataclass
class Layout:
    parts: list[Part]
    seams: list[np.ndarray] = field(default_factory=list)  # pressed grooves
    stitches: list[np.ndarray] = field(default_factory=list)  # dashed top-stitching
    folds: list[Fold] = field(default_factory=list)
    fans: list[Fan] = field(default_factory=list)
    buttons: list[tuple[tuple[float, float], float]] = field(default_factory=list)
    graphic: tuple[tuple[float, float], float, int] | None = None  # placed print: centre, width, piece
    fabric: str = "woven"
    stitch_colour: tuple[int, int, int] | None = None
    button_colour: tuple[int, int, int] | None = None
    wrinkle: float = 0.02  # amplitude of random crumpling, garment units
    scale: float = 1.0  # pixels per garment unit, once fitted

    def add(self, part: Part) -> int:
        self.parts.append(part)
        return len(self.parts) - 1

    def fit(self, w: int, h: int, rng: np.random.Generator, margin: float, tilt_deg: float) -> "Layout":
        """Scale, tilt and centre everything into a w×h frame."""
        pts = np.concatenate([p.poly for p in self.parts])
        lo, hi = pts.min(0), pts.max(0)
        size = np.maximum(hi - lo, 1e-6)
        s = min(w * (1 - 2 * margin) / size[0], h * (1 - 2 * margin) / size[1])
        t = np.radians(rng.uniform(-tilt_deg, tilt_deg))
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) * s
        slack = (np.array([w, h]) - size * s) / 2
        shift = rng.uniform(-0.3, 0.3, 2) * np.minimum(slack, 0.04 * np.array([w, h]))
        centre = np.array([w, h]) / 2 + shift
        mid = (lo + hi) / 2

        def tp(p):
            return (np.asarray(p, np.float64) - mid) @ rot.T + centre

        out = Layout(parts=[], fabric=self.fabric, stitch_colour=self.stitch_colour,
                     button_colour=self.button_colour, wrinkle=self.wrinkle * s, scale=s)
        for p in self.parts:
            out.parts.append(Part(tp(p.poly), p.kind, p.angle + t, tuple(tp(p.origin)), p.radius * s,
                                  p.shade, p.outline, p.colour))
        out.seams = [tp(q) for q in self.seams]
        out.stitches = [tp(q) for q in self.stitches]
        out.folds = [Fold(tuple(tp(f.p0)), tuple(tp(f.p1)), f.w0 * s, f.w1 * s, f.amp * s) for f in self.folds]
        # Fans are rotation-tolerant (their angle is measured from the apex), so only map points.
        out.fans = [Fan(tuple(tp(f.apex)), float(tp((0, f.y0))[1]), float(tp((0, f.y1))[1]), f.parts,
                        f.count, f.amp * s, f.phase, f.pleat, f.wobble, f.wobble_phase) for f in self.fans]
        out.buttons = [(tuple(tp(c)), r * s) for c, r in self.buttons]
        if self.graphic is not None:
            out.graphic = (tuple(tp(self.graphic[0])), self.graphic[1] * s, self.graphic[2])
        return out
