"""Silhouettes of upper-body garments: t-shirt, long-sleeve top, shirt, dress.

Units: chest width 1.0, neck points at y = 0, y down. "flat" is a flat-lay
(sleeves spread, back neck visible inside the neckline); "ghost" is an
invisible mannequin (sleeves hang, the neck opening shows the inside back,
panels are shaded as cylinders).
"""
from __future__ import annotations

import numpy as np

from .shapes import Fold, Layout, Part, band, bez, chain, lerp, mirror, offset
from .spec import ProductSpec

U = np.random.Generator.uniform


def _necklines(spec: ProductSpec, rng, nw: float, ghost: bool):
    """(front curve left→right, back curve right→left, front depth)."""
    if spec.neckline == "v-neck":
        fd = U(rng, 0.2, 0.3)
        half = bez((-nw, 0), (-nw * 0.55, fd * 0.45), (-0.02, fd * 0.95), (0, fd), n=9)
    else:
        fd = U(rng, 0.06, 0.09) if spec.neckline == "collar" else U(rng, 0.09, 0.14)
        half = bez((-nw, 0), (-nw, fd * 0.75), (-nw * 0.55, fd), (0, fd), n=10)
    front = chain(half, mirror(half)[::-1])
    bd = -U(rng, 0.04, 0.07) if ghost else U(rng, 0.015, 0.03)
    back = bez((nw, 0), (nw * 0.5, bd), (-nw * 0.5, bd), (-nw, 0), n=10)
    return front, back, fd


def _sleeve(lay: Layout, S, A, theta: float, length: float, hem_w: float, rng, ghost: bool,
            cuff: float, cuff_kind: str, side: int) -> np.ndarray:
    """Add a left (side=-1) or right sleeve from shoulder point S and armpit A.

    Returns the hem line (outer→inner) for stitching.
    """
    S, A = np.asarray(S, float), np.asarray(A, float)
    d = np.array([side * np.cos(theta), np.sin(theta)])
    perp = np.array([-side * d[1], side * d[0]])  # across the sleeve, towards the body
    if ghost:  # a mannequin's sleeve hangs from a rounded cap that stands off the shoulder
        K = np.array([side * (abs(A[0]) + U(rng, 0.07, 0.11)), S[1] + U(rng, 0.1, 0.14)])
        cap = bez(S, (S[0] + side * 0.08, S[1] - 0.005), K, n=7)
        start, rest = K, (length - 0.1 if length > 0.6 else length)
    else:
        cap, start, rest = S[None], S, length
    bend = np.radians(U(rng, -6, 10)) * (length > 0.6)
    c, s = np.cos(bend * side), np.sin(bend * side)
    d2 = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
    p2 = np.array([-side * d2[1], side * d2[0]])
    E = start + d * rest * 0.5
    T = E + d2 * rest * 0.5
    B = T + p2 * hem_w
    if length > 0.6:
        w0 = float(np.clip(abs((A - start) @ perp), hem_w, 0.32))
        Ei = E + perp * lerp(w0, hem_w, 0.5)
        outer = chain(cap, bez(start, lerp(start, E, 0.6), E, T, n=8))
        inner = bez(B, Ei, lerp(A, Ei, 0.5), A, n=8)
    else:
        outer = chain(cap, [T])
        inner = bez(B, lerp(B, A, 0.5) + perp * 0.01, A, n=5)
    poly = chain(outer, inner)
    angle = float(np.arctan2(d2[1], d2[0]) - np.pi / 2)
    lay.add(Part(poly, "fabric", angle, tuple(lerp(S, A, 0.5)), 0.1 if ghost else 0.05, outline=ghost))
    if cuff > 0:
        lay.add(Part(np.array([T - d2 * cuff, T, B, B - d2 * cuff]), cuff_kind, angle, tuple(T),
                     0.03, outline=True))
    if length > 0.6:  # creases where a long sleeve bends
        for _ in range(int(rng.integers(1, 4))):
            t = U(rng, 0.35, 0.85)
            a, b = lerp(start, T, t), lerp(A, B, t)
            lay.folds.append(Fold(tuple(lerp(a, b, 0.1)), tuple(lerp(a, b, 0.9)), 0.02, 0.03,
                                  U(rng, -0.012, 0.012)))
    return np.array([T, B])


