"""Shape tests for occluder candidates: is it a band, does it cross the garment, what is a leak.

Colour alone cannot tell a dark strap from the dark yoke of a shirt; shape
can: arms, straps and locks of hair are long bands that cross a garment
(garment on both sides of them), garment parts are not.
"""
from __future__ import annotations

import cv2
import numpy as np


def disk(r: float) -> np.ndarray:
    r = max(1, int(round(r)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def close(mask: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)


def connected_to(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Components of `mask` that touch `seed` (8-connected)."""
    n, cc = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[cc[seed & mask]] = True
    keep[0] = False
    return keep[cc]


def axes(part: np.ndarray):
    """(points as x, y), unit vector along the part's main direction, unit vector across it."""
    ys, xs = np.nonzero(part)
    pts = np.stack([xs, ys], 1).astype(np.float32)
    _, vecs = np.linalg.eigh(np.cov(pts.T))
    return pts, vecs[:, 1], vecs[:, 0]


def core(part: np.ndarray) -> np.ndarray:
    """`part` without what is much wider than most of it (the bag at the end of a strap)."""
    total = int(part.sum())
    for r in range(1, 9):
        # The smallest opening that removes most of the part leaves only its wide blobs, or nothing.
        wide = cv2.morphologyEx(part.astype(np.uint8), cv2.MORPH_OPEN, disk(r))
        if wide.sum() < 0.7 * total:
            return part & ~cv2.dilate(wide, disk(1)).astype(bool)
    return part


def band(part: np.ndarray) -> bool:
    """Is `part` a straight band of even width (a strap), rather than a wedge or a blob?"""
    if part.sum() < 12:
        return False
    pts, along, across = axes(part)
    u, v = pts @ along, pts @ across
    width = float(np.percentile(v, 95) - np.percentile(v, 5)) + 1.0
    length = float(u.max() - u.min()) + 1.0
    if length < 4.0 * width:
        return False
    counts = np.bincount(((u - u.min()) / max(2.0, width)).astype(int))[1:-1]  # ends are cut obliquely
    counts = counts[counts > 0]  # where a strap crosses a gap (between two legs) it is not inside
    if len(counts) < 3:
        return False
    med = float(np.median(counts))
    return float((np.abs(counts - med) <= 0.4 * med).mean()) >= 0.7  # a wedge's width keeps changing


def crosses(part: np.ndarray, garment: np.ndarray) -> float:
    """Fraction of `part` with garment on both sides across its main direction.

    An arm or a strap over a shirt has shirt on both sides of it; a sleeve
    of another colour, or the dark yoke of a shirt, has shirt on one side.
    """
    if part.sum() < 3:
        return 0.0
    nx, ny = axes(part)[2]
    width = 2.0 * float(cv2.distanceTransform(part.astype(np.uint8), cv2.DIST_L2, 3).max()) + 2
    h, w = part.shape
    g = garment.astype(np.uint8)
    sides = []
    for sign in (1, -1):
        seen = np.zeros((h, w), np.uint8)
        for t in np.linspace(1.0, 1.5 * width + 2, 6):
            m = np.float32([[1, 0, -sign * t * nx], [0, 1, -sign * t * ny]])
            seen |= cv2.warpAffine(g, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        sides.append(seen.astype(bool))
    return float((sides[0] & sides[1])[part].mean())


def drop_leaks(region: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Drop the parts of a region far wider than its crossing of the frame, unless they look like a bag.

    A wide irregular blob hanging off a thin occluder is a leak into
    something of similar colour; a compact convex blob (solidity ≥ 0.85) at
    the end of a strap is the bag.
    """
    width = max(2.0, 2.0 * float(cv2.distanceTransform(seed.astype(np.uint8), cv2.DIST_L2, 3).max()))
    ys, xs = np.nonzero(region)
    y0, x0 = ys.min(), xs.min()
    blob = np.zeros(region.shape, np.uint8)
    box = region[y0:ys.max() + 1, x0:xs.max() + 1].astype(np.uint8)
    # Opening within the region's box: zero padding outside it is exactly what the full image has.
    blob[y0:ys.max() + 1, x0:xs.max() + 1] = cv2.morphologyEx(box, cv2.MORPH_OPEN, disk(width),
                                                              borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if not blob.any():
        return region
    n, cc, stats, _ = cv2.connectedComponentsWithStats(blob, connectivity=8)
    drop = np.zeros(region.shape, bool)
    for k in range(1, n):
        comp = (cc == k).astype(np.uint8)
        contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull = cv2.contourArea(cv2.convexHull(np.concatenate(contours)))
        if hull <= 0 or stats[k, cv2.CC_STAT_AREA] / hull < 0.85:
            drop |= comp.astype(bool)
    if not drop.any():
        return region
    kept = region & ~cv2.dilate(drop.astype(np.uint8), disk(1)).astype(bool)
    return connected_to(kept, seed)
