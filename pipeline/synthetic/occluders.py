"""Realistic occluders drawn over clean garment shots: arms with hands, hair, straps and bags.

Each `draw_*` takes an RGB uint8 image, a rough garment mask and a numpy
Generator, and returns (new image, bool mask of what was drawn, params).
Occluders are placed so they cross the garment, because an occluder on the
floor beside it tests nothing. `occlude` is the entry point: it picks the
kinds, draws them, then jitters image and mask together. Same seed, same
bytes.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from .jitter import apply_jitter, sample_jitter
from .occluder_draw import Capsule, bezier, cast_shadow, composite, cylinder_light, rounded_rect, smooth_noise, tubes

# Light to dark, roughly Fitzpatrick I–VI (RGB).
SKIN_TONES = ((246, 214, 190), (236, 192, 160), (224, 172, 137), (198, 140, 104),
              (170, 112, 78), (136, 86, 58), (100, 64, 44), (72, 46, 32))
HAIR_COLOURS = ((24, 20, 18), (52, 36, 26), (92, 62, 40), (122, 62, 36),
                (158, 122, 78), (204, 174, 120), (150, 146, 140))
STRAP_COLOURS = ((28, 28, 30), (70, 45, 30), (165, 115, 70), (30, 40, 75), (100, 25, 35),
                 (85, 90, 50), (120, 120, 125), (170, 30, 35), (190, 150, 100), (235, 232, 225))


def rough_garment(image: np.ndarray) -> np.ndarray:
    """A cheap garment estimate for placing occluders: what differs from the border's colours.

    Deliberately independent of the parsers under test, so the benchmark does
    not move when a parser changes. Falls back to a centred ellipse.
    """
    h, w = image.shape[:2]
    s = 128 / max(h, w)
    sw, sh = max(8, round(w * s)), max(8, round(h * s))
    lab = cv2.cvtColor(cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2LAB).astype(np.float32)
    band = np.concatenate([lab[:3].reshape(-1, 3), lab[-3:].reshape(-1, 3),
                           lab[:, :3].reshape(-1, 3), lab[:, -3:].reshape(-1, 3)])
    # Median per border quarter: robust to the garment touching one edge.
    centres = np.stack([np.median(p, axis=0) for p in np.array_split(band, 8)])
    dist = np.min(np.linalg.norm(lab[:, :, None, :] - centres[None, None], axis=-1), axis=-1)
    d8 = np.clip(dist * 2, 0, 255).astype(np.uint8)
    thr, _ = cv2.threshold(d8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    fg = (d8 > max(thr, 24)).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab_cc, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    mask = np.zeros((sh, sw), np.uint8)
    if n > 1:
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = (lab_cc == k).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(mask, contours, -1, 1, cv2.FILLED)
    frac = mask.mean()
    if not 0.04 <= frac <= 0.95:
        mask[:] = 0
        cv2.ellipse(mask, (sw // 2, sh // 2), (int(sw * 0.32), int(sh * 0.36)), 0, 0, 360, 1, cv2.FILLED)
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def _inner_point(garment: np.ndarray, rng: np.random.Generator, depth: float = 0.35) -> tuple[float, float]:
    """A random garment pixel away from its edge (the `depth` fraction of the deepest)."""
    dist = cv2.distanceTransform(garment.astype(np.uint8), cv2.DIST_L2, 3)
    top = dist.max()
    ys, xs = np.nonzero(dist >= top * (1.0 - depth)) if top > 0 else np.nonzero(np.ones_like(garment))
    i = int(rng.integers(len(xs)))
    return float(xs[i]), float(ys[i])


def _scale(garment: np.ndarray) -> float:
    """Typical garment size in pixels: sets how big an arm or a strap looks next to it."""
    h, w = garment.shape
    return float(np.clip(np.sqrt(garment.sum()), 0.3 * min(h, w), min(h, w)))


def _rot(v: np.ndarray, a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _hand(wrist: np.ndarray, direction: np.ndarray, rw: float, rng: np.random.Generator) -> list[Capsule]:
    """Palm, four fingers and a thumb, as capsules, starting at the wrist."""
    d = direction / (np.linalg.norm(direction) or 1.0)
    perp = np.array([-d[1], d[0]])
    mirror = 1.0 if rng.random() < 0.5 else -1.0  # left or right hand
    palm_len = rw * rng.uniform(1.6, 2.0)
    palm_end = wrist + d * palm_len
    caps = [Capsule(tuple(wrist), tuple(palm_end), rw * 1.0, rw * 1.12)]
    splay = rng.uniform(0.4, 1.6)
    curl = rng.uniform(0.0, 0.5)
    lengths = np.array([0.8, 1.0, 0.93, 0.72]) * rw * rng.uniform(1.5, 1.9)
    for k, (off, ang, ln) in enumerate(zip((-0.72, -0.24, 0.24, 0.72), (-0.14, -0.04, 0.05, 0.16), lengths)):
        base = palm_end + perp * off * rw * mirror - d * rw * (0.25 if k in (0, 3) else 0.05)
        fd = _rot(d, ang * splay * mirror)
        mid = base + fd * ln * 0.55
        tip = mid + _rot(fd, curl * mirror * 0.3) * ln * 0.45
        caps += [Capsule(tuple(base), tuple(mid), rw * 0.27, rw * 0.24),
                 Capsule(tuple(mid), tuple(tip), rw * 0.24, rw * 0.2)]
    tb = wrist + d * rw * 0.6 - perp * rw * 0.85 * mirror
    td = _rot(d, -mirror * rng.uniform(0.5, 0.9))
    tm = tb + td * rw * 0.8
    tt = tm + _rot(td, mirror * 0.25) * rw * 0.6
    caps += [Capsule(tuple(tb), tuple(tm), rw * 0.36, rw * 0.3), Capsule(tuple(tm), tuple(tt), rw * 0.3, rw * 0.24)]
    return caps


def draw_arm(image: np.ndarray, garment: np.ndarray, rng: np.random.Generator):
    """A bare forearm entering from a border, crossing the garment, ending in a hand."""
    h, w = garment.shape
    s = _scale(garment)
    tx, ty = _inner_point(garment, rng)
    side = str(rng.choice(["left", "right", "bottom", "top"], p=[0.3, 0.3, 0.3, 0.1]))
    r0 = max(2.0, s * rng.uniform(0.065, 0.1))
    slide = rng.uniform(-0.5, 0.5) * s
    entry = {"left": (-r0, ty + slide), "right": (w + r0, ty + slide),
             "bottom": (tx + slide, h + r0), "top": (tx + slide, -r0)}[side]
    entry = np.array(entry, np.float64)
    target = np.array([tx, ty])
    along = target - entry
    length = np.linalg.norm(along) or 1.0
    bend = np.array([-along[1], along[0]]) / length * rng.uniform(-0.15, 0.15) * length
    path = bezier(entry, (entry + target) / 2 + bend, target, 10)
    rw = r0 * rng.uniform(0.6, 0.75)
    radii = np.linspace(r0, rw, len(path))
    caps = [Capsule(tuple(path[i]), tuple(path[i + 1]), radii[i], radii[i + 1]) for i in range(len(path) - 1)]
    direction = _rot(path[-1] - path[-2], rng.uniform(-0.3, 0.3))
    caps += _hand(path[-1], direction, rw, rng)
    cover, across = tubes(caps, (h, w))
    cover = cv2.GaussianBlur(cover, (0, 0), 0.6)  # camera blur: no edge is a hard step
    tone_i = int(rng.integers(len(SKIN_TONES)))
    tone = np.asarray(SKIN_TONES[tone_i], np.float32) * rng.uniform(0.9, 1.08) + rng.uniform(-6, 6, 3)
    light = rng.uniform(-0.7, 0.7)
    shade = cylinder_light(across, light, ambient=0.55, gloss=0.1)
    tex = 1.0 + 0.02 * smooth_noise((h, w), rng, 1.5) + 0.025 * smooth_noise((h, w), rng, 6.0)
    colour = tone[None, None] * (shade * tex)[..., None]
    out = cast_shadow(image, cover, (np.sin(light) * -0.3 * r0, 0.25 * r0), 0.5 * r0, 0.3)
    out = composite(out, colour, cover)
    params = {"kind": "arm", "side": side, "tone": tone_i, "radius": round(float(r0), 2),
              "target": [round(tx, 1), round(ty, 1)]}
    return out, cover >= 0.5, params


def draw_hair(image: np.ndarray, garment: np.ndarray, rng: np.random.Generator):
    """A lock of hair hanging from the top border into the garment: a dense body plus strands."""
    h, w = garment.shape
    s = _scale(garment)
    # The lock ends inside the garment's upper part, as hair falling from a head above the collar does.
    ys = np.nonzero(garment)[0]
    top, bottom = ys.min(), ys.max()
    upper = garment.copy()
    upper[int(top + 0.6 * (bottom - top)) + 1:] = False
    x_end, y_end = _inner_point(upper if upper.any() else garment, rng, depth=0.5)
    x0 = x_end + rng.uniform(-0.15, 0.15) * s
    p0, p2 = np.array([x0, -4.0]), np.array([x_end, y_end])
    p1 = (p0 + p2) / 2 + np.array([rng.uniform(-0.2, 0.2) * s, 0.0])
    n = 40
    centre = bezier(p0, p1, p2, n)
    tang = np.gradient(centre, axis=0)
    normal = np.stack([-tang[:, 1], tang[:, 0]], 1) / (np.linalg.norm(tang, axis=1, keepdims=True) + 1e-6)
    width = s * rng.uniform(0.07, 0.16)
    t = np.linspace(0, 1, n)[:, None]
    half = width / 2 * (1.0 - 0.7 * t ** 1.5)
    base_i = int(rng.integers(len(HAIR_COLOURS)))
    base = np.asarray(HAIR_COLOURS[base_i], np.float32) * rng.uniform(0.85, 1.15)
    body = np.zeros((h, w), np.uint8)
    poly = np.concatenate([centre + normal * half, (centre - normal * half)[::-1]])
    cv2.fillPoly(body, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    body_a = cv2.GaussianBlur(body.astype(np.float32) / 255.0, (0, 0), 1.2) * rng.uniform(0.85, 0.97)
    tex = 1.0 + 0.12 * cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8)
    out = composite(image, base[None, None] * tex[..., None] * 0.9, body_a)
    alpha = body_a
    thick = 1 if max(h, w) < 700 else 2
    groups = (0.65, 0.85, 1.1, 1.4)  # strand brightness: shadowed to highlighted
    n_strands = int(np.clip(width * 1.5, 12, 160))
    canvases = [np.zeros((h, w), np.uint8) for _ in groups]
    for _ in range(n_strands):
        u = rng.uniform(-0.65, 0.65)
        amp, freq, phase = rng.uniform(0, 3), rng.uniform(1, 4), rng.uniform(0, 2 * np.pi)
        stop = int(n * rng.uniform(0.7, 1.0))
        wave = amp * np.sin(2 * np.pi * freq * t[:stop, 0] + phase)[:, None]
        pts = centre[:stop] + normal[:stop] * (half[:stop] * 2 * u + wave)
        g = int(rng.integers(len(groups)))
        cv2.polylines(canvases[g], [np.round(pts * 16).astype(np.int32)], False, 255, thick, cv2.LINE_AA, shift=4)
    for g, canvas in zip(groups, canvases):
        a = canvas.astype(np.float32) / 255.0 * 0.9
        out = composite(out, np.clip(base * g + (12 if g > 1 else 0), 0, 255)[None, None], a)
        alpha = 1.0 - (1.0 - alpha) * (1.0 - a)
    params = {"kind": "hair", "colour": base_i, "width": round(float(width), 2), "strands": n_strands}
    return out, alpha >= 0.5, params


def draw_strap(image: np.ndarray, garment: np.ndarray, rng: np.random.Generator):
    """A diagonal bag strap from border to border across the garment, sometimes with the bag."""
    h, w = garment.shape
    s = _scale(garment)
    px, py = _inner_point(garment, rng, depth=0.6)
    ang = np.deg2rad(rng.uniform(25, 70)) * (1 if rng.random() < 0.5 else -1)
    d = np.array([np.cos(ang), np.sin(ang)])
    far = float(h + w)
    a, b = np.array([px, py]) - d * far, np.array([px, py]) + d * far
    r = max(1.5, s * rng.uniform(0.025, 0.05))
    ci = int(rng.integers(len(STRAP_COLOURS)))
    colour = np.asarray(STRAP_COLOURS[ci], np.float32) * rng.uniform(0.9, 1.1)
    cover, across = tubes([Capsule(tuple(a), tuple(b), r, r)], (h, w))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    along = (xx - px) * d[0] + (yy - py) * d[1]
    shade = 0.8 + 0.2 * np.sqrt(np.clip(1 - across ** 2, 0, 1))
    dash = max(2.0, r * 0.5)
    stitch = (np.abs(np.abs(across) - 0.72) < 0.1) & (np.mod(along, 2 * dash) < dash)
    layer = colour[None, None] * shade[..., None]
    layer = np.where(stitch[..., None], np.clip(layer * 1.3 + 35, 0, 255), layer)
    layer = layer * (1.0 + 0.03 * smooth_noise((h, w), rng, 1.0))[..., None]
    params = {"kind": "strap", "colour": ci, "radius": round(float(r), 2), "angle": round(float(np.rad2deg(ang)), 2),
              "bag": False}
    if rng.random() < 0.45:
        # The bag hangs where the strap leaves the garment on its lower side.
        q = np.array([px, py]) + d * np.sign(d[1] or 1) * s * rng.uniform(0.3, 0.55)
        size = (s * rng.uniform(0.3, 0.5), s * rng.uniform(0.22, 0.38))
        bag = rounded_rect((h, w), q, size, rng.uniform(-0.3, 0.3), 0.15 * min(size))
        bi = ci if rng.random() < 0.6 else int(rng.integers(len(STRAP_COLOURS)))
        bcol = np.asarray(STRAP_COLOURS[bi], np.float32) * rng.uniform(0.9, 1.1)
        rim = cv2.GaussianBlur(bag, (0, 0), max(1.0, 0.08 * min(size)))  # darker towards the edges
        flap = np.abs(yy - (q[1] - size[1] * 0.12)) < max(1.0, r * 0.25)
        blayer = bcol[None, None] * (0.7 + 0.3 * rim)[..., None] * np.where(flap, 0.75, 1.0)[..., None]
        layer = layer * (1 - bag[..., None]) + blayer * bag[..., None]
        cover = np.maximum(cover, bag)
        params.update(bag=True, bag_colour=bi, bag_size=[round(float(v), 1) for v in size])
    cover = cv2.GaussianBlur(cover, (0, 0), 0.6)
    out = cast_shadow(image, cover, (0.3 * r, 0.4 * r), 0.6 * r, 0.25)
    out = composite(out, layer, cover)
    return out, cover >= 0.5, params


DRAW: dict[str, Callable] = {"arm": draw_arm, "hair": draw_hair, "strap": draw_strap}


def occlude(image: np.ndarray, rng: np.random.Generator, kinds=("arm", "hair", "strap"), n: int = 1,
            jitter: bool = True, garment: np.ndarray | None = None):
    """Draw `n` occluders (kinds chosen with `rng` from `kinds`), then jitter.

    Returns (image, mask, meta): RGB uint8, bool mask of occluder pixels
    aligned with the returned image, and a JSON-able dict of what was done.
    """
    unknown = set(kinds) - set(DRAW)
    if unknown or not kinds:
        raise ValueError(f"unknown occluder kinds {sorted(unknown)}; valid: {sorted(DRAW)}")
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if garment is None:
        garment = rough_garment(image)
    picks = rng.choice(list(kinds), size=n, replace=n > len(kinds))
    mask = np.zeros(image.shape[:2], bool)
    meta: dict = {"occluders": []}
    for kind in picks:
        image, m, params = DRAW[str(kind)](image, garment, rng)
        mask |= m
        meta["occluders"].append(params)
    meta["kinds"] = [str(k) for k in picks]
    if jitter:
        j = sample_jitter(image.shape, rng)
        image, mask = apply_jitter(image, mask, j)
        meta["jitter"] = j.as_dict()
    return image, mask, meta