def _body_side(cw, ww, hw, ay, L, sd, sw, ghost):
    armhole = bez((-sw, sd), (-sw + 0.01, lerp(sd, ay, 0.6)), (-cw + 0.02, ay - 0.02), (-cw, ay), n=6)
    side = bez((-cw, ay), (-cw, lerp(ay, L, 0.35)), (-ww, lerp(ay, L, 0.6)), (-hw, L), n=10)
    return chain(armhole, side)


def build_top(spec: ProductSpec, rng) -> Layout:
    ghost = spec.pose == "ghost"
    cat, style = spec.category, spec.style
    lay = Layout(parts=[], fabric="woven" if cat == "shirt" else ("knit" if style == "sweater" else "jersey"))
    lay.wrinkle = U(rng, 0.003, 0.008)
    cw = {"boxy": 0.55, "fitted": 0.46}.get(style, 0.5)
    nw = U(rng, 0.12, 0.16) if cat == "shirt" else U(rng, 0.13, 0.17)
    sw = cw * U(rng, 0.9, 1.0) if style != "boxy" else cw * 1.04
    sd = U(rng, 0.05, 0.08) + 0.04 * ghost
    ay = U(rng, 0.36, 0.44)
    L = U(rng, 1.2, 1.45) * (1.05 if cat == "shirt" else 1.0) * (0.92 if style == "boxy" else 1.0)
    ww = cw - (U(rng, 0.02, 0.06) if style == "fitted" else U(rng, -0.01, 0.02)) - 0.03 * ghost
    hw = ww + U(rng, -0.01, 0.03)
    front, back, fd = _necklines(spec, rng, nw, ghost)

    left = chain([(-nw, 0)], _body_side(cw, ww, hw, ay, L, sd, sw, ghost))
    if cat == "shirt":  # curved shirttail: sides ride higher than the centre
        tail = U(rng, 0.06, 0.12)
        left[-1, 1] -= tail
        hem = bez(left[-1], (-hw, L - tail * 0.2), (-hw * 0.4, L + 0.03), (0, L + 0.03), n=8)
        hem = chain(hem, mirror(hem)[::-1])
    else:
        dip = U(rng, 0.0, 0.025)
        hem = bez((-hw, L), (-hw * 0.3, L + dip), (hw * 0.3, L + dip), (hw, L), n=10)
    body = chain(left, hem, mirror(left)[::-1], back)

    # Sleeves: flat-lay sleeves go under the body (the body covers the armhole);
    # a mannequin's sleeves hang in front of its sides.
    long = spec.sleeve == "long"
    if long:
        theta = np.radians(U(rng, 72, 82) if ghost else U(rng, 52, 78))
        length, hem_w = U(rng, 0.95, 1.1), U(rng, 0.13, 0.17)
    else:
        theta = np.radians(U(rng, 38, 52) if ghost else U(rng, 22, 40))
        length, hem_w = U(rng, 0.26, 0.38), U(rng, 0.2, 0.27)
    cuff, cuff_kind = 0.0, "rib"
    if long:
        cuff = U(rng, 0.08, 0.11) if cat == "shirt" or style == "sweater" else U(rng, 0.0, 0.07)
        cuff_kind = "fabric" if cat == "shirt" else "rib"
    body_idx = None if ghost else lay.add(Part(body, "fabric", 0.0, (0, 0), 0.05))
    hems = []
    for side in (-1, 1):
        S = np.array([side * sw, sd])
        A = np.array([side * (cw - 0.02), ay + 0.03]) if ghost else np.array([side * (cw - 0.03), ay])
        hems.append(_sleeve(lay, S, A, theta, length, hem_w, rng, ghost, cuff, cuff_kind, side))
    if body_idx is not None:  # move the body above its sleeves
        lay.parts.append(lay.parts.pop(body_idx))
    else:
        lay.parts.insert(0, Part(body, "fabric", 0.0, (0, 0), 0.3))
    body_i = 0 if ghost else len(lay.parts) - 1

    # Neck: the inside back shows between the back edge and the front neckline.
    inside = chain(back, front)
    lay.add(Part(inside, "inside", 0.0, (0, 0), 0.03, shade=0.5 if ghost else 0.62))
    if cat == "shirt":
        _shirt_details(lay, spec, rng, nw, fd, L, front, back)
    else:
        rib = U(rng, 0.03, 0.05)
        lay.add(Part(band(back, -rib * 0.8), "rib", 0.0, (0, 0), 0.02, shade=0.7))
        lay.add(Part(band(front, rib), "rib", 0.0, (0, 0), 0.02, outline=True))
        lay.stitches.append(offset(front, rib + 0.012))
    if style == "sweater":
        hb = U(rng, 0.08, 0.12)
        lay.add(Part(band(hem[::-1], hb), "rib", 0.0, (0, 0), 0.03, outline=True))
    elif cat != "shirt":
        lay.stitches += [offset(hem[::-1], 0.04), offset(hem[::-1], 0.05)]
    if not long:
        for (T, B), side in zip(hems, (-1, 1)):
            lay.stitches.append(offset(np.array([T, B]) if side > 0 else np.array([B, T]), 0.035))
    if not ghost:
        for side in (-1, 1):  # the armhole seam where body meets sleeve
            lay.seams.append(np.array([(side * sw, sd), (side * (cw - 0.005), ay)]))
        for side in (-1, 1):
            lay.seams.append(np.array([(side * nw, 0.0), (side * sw, sd)]))
    _top_folds(lay, rng, cw, ay, L, ghost)
    if spec.pattern == "print" and cat != "shirt":
        gw = U(rng, 0.4, 0.56)
        lay.graphic = ((U(rng, -0.02, 0.02), max(ay * 0.85 + U(rng, 0.0, 0.1), fd + 0.06 + 0.4 * gw)), gw, body_i)
    return lay


