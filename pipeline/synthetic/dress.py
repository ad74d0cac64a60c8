"""Dress silhouette: bodice (sleeveless, short or long sleeves) on a flared skirt.

Same units as tops.py. The skirt's folds converge on an apex above the
waist, and the hem undulates with the same phase, so the outline and the
shading agree about where the folds are.
"""
from __future__ import annotations

import numpy as np

from .shapes import Fan, Fold, Layout, Part, band, bez, chain, mirror, offset
from .spec import ProductSpec
from .tops import _necklines, _sleeve

U = np.random.Generator.uniform
SKIRT_LEN = {"mini": (0.5, 0.65), "midi": (0.95, 1.15), "maxi": (1.4, 1.65)}
FLARE = {"shift": (0.06, 0.14), "a-line": (0.22, 0.34), "fit-flare": (0.38, 0.55),
         "pencil": (-0.06, -0.02), "pleated": (0.28, 0.38), "skater": (0.5, 0.7)}


def skirt_outline(top_y, top_w, hip_w, length, flare, rng, n_folds, pleat):
    """Left side (top→hem), hem (left→right) and the Fan that shades it."""
    hem_y = top_y + length
    hh = min(max(top_w + length * flare, hip_w * 0.86), 0.95)  # a flat circle skirt stays in frame
    side = bez((-top_w, top_y), (-hip_w, top_y + min(0.25, length * 0.3)),
               (-(hip_w + hh) / 2 - 0.02 * (flare > 0.3), top_y + length * 0.65), (-hh, hem_y), n=12)
    # Fold apex: where the two side lines would meet, clamped for near-straight skirts.
    rise = length * top_w / max(hh - top_w, 1e-3)
    apex = (0.0, top_y - min(rise, 3.0))
    span = 2 * np.arctan2(hh, hem_y - apex[1])
    count = n_folds / span
    phase, wob = U(rng, 0, 1), U(rng, 0, 6.3)
    xs = np.linspace(-hh, hh, 65)
    s = np.arctan2(xs - apex[0], hem_y - apex[1]) * count + phase
    s = s + 0.18 * np.sin(s * 2.7 + wob)  # uneven spacing: real folds are not a comb
    # Each fold ridge pulls the hem down a little into a rounded lobe.
    wave = 0.0 if pleat else (0.004 + 0.014 * min(flare, 0.7)) * (flare > 0.15)
    ys = hem_y + 0.015 * (1 - (xs / hh) ** 2) + wave * (0.5 + 0.5 * np.cos(2 * np.pi * s)) ** 1.5
    hem = np.stack([xs, ys], 1)
    amp = (0.01 if pleat else U(rng, 0.008, 0.016)) * (0.6 + min(flare, 0.6))
    fan = Fan(apex, top_y, hem_y, (), count, amp, phase, pleat, wobble=0.18, wobble_phase=wob)
    return side, hem, fan


def build_dress(spec: ProductSpec, rng) -> Layout:
    ghost = spec.pose == "ghost"
    lay = Layout(parts=[], fabric="woven" if rng.random() < 0.6 else "jersey")
    lay.wrinkle = U(rng, 0.002, 0.006)
    cw, ay = U(rng, 0.4, 0.45), U(rng, 0.33, 0.42)
    nw = U(rng, 0.12, 0.17)
    wy = U(rng, 0.55, 0.65)
    ww = cw - 0.02 if spec.style == "shift" else U(rng, 0.3, 0.35)
    front, back, fd = _necklines(spec, rng, nw, ghost)
    if spec.sleeve == "sleeveless":
        so = nw + U(rng, 0.06, 0.13)
        sd = 0.01 + 0.03 * ghost
        shoulder = chain([(-nw, 0), (-so, sd)],
                         bez((-so, sd), (-so + 0.01, ay * 0.6), (-cw + 0.07, ay), (-cw, ay), n=8))
    else:
        so, sd = U(rng, 0.36, 0.42), U(rng, 0.05, 0.07) + 0.04 * ghost
        shoulder = chain([(-nw, 0), (-so, sd)],
                         bez((-so, sd), (-so + 0.01, ay * 0.7), (-cw + 0.02, ay), (-cw, ay), n=6))
    bodice = chain(shoulder, bez((-cw, ay), (-cw + 0.01, (ay + wy) / 2), (-ww, wy - 0.05), (-ww, wy), n=8))
    lo, hi = FLARE[spec.style]
    length = U(rng, *SKIRT_LEN[spec.length or "midi"])
    n_folds = U(rng, 4, 8)
    side, hem, fan = skirt_outline(wy, ww, ww + 0.02, length, U(rng, lo, hi), rng, n_folds, False)
    left = chain(bodice, side)
    body = chain(left, hem, mirror(left)[::-1], back)
    fan.y0 = wy
    idx = lay.add(Part(body, "fabric", 0.0, (0, 0), 0.25 if ghost else 0.05))
    fan.parts = (idx,)
    lay.fans.append(fan)

    if spec.sleeve != "sleeveless":
        long = spec.sleeve == "long"
        theta = np.radians(U(rng, 72, 82) if long else (U(rng, 38, 52) if ghost else U(rng, 25, 45)))
        ln, hw = (U(rng, 0.8, 0.95), U(rng, 0.12, 0.15)) if long else (U(rng, 0.16, 0.26), U(rng, 0.19, 0.24))
        for s in (-1, 1):
            S = np.array([s * so, sd])
            A = np.array([s * (cw - 0.02), ay + 0.03]) if ghost else np.array([s * (cw - 0.03), ay])
            T, B = _sleeve(lay, S, A, theta, ln, hw, rng, ghost, 0.0, "fabric", s)
            lay.stitches.append(offset(np.array([T, B]) if s > 0 else np.array([B, T]), 0.03))
        if not ghost:  # flat-lay sleeves tuck under the bodice
            lay.parts.append(lay.parts.pop(idx))
            fan.parts = (len(lay.parts) - 1,)
            for s in (-1, 1):
                lay.seams.append(np.array([(s * so, sd), (s * (cw - 0.005), ay)]))
    lay.add(Part(chain(back, front), "inside", 0.0, (0, 0), 0.03, shade=0.5 if ghost else 0.62))
    lay.stitches.append(offset(front, 0.03))
    if spec.sleeve == "sleeveless":
        lay.stitches += [offset(shoulder[1:], -0.025), offset(mirror(shoulder[1:]), 0.025)]
    lay.stitches.append(offset(hem[::-1], 0.035))
    waist = np.array([(-ww, wy), (ww, wy)])
    if spec.style != "shift":
        if rng.random() < 0.3:  # a belt in the second colour
            lay.add(Part(band(waist[::-1] + [0, 0.03], 0.06), "secondary", 0.0, (0, 0), 0.02, outline=True))
        else:
            lay.seams.append(waist)
    else:
        for s in (-1, 1):  # bust darts
            lay.seams.append(np.array([(s * cw, ay + 0.08), (s * (cw - 0.14), ay + 0.12)]))
    for s in (-1, 1):
        lay.folds.append(Fold((s * (cw - 0.04), ay + 0.03), (s * 0.1, wy - 0.05), 0.015, 0.03,
                              U(rng, -0.012, 0.012)))
    return lay
