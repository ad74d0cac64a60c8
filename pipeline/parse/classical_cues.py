"""Cues for the classical parser, all at a small working resolution.

- `object_mask`: garment-plus-occluders against a background colour model
  learnt from the image border (two rounds of histogram back-projection: a
  GrabCut without the graph cut, which costs 40+ ms even at 128 px).
- `entries`: narrow stretches of the frame's edge in an unusual colour:
  arms, hair and straps come into a flat-lay shot from outside the frame.
- `lab_features`: Lab with lightness halved, the space the colour models use.
- `skin_score`: a soft skin likelihood in YCrCb/HSV.
"""
from __future__ import annotations

import cv2
import numpy as np

L_SHIFT, AB_SHIFT = 5, 4  # 8 × 16 × 16 Lab bins
N_BINS = (256 >> L_SHIFT) * (256 >> AB_SHIFT) ** 2


def bin_index(lab: np.ndarray) -> np.ndarray:
    l, a, b = (lab[..., i].astype(np.int32) for i in range(3))
    return ((l >> L_SHIFT) * (256 >> AB_SHIFT) + (a >> AB_SHIFT)) * (256 >> AB_SHIFT) + (b >> AB_SHIFT)


_SMOOTH = np.array([[0.25, 0.5, 0.25]], np.float32)
_NL, _NA = 256 >> L_SHIFT, 256 >> AB_SHIFT


def histogram(idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Normalised colour histogram, smoothed over neighbouring bins (lighting moves colours a little)."""
    h = np.bincount(idx.ravel(), weights=weights.ravel(), minlength=N_BINS).astype(np.float32)
    # Separable [1 2 1]/4 along b, a and L, each as a row filter on a 2-D view.
    h = cv2.filter2D(h.reshape(-1, _NA), -1, _SMOOTH, borderType=cv2.BORDER_REPLICATE)
    h = h.reshape(_NL, _NA, _NA).transpose(0, 2, 1).reshape(-1, _NA)
    h = cv2.filter2D(h, -1, _SMOOTH, borderType=cv2.BORDER_REPLICATE)
    h = h.reshape(_NL, _NA, _NA).transpose(0, 2, 1).reshape(_NL, -1)
    h = cv2.filter2D(h, -1, _SMOOTH.T, borderType=cv2.BORDER_REPLICATE)
    total = float(h.sum())
    return (h / total if total > 0 else h).ravel()


def ring(shape: tuple[int, int], width: int) -> np.ndarray:
    h, w = shape
    r = np.zeros((h, w), bool)
    r[:width], r[-width:], r[:, :width], r[:, -width:] = True, True, True, True
    return r


def keep_large(mask: np.ndarray, rel: float = 0.15, min_px: int = 12) -> np.ndarray:
    """Components at least `rel` of the largest one (a pair of shoes stays a pair)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, bool)
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = areas >= max(min_px, rel * areas[1:].max())
    keep[0] = False
    return keep[lab]


