"""Rasterise a Layout into a product photo: pattern, stitching, light, backdrop.

Order matters for realism: the pattern is sampled through fold-displaced
coordinates first, stitches and buttons are drawn onto that cloth, and only
then is the whole garment lit, so stitches and prints share its folds and
shadows. Heavy full-resolution work is limited to one remap and a few
per-channel multiply-adds.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import patterns, shading
from .bottoms import build_pants, build_skirt
from .dress import build_dress
from .hats import build_hat
from .shapes import Layout, resample
from .spec import ProductSpec
from .tops import build_top

BUILDERS = {"t-shirt": build_top, "longsleeve": build_top, "shirt": build_top, "dress": build_dress,
            "skirt": build_skirt, "pants": build_pants, "shorts": build_pants, "hat": build_hat}
UNIT_CM = {"hat": 22.0}  # how many cm one garment unit is; 50 (a chest) for clothes
_S = 16  # cv2 fixed-point factor (shift=4)


def _fx(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts) * _S).astype(np.int32)


def _tone(rgb, k: float) -> tuple[int, int, int]:
    """Darker (k < 1) or lighter (k > 1, towards white) shade of a colour."""
    a = np.asarray(rgb, np.float32)
    a = a * k if k <= 1 else a + (255 - a) * (k - 1)
    return tuple(int(v) for v in np.clip(a, 0, 255))


def _pattern_maps(lay: Layout, lab: np.ndarray, dx: np.ndarray, dy: np.ndarray, org, extra: float):
    """Per-piece tile coordinates: rotated into the piece's grain, then displaced by folds.

    Most pieces share the body's grain, so that transform is computed once over
    the whole box and only differently-oriented pieces (sleeves) are redone
    inside their own bounds.
    """
    hh, ww = lab.shape
    ox0, oy0 = org
    mx = np.empty((hh, ww), np.float32)
    my = np.empty((hh, ww), np.float32)

    def fill(part, r0, r1, c0, c1, where):
        a = part.angle + extra
        c, s = np.float32(np.cos(a)), np.float32(np.sin(a))
        px = np.arange(c0, c1, dtype=np.float32)[None, :] + np.float32(ox0 - part.origin[0]) + dx[r0:r1, c0:c1]
        py = np.arange(r0, r1, dtype=np.float32)[:, None] + np.float32(oy0 - part.origin[1]) + dy[r0:r1, c0:c1]
        u, v = px * c + py * s, py * c - px * s
        if where is None:
            mx[r0:r1, c0:c1], my[r0:r1, c0:c1] = u, v
        else:
            np.copyto(mx[r0:r1, c0:c1], u, where=where)
            np.copyto(my[r0:r1, c0:c1], v, where=where)

    key = lambda p: (round(p.angle, 6), tuple(np.round(p.origin, 3)))  # noqa: E731
    main = key(lay.parts[0])
    fill(lay.parts[0], 0, hh, 0, ww, None)
    for i, part in enumerate(lay.parts):
        if key(part) == main:
            continue
        c0, r0 = np.maximum(np.floor(part.poly.min(0) - (ox0, oy0)).astype(int) - 1, 0)
        c1, r1 = np.minimum(np.ceil(part.poly.max(0) - (ox0, oy0)).astype(int) + 2, (ww, hh))
        if c1 > c0 and r1 > r0:
            fill(part, r0, r1, c0, c1, lab[r0:r1, c0:c1] == i + 1)
    return mx, my


def _wrap(m: np.ndarray, period: int) -> np.ndarray:
    """Coordinates folded into [1, period + 1) of a tile padded by one pixel."""
    return m - np.floor(m * (1.0 / period)) * period + 1.0


def render_product(spec: ProductSpec, rng: np.random.Generator, size=(384, 512)) -> tuple[np.ndarray, np.ndarray]:
    """One product shot: (RGB uint8 h×w×3, garment mask bool h×w); size is (width, height)."""
    w, h = int(size[0]), int(size[1])
    lay = BUILDERS[spec.category](spec, rng)
    margin = rng.uniform(0.07, 0.11) if spec.category != "hat" else rng.uniform(0.08, 0.14)
    lay = lay.fit(w, h, rng, margin, 4.0 if spec.pose == "flat" else 1.0)
    px_cm = lay.scale / UNIT_CM.get(spec.category, 50.0)

    # Coverage: a label map (which piece is on top) and an anti-aliased alpha.
    label = np.zeros((h, w), np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    hw2 = (w // 2, h // 2)
    label_h = np.zeros((hw2[1], hw2[0]), np.uint8)
    for i, part in enumerate(lay.parts):
        pts = _fx(part.poly)
        cv2.fillPoly(label, [pts], i + 1, cv2.LINE_8, 4)
        cv2.fillPoly(alpha, [pts], 255, cv2.LINE_AA, 4)
        cv2.fillPoly(label_h, [_fx(part.poly * 0.5)], i + 1, cv2.LINE_8, 4)
    allpts = np.concatenate([p.poly for p in lay.parts])
    x0, y0 = np.maximum(np.floor(allpts.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(allpts.max(0)).astype(int) + 2, (w, h))
    # Even bounds, so the half-resolution work covers exactly this box.
    x0, y0 = int(x0) // 2 * 2, int(y0) // 2 * 2
    x1, y1 = min(int(x1) + 1, w) // 2 * 2, min(int(y1) + 1, h) // 2 * 2
    bw, bh = x1 - x0, y1 - y0

    cylinder = spec.pose != "flat"
    height, edge = shading.height_field(lay, label_h[y0 // 2:y1 // 2, x0 // 2:x1 // 2], rng, cylinder,
                                        (x0 // 2, y0 // 2), (h // 2, w // 2))
    gloss = rng.uniform(0.0, 0.12) if lay.fabric in ("woven", "jersey") else 0.02
    shade_h, sheen_h, gx, gy = shading.light(height, edge, gloss)
    # Pattern displacement: pulled into folds, plus a slow drift, because laid-out
    # cloth is never perfectly straight-grained.
    disp = np.float32(rng.uniform(2.0, 4.0))
    drift = np.float32(rng.uniform(0.8, 1.8))
    sway = shading.noise_bank(h // 2, w // 2)["paper"]
    hy, hx = gx.shape
    dx = cv2.resize(np.tanh(gx) * -disp + shading.crop(sway, hy, hx, rng) * drift, (bw, bh))
    dy = cv2.resize(np.tanh(gy) * -disp + shading.crop(sway, hy, hx, rng) * drift, (bw, bh))

    # Cloth colour: the pattern tile through the displaced maps, then solid pieces.
    pat = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
    cv2.rectangle(pat, (0, 0), (x1 - x0, y1 - y0), spec.rgb, -1)  # a fast fill
    tile, extra = patterns.make_tile(spec, rng, px_cm)
    if tile is not None:
        th, tw = tile.shape[:2]
        padded = cv2.copyMakeBorder(tile, 1, 2, 1, 2, cv2.BORDER_WRAP)
        mx, my = _pattern_maps(lay, label[y0:y1, x0:x1], dx, dy, (x0, y0), extra)
        pat = cv2.remap(padded, _wrap(mx, tw), _wrap(my, th), cv2.INTER_LINEAR)
    lab = label[y0:y1, x0:x1]
    rib_rgb = spec.rgb if rng.random() < 0.8 else spec.secondary_rgb
    for i, part in enumerate(lay.parts):
        fill = {"rib": rib_rgb, "secondary": spec.secondary_rgb}.get(part.kind, part.colour)
        if part.kind == "trim" or fill is not None and part.kind != "fabric":
            _paint(pat, lab, i + 1, part.poly - (x0, y0), fill if fill is not None else spec.rgb)
    if lay.graphic is not None:
        _place_graphic(pat, lay, spec, rng, dx, dy, (y0, y1, x0, x1), lab)
    _draw_details(pat, lay, spec, px_cm, (x0, y0))

    # Light: half-res shading upsampled, per-piece tone, fabric weave, seams.
    shade = cv2.resize(shade_h, (bw, bh))
    tone = np.ones((1, 256), np.float32)
    tone[0, 1:len(lay.parts) + 1] = [p.shade for p in lay.parts]
    shade *= cv2.LUT(lab, tone)
    bank = shading.fabric_bank(h, w)
    fab = shading.crop(bank[lay.fabric], h, w, rng)[y0:y1, x0:x1]
    ribs = [i + 1 for i, p in enumerate(lay.parts) if p.kind == "rib"]
    if ribs:
        is_rib = np.zeros((1, 256), np.uint8)
        is_rib[0, ribs] = 1
        rib = shading.crop(bank["rib"], h, w, rng)[y0:y1, x0:x1]
        fab = np.where(cv2.LUT(lab, is_rib).astype(bool), rib, fab)
    shade *= fab
    dark = np.zeros_like(lab)
    _draw_seams(dark, lay, (x0, y0))
    shade *= 1 - dark.astype(np.float32) * np.float32(0.45 / 255)
    sheen = cv2.resize(sheen_h, (bw, bh))

    # Composite over the backdrop: out = cloth·shade·a + sheen·a + backdrop·(1 − a).
    bgf, bg_rgb = shading.background(alpha, rng, spec.rgb, spec.pose)
    a = alpha[y0:y1, x0:x1].astype(np.float32) * np.float32(1 / 255)
    shade *= a
    sheen *= a
    rest = bgf[y0:y1, x0:x1] * (1 - a)
    out = np.empty((h, w, 3), np.uint8)
    for c in range(3):
        out[..., c] = cv2.convertScaleAbs(bgf, alpha=float(bg_rgb[c]))
        fg = pat[..., c] * shade
        fg += sheen
        fg += rest * np.float32(bg_rgb[c])
        out[y0:y1, x0:x1, c] = cv2.convertScaleAbs(fg)
    return out, alpha >= 128


def _paint(pat, lab, idx: int, poly, rgb) -> None:
    """Solid colour on the pixels of piece `idx` (only within its own bounds, for speed)."""
    c0, r0 = np.maximum(np.floor(poly.min(0)).astype(int) - 1, 0)
    c1, r1 = np.minimum(np.ceil(poly.max(0)).astype(int) + 2, (lab.shape[1], lab.shape[0]))
    if c1 > c0 and r1 > r0:
        sub = pat[r0:r1, c0:c1]
        np.copyto(sub, np.asarray(rgb, np.uint8), where=(lab[r0:r1, c0:c1] == idx)[..., None])


def _place_graphic(pat, lay, spec, rng, dx, dy, box, lab) -> None:
    (cx, cy), gw, piece = lay.graphic
    art = patterns.graphic(spec, rng, int(gw))
    gh, gw_ = art.shape[:2]
    y0, _, x0, _ = box
    gx0, gy0 = int(cx - gw_ / 2) - x0, int(cy - gh / 2) - y0
    r0, r1 = max(gy0, 0), min(gy0 + gh, pat.shape[0])
    c0, c1 = max(gx0, 0), min(gx0 + gw_, pat.shape[1])
    if r1 <= r0 or c1 <= c0:
        return
    ys = np.arange(r0, r1, dtype=np.float32)[:, None] - gy0
    xs = np.arange(c0, c1, dtype=np.float32)[None, :] - gx0
    warped = cv2.remap(art, xs + dx[r0:r1, c0:c1], ys + dy[r0:r1, c0:c1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    on = lab[r0:r1, c0:c1] == piece + 1  # printed on one panel only, under collars and sleeves
    k = (warped[..., 3:].astype(np.float32) / 255) * on[..., None] * 0.94  # ink lets a little cloth through
    region = pat[r0:r1, c0:c1].astype(np.float32)
    pat[r0:r1, c0:c1] = np.round(region + (warped[..., :3] - region) * k).astype(np.uint8)


def _draw_details(pat, lay: Layout, spec: ProductSpec, px_cm: float, org) -> None:
    off = np.array(org, np.float64)
    lum = sum(spec.rgb) / 3
    thread = lay.stitch_colour or _tone(spec.rgb, 0.8 if lum > 90 else 1.22)  # tone-on-tone thread
    dash = max(2.0, 0.45 * px_cm)
    segs = []
    for line in lay.stitches:
        pts = resample(line - off, dash * 1.7)
        segs += list(_fx(pts[:len(pts) // 2 * 2]).reshape(-1, 2, 2))  # every other gap is a stitch
    if segs:
        cv2.polylines(pat, segs, False, thread, 1, cv2.LINE_AA, 4)
    colour = lay.button_colour or _tone(spec.rgb, 0.8 if lum > 90 else 1.5)
    for (c, r) in lay.buttons:
        c = np.asarray(c) - off
        r = max(r, 1.2)
        cv2.circle(pat, tuple(_fx(c)), int(r * _S), colour, -1, cv2.LINE_AA, 4)
        cv2.circle(pat, tuple(_fx(c)), int(r * _S), _tone(colour, 0.6), 1, cv2.LINE_AA, 4)
        if r > 4:
            for hx in (-0.3, 0.3):
                cv2.circle(pat, tuple(_fx(c + [r * hx, 0])), int(0.15 * r * _S), _tone(colour, 0.45), -1,
                           cv2.LINE_AA, 4)


def _draw_seams(dark, lay: Layout, org) -> None:
    off = np.array(org, np.float64)
    lines = [_fx(s - off) for s in lay.seams]
    if lines:
        cv2.polylines(dark, lines, False, 150, 2, cv2.LINE_AA, 4)
        cv2.polylines(dark, lines, False, 255, 1, cv2.LINE_AA, 4)
    outlines = [_fx(p.poly - off) for p in lay.parts if p.outline]
    if outlines:
        cv2.polylines(dark, outlines, True, 170, 1, cv2.LINE_AA, 4)
    for (c, r) in lay.buttons:  # a button sits on the cloth and shadows it
        cv2.circle(dark, tuple(_fx(np.asarray(c) - off + [0.5, 1.0])), int((max(r, 1.2) + 1) * _S), 110, -1,
                   cv2.LINE_AA, 4)
