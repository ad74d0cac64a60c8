"""Fabric patterns as small periodic tiles, and placed chest graphics.

Tiles are drawn at output resolution (sizes in cm, converted with the
garment's pixels-per-cm) and sampled through the fold-displaced coordinate
maps, so a pattern bends with the cloth instead of lying on top of it.
Everything is drawn supersampled and reduced with INTER_AREA for clean edges.
"""
from __future__ import annotations

import cv2
import numpy as np

from .spec import COLOURS, ProductSpec

_LEAF = [(64, 110, 60), (40, 84, 52), (96, 132, 70)]
_WORDS = ["BROOKLYN", "SUMMER", "ATHLETIC", "OCEAN", "CALIFORNIA", "TOKYO", "PARIS", "VIBES",
          "SURF CLUB", "CAMPUS", "MOUNTAIN", "SUNSET", "ORIGINAL", "WILD", "DREAM", "NORTH",
          "COASTAL", "VARSITY", "GOOD DAYS", "EXPLORE"]
_FONTS = [cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX,
          cv2.FONT_HERSHEY_SIMPLEX]


def _accent(spec: ProductSpec, rng) -> tuple[int, int, int]:
    names = [n for n in COLOURS if n not in (spec.colour, spec.secondary)]
    return COLOURS[names[int(rng.integers(len(names)))]]


def _mix(a, b, t):
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


def _bands(period: int, bands, base, ss: int = 8) -> np.ndarray:
    """A (period, 3) colour profile: base with bands (start, width, colour) in [0, 1)."""
    n = period * ss
    prof = np.tile(np.asarray(base, np.float32), (n, 1))
    pos = (np.arange(n) + 0.5) / n
    for start, width, colour in bands:
        inside = ((pos - start) % 1.0) < width
        prof[inside] = colour
    return prof.reshape(period, ss, 3).mean(1)


def stripes(spec, rng, px_cm: float) -> tuple[np.ndarray, float]:
    kind = rng.choice(["breton", "bold", "pin", "multi"], p=[0.4, 0.2, 0.2, 0.2])
    base, sec = spec.rgb, spec.secondary_rgb
    if kind == "pin":
        p = max(6, int(round(U(rng, 0.8, 1.5) * px_cm)))
        bands = [(0, max(1.3 / p, 0.08), sec)]
    elif kind == "bold":
        p = max(10, int(round(U(rng, 3, 6) * px_cm)))
        bands = [(0, U(rng, 0.35, 0.45), sec)]
    elif kind == "multi":
        p = max(12, int(round(U(rng, 3, 5) * px_cm)))
        w = U(rng, 0.15, 0.25)
        bands = [(0, w, sec), (w + 0.12, 0.06, _accent(spec, rng))]
    else:
        p = max(7, int(round(U(rng, 1.1, 2.2) * px_cm)))
        bands = [(0, U(rng, 0.22, 0.38), sec)]
    prof = _bands(p, bands, base)
    tile = np.repeat(prof[:, None, :], 4, axis=1)
    vertical = spec.category in ("shirt", "pants", "shorts") and rng.random() < 0.7 or \
        spec.category == "skirt" and rng.random() < 0.4
    return _u8(tile), (np.pi / 2 if vertical else 0.0)


