"""Silhouettes of lower-body garments: skirt, trousers, shorts.

Units: waist width ~0.75, waistband top at y = 0, y down. A mannequin
("ghost") shot shows the waist as an opening with the inside back visible.
"""
from __future__ import annotations

import numpy as np

from .dress import FLARE, SKIRT_LEN, skirt_outline
from .shapes import Fold, Layout, Part, bez, chain, lerp, mirror, offset
from .spec import ProductSpec

U = np.random.Generator.uniform
GOLD = (196, 146, 62)


def _waistband(lay: Layout, ww: float, wb: float, ghost: bool, rng, kind: str = "fabric") -> None:
    sag = U(rng, 0.0, 0.015)
    top = bez((-ww, 0), (0, sag), (ww, 0), n=9)
    bottom = bez((ww, wb), (0, wb + sag), (-ww, wb), n=9)
    lay.add(Part(chain(top, bottom), kind, 0.0, (0, 0), 0.02, outline=True))
    if ghost:  # the back of the waistband rises behind the front: an opening
        back = bez((ww, 0), (ww * 0.6, -0.09), (-ww * 0.6, -0.09), (-ww, 0), n=12)
        lay.add(Part(chain(top, back), "inside", 0.0, (0, 0), 0.03, shade=0.45))


def build_skirt(spec: ProductSpec, rng) -> Layout:
    ghost = spec.pose == "ghost"
    lay = Layout(parts=[], fabric="woven")
    lay.wrinkle = U(rng, 0.002, 0.006)
    ww, wb = U(rng, 0.32, 0.36), U(rng, 0.06, 0.09)
    hip = ww + (U(rng, 0.07, 0.1) if spec.style == "pencil" else U(rng, 0.03, 0.06))
    length = U(rng, *SKIRT_LEN[spec.length or "midi"])
    pleat = spec.style == "pleated"
    n = {"pleated": U(rng, 14, 22), "skater": U(rng, 6, 9), "a-line": U(rng, 4, 7)}.get(spec.style, U(rng, 2, 4))
    side, hem, fan = skirt_outline(wb, ww, hip, length, U(rng, *FLARE[spec.style]), rng, n, pleat)
    body = chain(side, hem, mirror(side)[::-1])
    fan.parts = (lay.add(Part(body, "fabric", 0.0, (0, 0), 0.2 if ghost else 0.05)),)
    lay.fans.append(fan)
    _waistband(lay, ww, wb, ghost, rng)
    lay.stitches.append(offset(hem[::-1], 0.035))
    if spec.style == "pencil":
        lay.seams.append(np.array([(0.0, hem[16, 1]), (0.0, hem[16, 1] - U(rng, 0.12, 0.2))]))
        for s in (-1, 1):  # darts
            lay.seams.append(np.array([(s * ww * 0.5, wb), (s * ww * 0.52, wb + 0.14)]))
    elif spec.style == "a-line" and rng.random() < 0.5:
        for s in (-1, 1):  # slanted side pockets
            lay.seams.append(bez((s * (ww - 0.1), wb), (s * (ww - 0.06), wb + 0.1), (s * hip, wb + 0.2), n=6))
    lay.buttons.append(((ww - 0.07, wb / 2), 0.02))
    return lay


