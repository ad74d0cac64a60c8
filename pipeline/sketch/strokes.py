"""Lines in one normal form, so a catalogue edge map and a hand drawing can be compared.

A photo's edge map (soft, thick, textured) and a person's strokes (thick
brush, wobbly, at any size on the canvas) meet in the same picture: 1-px
centre lines, cropped to their own extent, padded to a square, redrawn at one
stroke width on white. The shape embedder only ever sees that picture, so
brush size, canvas size and where the garment sits on the canvas stop
mattering.
"""
from __future__ import annotations

import cv2
import numpy as np

SIDE = 224  # the embedders' input size: render straight at it
WIDTH = 3  # stroke width at SIDE; thin enough to keep seams apart, thick enough to survive resizing
MARGIN = 0.06


def thin(mask: np.ndarray) -> np.ndarray:
    """1-px centre lines of a bool mask."""
    if not mask.any():
        return mask.astype(bool)
    return cv2.ximgproc.thinning(mask.astype(np.uint8) * 255) > 0


def drop_specks(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """Remove connected pieces shorter than `min_pixels`: texture, dust, JPEG noise."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def edge_lines(strength: np.ndarray, level: float = 0.4, min_frac: float = 0.04) -> np.ndarray:
    """Edge strength in [0, 1] → bool centre lines of the confident edges.

    The level is relative to the map's own strong edges (its 99.5th percentile),
    because HED's scale varies with contrast and a binary Canny map is all 1s.
    """
    if strength.size == 0 or float(strength.max()) <= 0:
        return np.zeros(strength.shape, bool)
    top = float(np.percentile(strength[strength > 0], 99.5)) if (strength > 0).any() else 1.0
    lines = thin(strength >= level * max(top, 1e-6))
    return drop_specks(lines, max(4, int(min_frac * max(strength.shape))))


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def square_crop(mask: np.ndarray, frame: np.ndarray | None = None, margin: float = MARGIN,
                fill: float = 0) -> np.ndarray:
    """`mask` (any 2-D plane) cut to the extent of `frame` (default: itself), padded to a centred square."""
    box = _bbox(mask if frame is None else frame)
    if box is None:
        return np.full((1, 1), fill, mask.dtype)
    y0, y1, x0, x1 = box
    h, w = y1 - y0, x1 - x0
    side = int(round(max(h, w) * (1 + 2 * margin))) + 1
    out = np.full((side, side), fill, mask.dtype)
    oy, ox = (side - h) // 2, (side - w) // 2
    out[oy:oy + h, ox:ox + w] = mask[y0:y1, x0:x1]
    return out


def render(lines: np.ndarray, frame: np.ndarray | None = None, side: int = SIDE, width: int = WIDTH) -> np.ndarray:
    """Bool lines → the normal form: RGB uint8 side×side, black strokes of `width` px on white."""
    sq = square_crop(lines.astype(bool), None if frame is None else frame.astype(bool))
    small = cv2.resize(sq.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA if sq.shape[0] > side
                       else cv2.INTER_LINEAR)
    skeleton = thin(small > 0.08)
    if width > 1:
        skeleton = cv2.dilate(skeleton.astype(np.uint8), cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (width, width))) > 0
    grey = np.where(skeleton, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)