def _shirt_details(lay, spec, rng, nw, fd, L, front, back):
    stand = U(rng, 0.035, 0.05)
    lay.add(Part(band(back, -stand), "fabric", 0.0, (0, 0), 0.02, shade=0.85, outline=True))
    pw = U(rng, 0.035, 0.045)
    placket = np.array([(-pw, fd - 0.01), (pw, fd - 0.01), (pw, L + 0.03), (-pw, L + 0.03)])
    lay.add(Part(placket, "fabric", 0.0, (0, 0), 0.015, outline=True))
    lay.stitches += [np.array([(-pw + 0.012, fd), (-pw + 0.012, L)]), np.array([(pw - 0.012, fd), (pw - 0.012, L)])]
    tip = (U(rng, 0.12, 0.17), U(rng, 0.2, 0.26))
    for side in (-1, 1):
        wing = np.array([(side * (nw + 0.015), -0.03), (side * (nw + 0.06), 0.07),
                         (side * tip[0], tip[1]), (side * 0.012, fd + 0.02), (0, fd - 0.015)])
        wing = chain(bez(*wing[:3], n=6), bez(*wing[2:], n=6))
        lay.add(Part(wing, "fabric", 0.0, (0, 0), 0.025, outline=True))
        lay.stitches.append(offset(wing[:8], -0.015 * side))
    step = U(rng, 0.14, 0.18)
    lay.buttons += [((0.0, y), 0.022) for y in np.arange(fd + 0.08, L - 0.04, step)]
    if spec.style == "pocket":
        x0, y0, w, h = U(rng, 0.12, 0.16), U(rng, 0.28, 0.34), U(rng, 0.16, 0.2), U(rng, 0.18, 0.22)
        pocket = np.array([(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0 + w / 2, y0 + h + 0.03), (x0, y0 + h)])
        lay.add(Part(pocket, "fabric", 0.0, (x0, y0), 0.015, outline=True))
        lay.stitches.append(np.array([(x0, y0 + 0.03), (x0 + w, y0 + 0.03)]))
    lay.button_colour = (236, 232, 222) if sum(spec.rgb) < 600 else (200, 196, 188)


def _top_folds(lay, rng, cw, ay, L, ghost):
    for side in (-1, 1):
        if rng.random() < 0.7:  # drag lines from the underarm
            lay.folds.append(Fold((side * (cw - 0.05), ay + 0.05),
                                  (side * U(rng, 0.0, 0.25), ay + U(rng, 0.3, 0.6)),
                                  0.02, 0.05, U(rng, -0.02, 0.02)))
    for _ in range(int(rng.integers(1, 4))):
        x = U(rng, -cw * 0.8, cw * 0.8)
        if ghost:  # a mannequin's fabric drapes vertically
            lay.folds.append(Fold((x, U(rng, 0.3, 0.6)), (x + U(rng, -0.05, 0.05), L), 0.02, 0.05,
                                  U(rng, -0.02, 0.02)))
        else:
            y = U(rng, ay + 0.1, L - 0.05)
            lay.folds.append(Fold((x - 0.2, y), (x + 0.2, y + U(rng, -0.1, 0.1)), 0.03, 0.04,
                                  U(rng, -0.015, 0.015)))