def build_pants(spec: ProductSpec, rng) -> Layout:
    ghost, shorts = spec.pose == "ghost", spec.category == "shorts"
    denim = spec.colour in ("blue", "navy", "black", "grey") and spec.pattern == "solid" \
        and spec.style != "drawstring" and rng.random() < 0.8
    lay = Layout(parts=[], fabric="denim" if denim else "woven")
    lay.wrinkle = U(rng, 0.003, 0.008)
    ww, wb = U(rng, 0.36, 0.4), U(rng, 0.06, 0.08)
    hp, cy = ww + U(rng, 0.03, 0.06), U(rng, 0.36, 0.44)
    if shorts:
        cy = U(rng, 0.33, 0.38)
        L = U(rng, 0.55, 0.65) if spec.length == "mini" else U(rng, 0.78, 0.92)
        leg, xo = U(rng, 0.34, 0.4), hp + U(rng, 0.02, 0.05)
    else:
        L = U(rng, 1.45, 1.6) if spec.length != "cropped" else U(rng, 1.15, 1.3)
        leg = {"slim": U(rng, 0.24, 0.28), "wide": U(rng, 0.44, 0.52)}.get(spec.style, U(rng, 0.33, 0.38))
        xo = hp + {"slim": -0.06, "wide": 0.05}.get(spec.style, U(rng, -0.02, 0.01))
    xi = max(xo - leg, 0.015)
    knee = lerp(cy, L, 0.45)
    outer = bez((-ww, wb), (-hp, 0.2), (-(hp + xo) / 2 - 0.01, knee), (-xo, L), n=12)
    hem = np.array([(-xo, L), (-xi, L + 0.008)])
    inner = bez((-xi, L), (-xi - 0.01, knee + 0.1), (-0.05, cy + 0.06), (0, cy), n=10)
    left = chain(outer, hem, inner)
    body = chain(left, mirror(left)[::-1])
    lay.add(Part(body, "fabric", 0.0, (0, 0), 0.13 if ghost else 0.045))
    _waistband(lay, ww, wb, ghost, rng)

    if spec.style == "drawstring":
        for s in (-1, 1):  # cords from two eyelets, hanging over the front
            x0 = s * U(rng, 0.03, 0.05)
            cord = bez((x0, wb * 0.5), (x0 + s * 0.03, wb + 0.1), (x0 - s * 0.01, wb + U(rng, 0.2, 0.3)), n=8)
            poly = chain(offset(cord, 0.008), offset(cord, -0.008)[::-1])
            lay.add(Part(poly, "trim", 0.0, (0, 0), 0.008, colour=spec.secondary_rgb
                         if rng.random() < 0.5 else (236, 234, 228), outline=True))
            lay.buttons.append(((x0, wb * 0.5), 0.012))
        for x in np.linspace(-ww + 0.03, ww - 0.03, 16):  # elastic gathers
            lay.folds.append(Fold((x, 0.005), (x, wb - 0.005), 0.008, 0.008, 0.006))
        for s in (-1, 1):
            lay.seams.append(bez((s * (ww - 0.02), wb), (s * hp, 0.25), n=4))
    else:
        for x in (-0.32, -0.14, 0.14, 0.32):  # belt loops
            loop = np.array([(x - 0.016, -0.01), (x + 0.016, -0.01), (x + 0.016, wb + 0.012), (x - 0.016, wb + 0.012)])
            lay.add(Part(loop * [ww / 0.38, 1], "fabric", 0.0, (0, 0), 0.006, outline=True))
        lay.buttons.append(((0.0, wb / 2), 0.026))
        fly = chain([(0.07, wb), (0.07, cy - 0.1)], bez((0.07, cy - 0.1), (0.07, cy - 0.04), (0.0, cy - 0.03), n=5))
        lay.stitches.append(fly)
        lay.seams.append(np.array([(0.0, wb), (0.0, cy)]))
        for s in (-1, 1):  # front pockets: the opening is a pressed edge plus a stitch
            pocket = bez((s * (ww - 0.12), wb), (s * (ww - 0.1), wb + 0.12), (s * (hp - 0.003), 0.22), n=8)
            lay.seams.append(pocket)
            lay.stitches.append(pocket + [s * 0.018, 0.0])
        lay.stitch_colour = GOLD if denim and spec.colour in ("blue", "navy") else None
        lay.button_colour = (168, 160, 146) if denim else None
    hem_y = L
    for s in (-1, 1):
        lay.stitches.append(np.array([(s * (xo - 0.004), hem_y - 0.035), (s * (xi + 0.004), hem_y - 0.03)]))
        cx = s * (xo + xi) / 2
        if not denim and not shorts and spec.style != "wide":  # pressed centre crease
            lay.folds.append(Fold((s * hp * 0.55, 0.28), (cx, L - 0.02), 0.008, 0.01, 0.008))
        if denim:  # whiskers radiating from the crotch
            for k in range(int(rng.integers(2, 5))):
                a = np.radians(U(rng, 10, 35))
                p0 = (s * 0.06, cy - 0.02 + 0.03 * k)
                lay.folds.append(Fold(p0, (p0[0] + s * 0.2 * np.cos(a), p0[1] - 0.2 * np.sin(a) + 0.08),
                                      0.008, 0.012, U(rng, 0.008, 0.016)))
        for _ in range(int(rng.integers(1, 4))):  # knee and hem wrinkles across the leg
            lo = cy + (0.04 if shorts else 0.15)
            y = U(rng, lo, max(L - 0.06, lo + 0.01))
            lay.folds.append(Fold((s * (xo + 0.02), y), (s * max(xi - 0.02, 0.0), y + U(rng, -0.06, 0.06)),
                                  0.015, 0.025, U(rng, -0.015, 0.015)))
    if (shorts and rng.random() < 0.4) or (spec.length == "cropped" and rng.random() < 0.5):
        for s in (-1, 1):  # turn-ups
            cuff = np.array([(s * (xo + 0.012), L - 0.07), (s * (xi - 0.008), L - 0.065),
                             (s * (xi - 0.008), L + 0.01), (s * (xo + 0.012), L + 0.005)])
            lay.add(Part(cuff, "fabric", 0.0, (0, 0), 0.02, outline=True))
    return lay
