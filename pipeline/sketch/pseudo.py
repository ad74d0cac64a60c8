"""Pseudo-sketches: what a shopper might draw of a catalogue item, made from its photo.

Used by the benchmark (queries with a known answer), by colouriser training
(inputs for a known photo) and for the app's example sketches. A drawing is
  - the garment's outline: its mask contour, simplified to a polygon and
    wobbled, as a hand traces a silhouette;
  - some interior lines (seams, collar, pockets): the longest pieces of the
    photo's edge map, a share of them dropped, the rest warped;
  - colour: a few scribbles in the garment's main colours (k-means of its
    pixels, weighted by area), the hue a little off, as picked from a palette;
then the whole drawing is rescaled, rotated and shifted. Each drawing has its
own random stream, so a seed gives the same drawing on any machine.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .strokes import drop_specks, edge_lines, thin

SIDE = 512  # a drawing's canvas, like the app's


@dataclass
class Style:
    interior: bool = True  # draw seams and details, not only the silhouette
    colour: bool = True
    drop: float = 0.4  # share of interior lines left out
    wobble: float = 0.012  # outline vertex jitter, share of the canvas
    warp: float = 0.012  # amplitude of the smooth warp of the interior lines
    scribbles: tuple[int, int] = (3, 7)
    hue_noise: float = 10.0  # RGB std of a picked colour against the garment's own
    affine: bool = True  # off for training pairs: the drawing must stay aligned with its photo


def main_colours(crop: np.ndarray, mask: np.ndarray, k: int = 3, rng=None) -> list[tuple[np.ndarray, float]]:
    """The garment's k main colours and their shares of its area, largest first."""
    px = crop[mask].reshape(-1, 3).astype(np.float32)
    if len(px) < k * 4:
        return []
    if len(px) > 4000:
        px = px[(rng or np.random.default_rng(0)).choice(len(px), 4000, replace=False)]
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)
    _, labels, centres = cv2.kmeans(px, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / len(labels)
    order = np.argsort(-shares)
    return [(centres[i], float(shares[i])) for i in order if shares[i] > 0.05]


def _outline(mask: np.ndarray, rng, style: Style) -> list[np.ndarray]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contours = [c for c in contours if cv2.contourArea(c) > 0.01 * mask.size]
    polys = []
    for c in contours:
        poly = cv2.approxPolyDP(c, 0.006 * cv2.arcLength(c, True), True).reshape(-1, 2).astype(np.float32)
        poly += rng.normal(0, style.wobble * SIDE, poly.shape)
        polys.append(poly.round().astype(np.int32))
    return polys


def _warp(mask: np.ndarray, rng, amp: float) -> np.ndarray:
    h, w = mask.shape
    field = rng.normal(0, 1, (2, h // 32 + 2, w // 32 + 2)).astype(np.float32)
    dx, dy = (cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) * amp * w for f in field)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = cv2.remap(mask.astype(np.uint8), gx + dx, gy + dy, cv2.INTER_LINEAR, borderValue=0)
    return out > 0


def _interior(strength: np.ndarray, mask: np.ndarray, rng, style: Style) -> np.ndarray:
    lines = edge_lines(strength, level=0.5)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0  # the outline is drawn apart
    lines &= inner
    n, labels, stats, _ = cv2.connectedComponentsWithStats(lines.astype(np.uint8), connectivity=8)
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:12] + 1  # a person draws a dozen lines, not texture
    keep = np.zeros(n, bool)
    keep[order[rng.random(len(order)) >= style.drop]] = True
    lines = keep[labels]
    return thin(_warp(lines, rng, style.warp)) if lines.any() else lines


def _scribble(canvas, mask, colour, rng, width) -> None:
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return
    i = int(rng.integers(len(ys)))
    pts = [(int(xs[i]), int(ys[i]))]
    heading = rng.uniform(0, 2 * np.pi)
    for _ in range(int(rng.integers(3, 7))):
        heading += rng.normal(0, 0.9)
        step = rng.uniform(0.04, 0.1) * SIDE
        x, y = int(pts[-1][0] + step * np.cos(heading)), int(pts[-1][1] + step * np.sin(heading))
        if not (0 <= x < SIDE and 0 <= y < SIDE and mask[y, x]):
            break
        pts.append((x, y))
    if len(pts) == 1:
        pts.append((pts[0][0] + 2, pts[0][1] + 1))
    cv2.polylines(canvas, [np.array(pts, np.int32)], False, tuple(int(c) for c in colour), width, cv2.LINE_AA)


def draw(crop: np.ndarray, mask: np.ndarray, strength: np.ndarray, rng: np.random.Generator,
         style: Style | None = None) -> np.ndarray:
    """One pseudo-sketch (RGB uint8 SIDE×SIDE, black lines and colour scribbles on white)."""
    style = style or Style()
    size = (SIDE, SIDE)
    mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    strength = cv2.resize(strength.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    if mask.sum() < 0.01 * mask.size:  # no garment found: the whole crop's non-white pixels
        mask = drop_specks(crop.min(axis=2) < 235, 64)
    canvas = np.full((SIDE, SIDE, 3), 255, np.uint8)
    if style.colour:
        inside = cv2.erode(mask.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0
        colours = main_colours(crop, mask, rng=rng)
        for _ in range(int(rng.integers(*style.scribbles)) if colours else 0):
            c, _ = colours[rng.choice(len(colours), p=np.array([s for _, s in colours]) / sum(s for _, s in colours))]
            picked = np.clip(c + rng.normal(0, style.hue_noise, 3), 0, 255)
            _scribble(canvas, inside, picked, rng, int(rng.integers(13, 27)))
    ink = np.zeros((SIDE, SIDE), np.uint8)
    cv2.polylines(ink, _outline(mask, rng, style), True, 255, int(rng.integers(3, 7)), cv2.LINE_AA)
    if style.interior:
        inner = _interior(strength, mask, rng, style)
        ink = np.maximum(ink, cv2.dilate(inner.astype(np.uint8) * 255, np.ones((3, 3), np.uint8)))
    alpha = (ink.astype(np.float32) / 255.0)[..., None]
    canvas = (canvas * (1 - alpha)).round().astype(np.uint8)  # black pen over the paint
    if not style.affine:
        return canvas
    angle, scale = rng.uniform(-6, 6), rng.uniform(0.85, 1.05)
    m = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), angle, scale)
    m[:, 2] += rng.uniform(-0.05, 0.05, 2) * SIDE
    return cv2.warpAffine(canvas, m, size, flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
