"""Hat silhouettes, seen from the front and slightly above: cap, beanie, bucket hat.

Units: crown width 1.0, crown top at y = 0.
"""
from __future__ import annotations

import numpy as np

from .shapes import Fold, Layout, Part, arc, bez, chain, offset
from .spec import ProductSpec

U = np.random.Generator.uniform


def build_hat(spec: ProductSpec, rng) -> Layout:
    return {"cap": _cap, "beanie": _beanie, "bucket": _bucket}[spec.style or "cap"](spec, rng)


def _cap(spec, rng) -> Layout:
    lay = Layout(parts=[], fabric="woven")
    lay.wrinkle = 0.002
    h = U(rng, 0.5, 0.6)
    # A squarish dome (superellipse): a structured cap, not a bowl.
    a = np.radians(np.linspace(180, 360, 31))
    c, s = np.cos(a), np.sin(a)
    dome = np.stack([0.5 * np.sign(c) * np.abs(c) ** 0.75, h + h * np.sign(s) * np.abs(s) ** 0.75], 1)
    crown = chain(dome, bez((0.5, h), (0, h + 0.1), (-0.5, h), n=9))
    lay.add(Part(crown, "fabric", 0.0, (0, 0), 0.3))
    # Seen from a little above, the peak is a crescent reaching well below the crown.
    bw, bd = U(rng, 0.5, 0.56), U(rng, 0.3, 0.4)
    top = bez((-0.5, h - 0.05), (0, h + 0.14), (0.5, h - 0.05), n=13)
    under = bez((0.5, h - 0.05), (bw + 0.02, h + bd * 0.5), (bw * 0.45, h + bd), (-bw * 0.45, h + bd),
                (-bw - 0.02, h + bd * 0.5), (-0.5, h - 0.05), n=21)
    brim = chain(top, under[1:-1])
    two_tone = rng.random() < 0.35
    lay.add(Part(brim, "secondary" if two_tone else "fabric", 0.0, (0, h), 0.08, shade=0.95, outline=True))
    for k in range(1, 5):  # rows of stitching that stiffen the peak
        row = offset(under[2:-2][::-1], 0.022 * k)
        lay.stitches.append(row)
    for x in (-0.42, -0.17, 0.17, 0.42):  # panel seams meeting at the button
        lay.seams.append(bez((0, 0.01), (x * 0.9, 0.04), (x * 1.02, h * 0.6), (x * 1.02, h - 0.02), n=10))
    for x in (-0.3, 0.3):
        lay.buttons.append(((x, h * 0.32), 0.012))  # eyelets
    lay.buttons.append(((0, 0.012), 0.035))
    if spec.pattern == "print":
        lay.graphic = ((0.0, h * 0.5), U(rng, 0.34, 0.44), 0)
    lay.button_colour = spec.rgb
    return lay


def _beanie(spec, rng) -> Layout:
    lay = Layout(parts=[], fabric="rib")
    lay.wrinkle = 0.004
    top, bottom, w = U(rng, 0.22, 0.35), U(rng, 0.85, 1.0), U(rng, 0.46, 0.5)
    body = chain(arc((0, top), w, top, 180, 360, 25), [(w, bottom), (-w, bottom)])
    lay.add(Part(body, "fabric", 0.0, (0, 0), 0.2))
    cuff_y = bottom - U(rng, 0.28, 0.36)
    cuff = np.array([(-w - 0.02, cuff_y), (w + 0.02, cuff_y), (w + 0.02, bottom), (-w - 0.02, bottom)])
    lay.add(Part(cuff, "fabric", 0.0, (0, cuff_y), 0.05, outline=True))
    for x in np.linspace(-0.3, 0.3, 5):  # the crown gathers towards the top
        lay.folds.append(Fold((x * 0.3, 0.03), (x, top + 0.15), 0.015, 0.04, 0.01))
    if rng.random() < 0.5:  # pompom: a disc with a ragged edge
        r = U(rng, 0.14, 0.2)
        a = np.linspace(0, 2 * np.pi, 60, endpoint=False)
        rr = r * (1 + 0.1 * rng.standard_normal(60))
        pom = np.stack([rr * np.cos(a), -r * 0.55 + rr * np.sin(a)], 1)
        lay.add(Part(pom, "secondary" if rng.random() < 0.5 else "trim", 0.0, (0, 0), 0.1,
                     colour=spec.rgb))
    if spec.pattern == "print":
        lay.graphic = ((0.0, (cuff_y + bottom) / 2), U(rng, 0.22, 0.3), 1)
    return lay


def _bucket(spec, rng) -> Layout:
    lay = Layout(parts=[], fabric="woven")
    lay.wrinkle = 0.003
    tw, bw, ch = U(rng, 0.3, 0.36), U(rng, 0.4, 0.44), U(rng, 0.42, 0.5)
    crown = chain(bez((-bw, ch), (-tw - 0.02, 0.12), (-tw, 0.02), (-tw + 0.08, 0.0), n=8),
                  bez((tw - 0.08, 0.0), (tw, 0.02), (tw + 0.02, 0.12), (bw, ch), n=8))
    lay.add(Part(crown, "fabric", 0.0, (0, 0), 0.25))
    rw, rd = U(rng, 0.62, 0.7), U(rng, 0.24, 0.32)
    top = bez((-bw, ch - 0.03), (0, ch + 0.06), (bw, ch - 0.03), n=11)
    under = bez((rw, ch + rd - 0.06), (rw * 0.5, ch + rd + 0.06), (-rw * 0.5, ch + rd + 0.06), (-rw, ch + rd - 0.06), n=15)
    brim = chain(top, under)
    lay.add(Part(brim, "fabric", 0.0, (0, ch), 0.07, shade=0.92, outline=True))
    for k in range(1, 6):
        lay.stitches.append(offset(under, 0.03 * k)[1:-1])
    lay.stitches.append(bez((-bw + 0.01, ch - 0.06), (0, ch + 0.03), (bw - 0.01, ch - 0.06), n=11))
    for s in (-1, 1):
        lay.seams.append(bez((s * 0.18, 0.0), (s * 0.2, ch * 0.5), (s * 0.22, ch + 0.02), n=6))
        lay.buttons.append(((s * 0.3, ch * 0.35), 0.012))
    lay.seams.append(bez((-tw + 0.06, 0.04), (0, 0.08), (tw - 0.06, 0.04), n=8))
    return lay