def checks(spec, rng, px_cm: float) -> tuple[np.ndarray, float]:
    kind = rng.choice(["gingham", "tartan", "window"], p=[0.4, 0.4, 0.2])
    base, sec = np.float32(spec.rgb), np.float32(spec.secondary_rgb)
    if kind == "gingham":
        p = max(8, int(round(U(rng, 0.8, 2.0) * px_cm)))
        h = _bands(p, [(0, 0.32, (1, 1, 1))], (0, 0, 0))[:, 0]
        a = 0.5 * (h[:, None] + h[None, :])
        tile = base * (1 - a[..., None]) + sec * a[..., None]
    elif kind == "window":
        p = max(14, int(round(U(rng, 3, 6) * px_cm)))
        h = _bands(p, [(0, 1.6 / p, (1, 1, 1))], (0, 0, 0))[:, 0]
        a = np.maximum(h[:, None], h[None, :])
        tile = base * (1 - a[..., None]) + sec * a[..., None]
    else:  # tartan: warp and weft carry the same sett, crossing in a 2/2 twill
        p = max(20, int(round(U(rng, 4, 8) * px_cm)))
        acc = np.float32(_accent(spec, rng))
        dark = base * 0.55
        prof = _bands(p, [(0.0, 0.22, sec), (0.3, 0.03, acc), (0.5, 0.12, dark), (0.7, 0.03, acc)], base)
        twill = (((np.arange(p)[:, None] + np.arange(p)[None, :]) // 2) % 2).astype(np.float32)
        w = 0.35 + 0.3 * twill
        tile = prof[:, None, :] * w[..., None] + prof[None, :, :] * (1 - w[..., None])
    return _u8(tile), 0.0


def dots(spec, rng, px_cm: float) -> tuple[np.ndarray, float]:
    ss = 4
    if rng.random() < 0.3:  # pin dots
        p = max(7, int(round(U(rng, 0.8, 1.4) * px_cm)))
        r = max(1.1, U(rng, 0.1, 0.14) * p)
    else:
        p = max(10, int(round(U(rng, 1.6, 4.0) * px_cm)))
        r = U(rng, 0.13, 0.22) * p  # at most ~30% cover: the ground stays the named colour
    big = np.empty((p * ss, p * ss, 3), np.uint8)
    big[:] = spec.rgb
    for cx, cy in [(0, 0), (p, 0), (0, p), (p, p), (p / 2, p / 2)]:  # half-drop, wrapped
        cv2.circle(big, (int(cx * ss * 16), int(cy * ss * 16)), int(r * ss * 16), spec.secondary_rgb,
                   -1, cv2.LINE_AA, 4)
    return cv2.resize(big, (p, p), interpolation=cv2.INTER_AREA), 0.0


def florals(spec, rng, px_cm: float) -> tuple[np.ndarray, float]:
    ditsy = rng.random() < 0.5
    t = max(40, int(round((U(rng, 6, 9) if ditsy else U(rng, 12, 18)) * px_cm)))
    ss = 2
    big = np.empty((t * ss, t * ss, 3), np.uint8)
    big[:] = spec.rgb
    colours = [spec.secondary_rgb, _accent(spec, rng), (244, 240, 232)]
    n = int(rng.integers(10, 17)) if ditsy else int(rng.integers(6, 11))
    f = ss * 16  # fixed-point factor for cv2's shift=4
    centres: list[np.ndarray] = []
    for _ in range(n * 6):  # dart throwing on the torus: spread out, so the repeat is hard to see
        c = rng.uniform(0, t, 2)
        gap = np.abs(np.array(centres) - c) if centres else np.zeros((0, 2))
        gap = np.minimum(gap, t - gap)
        if len(centres) < n and (not len(gap) or np.hypot(*gap.T).min() > t / np.sqrt(n) * 0.75):
            centres.append(c)
    for c in centres:
        r = (U(rng, 0.35, 0.7) if ditsy else U(rng, 0.9, 1.8)) * px_cm
        col = colours[int(rng.choice(3, p=[0.55, 0.3, 0.15]))]
        petals, rot = int(rng.integers(5, 7)), U(rng, 0, 360)
        leaf = _LEAF[int(rng.integers(3))]
        for dx in (-t, 0, t):  # draw the wrapped copies too, so the tile is seamless
            for dy in (-t, 0, t):
                x, y = (c[0] + dx) * ss, (c[1] + dy) * ss
                if not (-3 * r * ss < x < (t + 3 * r) * ss and -3 * r * ss < y < (t + 3 * r) * ss):
                    continue
                for k in range(2):  # two leaves
                    a = np.radians(rot + 40 + 170 * k)
                    lc = (x + np.cos(a) * r * 1.2 * ss, y + np.sin(a) * r * 1.2 * ss)
                    cv2.ellipse(big, (int(lc[0] * 16), int(lc[1] * 16)), (int(r * 0.8 * f), int(r * 0.35 * f)),
                                np.degrees(a), 0, 360, leaf, -1, cv2.LINE_AA, 4)
                for k in range(petals):
                    a = np.radians(rot + k * 360 / petals)
                    pc = (x + np.cos(a) * r * 0.55 * ss, y + np.sin(a) * r * 0.55 * ss)
                    cv2.ellipse(big, (int(pc[0] * 16), int(pc[1] * 16)), (int(r * 0.55 * f), int(r * 0.32 * f)),
                                np.degrees(a), 0, 360, col, -1, cv2.LINE_AA, 4)
                eye = (236, 196, 64) if col != (236, 196, 64) else (90, 60, 40)
                cv2.circle(big, (int(x * 16), int(y * 16)), int(r * 0.22 * f), eye, -1, cv2.LINE_AA, 4)
    return cv2.resize(big, (t, t), interpolation=cv2.INTER_AREA), U(rng, -0.3, 0.3)


def allover(spec, rng, px_cm: float) -> tuple[np.ndarray, float]:
    """All-over prints for garments that do not carry a chest graphic."""
    kind = rng.choice(["camo", "leopard", "geo", "brush"])
    t = max(48, int(round(U(rng, 8, 14) * px_cm)))
    base, sec, acc = np.float32(spec.rgb), np.float32(spec.secondary_rgb), np.float32(_accent(spec, rng))
    if kind == "camo":  # periodic noise: integer frequencies tile exactly
        yy, xx = np.mgrid[0:t, 0:t].astype(np.float32) / t * 2 * np.pi
        def field():
            f = np.zeros((t, t), np.float32)
            for _ in range(6):
                kx, ky = rng.integers(-3, 4, 2)
                f += np.cos(kx * xx + ky * yy + U(rng, 0, 6.3)) / (1 + abs(kx) + abs(ky)) ** 0.5
            return f
        a, b = field(), field()
        tile = np.empty((t, t, 3), np.float32)
        tile[:] = base
        tile[a > 0.6] = base * 0.6 + sec * 0.4
        tile[b > 0.8] = base * 0.45
        tile[(a < -0.9)] = sec
        padded = cv2.copyMakeBorder(tile, 3, 3, 3, 3, cv2.BORDER_WRAP)  # blur across the seam too
        return _u8(cv2.GaussianBlur(padded, (0, 0), 0.7)[3:-3, 3:-3]), 0.0
    ss = 2
    big = np.empty((t * ss, t * ss, 3), np.uint8)
    big[:] = spec.rgb
    n = {"leopard": 12, "geo": 8, "brush": 6}[kind]
    spot = _mix(spec.rgb, (0, 0, 0), 0.25)
    for i in range(n):
        c = rng.uniform(0, t, 2)
        r = U(rng, 0.5, 1.1) * px_cm
        ang, a0, a1 = U(rng, 0, 180), U(rng, 0, 90), U(rng, 200, 320)
        stroke = np.cumsum(rng.normal(0, r * 0.8, (5, 2)), 0)
        colour = tuple(int(v) for v in (sec if i % 2 else acc))
        reach = 3 * r + (np.abs(stroke).max() if kind == "brush" else 0)
        for dx in (-t, 0, t):  # the same shape at every wrapped position: a seamless tile
            for dy in (-t, 0, t):
                x, y = c[0] + dx, c[1] + dy
                if not (-reach < x < t + reach and -reach < y < t + reach):
                    continue
                centre, axes = (int(x * ss), int(y * ss)), (int(r * ss), int(r * 0.7 * ss))
                if kind == "leopard":
                    cv2.ellipse(big, centre, axes, ang, 0, 360, spot, -1, cv2.LINE_AA)
                    cv2.ellipse(big, centre, axes, ang, a0, a1, spec.secondary_rgb, max(2, int(r * 0.35 * ss)),
                                cv2.LINE_AA)
                elif kind == "geo":
                    pts = (np.array([[0, -1], [0.87, 0.5], [-0.87, 0.5]]) * r * 1.5 + [x, y]) * ss
                    cv2.fillPoly(big, [pts.astype(np.int32)], colour, cv2.LINE_AA)
                else:
                    pts = (stroke + [x, y]) * ss
                    cv2.polylines(big, [pts.astype(np.int32)], False, colour, max(2, int(r * 0.6 * ss)), cv2.LINE_AA)
    return cv2.resize(big, (t, t), interpolation=cv2.INTER_AREA), 0.0


def make_tile(spec: ProductSpec, rng, px_cm: float) -> tuple[np.ndarray | None, float]:
    """(tile RGB uint8 or None for a plain colour, extra pattern angle)."""
    p = spec.pattern
    if p == "solid" or (p == "print" and spec.category in ("t-shirt", "longsleeve", "hat")
                        and spec.style != "bucket"):
        return None, 0.0
    return {"striped": stripes, "checked": checks, "dotted": dots, "floral": florals,
            "print": allover}[p](spec, rng, px_cm)


def graphic(spec: ProductSpec, rng, width: int) -> np.ndarray:
    """A placed print: RGBA uint8, roughly `width` px wide, transparent around."""
    ss = 2
    w = max(16, width) * ss
    h = int(w * U(rng, 0.6, 0.9))
    img = np.zeros((h, w, 4), np.uint8)
    ink = spec.secondary_rgb + (255,)
    acc = _accent(spec, rng) + (255,)
    kind = rng.choice(["text", "badge", "sunset"])
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    word = _WORDS[int(rng.integers(len(_WORDS)))]
    th = max(2, w // 60)

    def text(s, cy, frac, colour):
        (tw, tht), _ = cv2.getTextSize(s, font, 1.0, th)
        scale = w * frac / tw
        size, _ = cv2.getTextSize(s, font, scale, th)
        org = (int((w - size[0]) / 2), int(cy + size[1] / 2))
        cv2.putText(img, s, org, font, scale, colour, th + int(scale), cv2.LINE_AA)

    if kind == "text":
        text(word, h * 0.38, 0.95, ink)
        text(f"EST. {int(rng.integers(1950, 2020))}", h * 0.72, 0.45, acc)
    elif kind == "badge":
        r = int(min(w, h) * 0.46)
        cv2.circle(img, (w // 2, h // 2), r, ink, th * 2, cv2.LINE_AA)
        cv2.circle(img, (w // 2, h // 2), int(r * 0.86), acc, th, cv2.LINE_AA)
        text(word.split()[0][:8], h / 2, 0.6 * r * 2 / w, ink)
    else:  # retro sunset: a striped half-disc over a word
        r = int(w * 0.3)
        c = (w // 2, int(h * 0.55))
        cv2.ellipse(img, c, (r, r), 0, 180, 360, acc, -1, cv2.LINE_AA)
        for k in range(1, 4):
            y = c[1] - int(r * k * 0.22)
            cv2.line(img, (0, y), (w, y), (0, 0, 0, 0), max(2, r // 14))
        text(word, h * 0.8, 0.9, ink)
    if rng.random() < 0.35:  # worn print: ink missing in specks
        speck = rng.random((h // 4, w // 4)) < 0.25
        keep = cv2.resize((~speck).astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_NEAREST)
        img[..., 3] = np.minimum(img[..., 3], keep)
    return cv2.resize(img, (w // ss, h // ss), interpolation=cv2.INTER_AREA)


def U(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a), 0, 255).astype(np.uint8)