def fill(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(m, contours, -1, 1, cv2.FILLED)
    return m.astype(bool)


def object_mask(idx: np.ndarray, band: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Garment plus whatever lies on it: what the border's colours do not explain, smoothed and cleaned.

    `exclude` marks border pixels that are not background (an arm crossing
    the frame's edge) and must not teach the background model skin.
    """
    h, w = idx.shape
    border = ring((h, w), band)
    if exclude is not None:
        border &= ~exclude
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    centre = np.exp(-0.5 * (((yy - h / 2) / (0.3 * h)) ** 2 + ((xx - w / 2) / (0.3 * w)) ** 2))
    hb_ring = histogram(idx, border.astype(np.float32))
    hb, hf = hb_ring, histogram(idx, centre * ~border)
    # A colour the border never shows is not background, even if the centre does not show it either
    # (an arm coming in from the bottom edge): unexplained colours lean to the object.
    eps = 0.2 / N_BINS
    for _ in range(2):
        pf, pb = hf[idx], hb[idx]
        prob = cv2.blur(((pf + eps) / (pf + pb + eps)).astype(np.float32), (5, 5))
        obj = prob > 0.5
        hf = histogram(idx, obj.astype(np.float32))
        hb = 0.5 * histogram(idx, (~obj).astype(np.float32)) + 0.5 * hb_ring
    obj = cv2.morphologyEx(obj.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    return fill(keep_large(obj))


def ring_path(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the outermost pixels, clockwise from the top-left corner."""
    top = [(0, x) for x in range(w)]
    right = [(y, w - 1) for y in range(1, h)]
    bottom = [(h - 1, x) for x in range(w - 2, -1, -1)]
    left = [(y, 0) for y in range(h - 2, 0, -1)]
    p = np.array(top + right + bottom + left)
    return p[:, 0], p[:, 1]


def entries(feat: np.ndarray, shape: tuple[int, int], depth: int = 3, max_frac: float = 0.09,
            min_diff: float = 10.0, split: float = 8.0, limit: int = 8) -> list[np.ndarray]:
    """Narrow stretches of the frame's edge whose colour differs from the edge on both sides.

    An arm, a lock of hair or a strap crosses the frame's edge as a short run
    of unusual colour; the floor, the wall or a garment cut by the frame runs
    along it for long. A running median along the closed edge path, wider
    than any occluder, gives the "usual" colour at each point. Each entry is
    returned as a mask of the edge band (`depth` px deep) behind its run.
    """
    h, w = shape
    f = feat.reshape(h, w, 3)
    d = max(1, min(depth, h // 4, w // 4))
    # Read the edge two pixels in, lightly blurred: the outermost row is often dark or smeared, and a
    # wider blur would mix a lock of hair with the wall beside it.
    inner = cv2.blur(f, (3, 3), borderType=cv2.BORDER_REFLECT)
    ys, xs = ring_path(h, w)
    inset = min(2, (h - 1) // 2, (w - 1) // 2)
    ys, xs = np.clip(ys, inset, h - 1 - inset), np.clip(xs, inset, w - 1 - inset)
    n = len(ys)
    sig = inner[ys, xs]
    win = max(5, int(0.2 * n) | 1)
    wrapped = np.concatenate([sig[-(win // 2):], sig, sig[: win // 2]])
    # A running median along the path: medianBlur on a one-row 8-bit image is O(n), not O(n·win).
    row = np.clip(wrapped, 0, 255).astype(np.uint8)[None]
    med = cv2.medianBlur(row, win)[0, win // 2: win // 2 + n].astype(np.float32)
    diff = np.linalg.norm(sig - med, axis=1)
    odd = diff > max(min_diff, 3.0 * float(np.median(diff)))
    # Close one-pixel gaps (a strap's stitching, a dark strand in a blond lock).
    odd = np.convolve(np.concatenate([odd[-1:], odd, odd[:1]]).astype(float), np.ones(3), "valid") >= 2
    if odd.all() or not odd.any():
        return []
    start = int(np.argmin(odd))  # begin scanning at a usual pixel so no run is split by the wrap
    order = (np.arange(n) + start) % n
    runs, run = [], []
    for k in list(order) + [None]:
        if k is not None and odd[k]:
            run.append(k)
        elif run:
            runs.append(run)
            run = []
    out = []
    for run in runs:
        # A garment cut by the frame and a lock of hair lying on it make one odd run: split it where
        # the colour jumps, and let the colour models judge each piece.
        for piece in _split(sig[run], split):
            part = [run[k] for k in piece]
            if 2 <= len(part) <= max_frac * n:
                out.append((float(diff[part].mean()), _behind(f, ys[part], xs[part], sig[part], med[part], d)))
    # The most contrasted crossings first; a busy edge (a patterned rug) is not worth following everywhere.
    out.sort(key=lambda t: -t[0])
    return [m for _, m in out if m.sum() >= 3][:limit]


def _split(colours: np.ndarray, jump: float) -> list[list[int]]:
    """Index pieces of a colour sequence, cut where neighbours differ by more than `jump`."""
    step = np.linalg.norm(np.diff(colours, axis=0), axis=1)
    cuts = [0] + [k + 1 for k in np.nonzero(step > jump)[0]] + [len(colours)]
    return [list(range(a, b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _behind(f: np.ndarray, ys, xs, colours, usual, depth: int) -> np.ndarray:
    """Pixels just inside the frame behind a run that share the run's colour, not the usual edge colour."""
    h, w = f.shape[:2]
    y0, y1 = max(0, ys.min() - depth), min(h, ys.max() + depth + 1)
    x0, x1 = max(0, xs.min() - depth), min(w, xs.max() + depth + 1)
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    m[ys - y0, xs - x0] = 1
    m = cv2.dilate(m, np.ones((2 * depth + 1, 2 * depth + 1), np.uint8)).astype(bool)
    c, u = np.median(colours, axis=0), np.median(usual, axis=0)
    box = f[y0:y1, x0:x1]
    near = np.sum((box - c) ** 2, axis=-1) < np.sum((box - u) ** 2, axis=-1)
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = m & near
    return out


def lab_features(lab: np.ndarray) -> np.ndarray:
    f = lab.reshape(-1, 3).astype(np.float32)
    f[:, 0] *= 0.5  # shading moves lightness far more than hue
    return f


def skin_score(rgb: np.ndarray) -> np.ndarray:
    """Soft skin likelihood: a Gaussian in CrCb, gated by hue and saturation (no greys, no blues)."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    cr, cb = ycc[..., 1], ycc[..., 2]
    g = np.exp(-0.5 * (((cr - 150.0) / 9.0) ** 2 + ((cb - 109.0) / 8.0) ** 2))
    hue_ok = (hsv[..., 0] <= 25) | (hsv[..., 0] >= 172)
    sat_ok = (hsv[..., 1] >= 30) & (hsv[..., 1] <= 190) & (hsv[..., 2] >= 35)
    return g * hue_ok * sat_ok

