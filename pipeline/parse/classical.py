"""The offline parser: garment and occluders from colour and shape alone (OpenCV + numpy).

Works at ~160 px on the long side and upsamples the masks, so a 512 px
photo costs a few milliseconds. Steps:
1. object = garment + whatever lies on it, against the border's colours;
2. occluders that come in from outside the frame (arms, hair, straps): each
   narrow stretch of unusual colour on the frame's edge gets a colour model;
   the pixels it explains better than the background and the garment do,
   connected to that stretch, are its occluder, if they reach inside the
   garment's outline;
3. skin inside the garment's outline that neither the garment's nor the
   background's colours explain (an arm over a floor of its own colour);
4. everything else in the object is "garment".
A beige dress is safe from step 3: its own colour model explains it.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from ..imageio import as_rgb
from ..labels import INDEX
from ..region import enclosed
from ..types import Garment, Parsing
from . import PARSERS
from .classical_cues import bin_index, entries, keep_large, lab_features, object_mask, ring, skin_score
from .classical_gmm import fit
from .classical_shape import band, close, connected_to, core, crosses, disk, drop_leaks

BG, GARMENT, SKIN, HAIR, BAG = (INDEX[n] for n in ("background", "garment", "skin", "hair", "bag"))


def _body(garment: np.ndarray) -> np.ndarray:
    """The garment without slivers and crumbs (an occluder's soft edge left behind by the colour models)."""
    body = cv2.morphologyEx(garment.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    body = keep_large(body.astype(bool), rel=0.03)
    return cv2.dilate(body.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & garment


def _smooth(ll: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return cv2.blur(ll.reshape(shape).astype(np.float32), (3, 3))


@PARSERS.register("classical")
class ClassicalParser:
    name = "classical"

    def __init__(self, work_side: int = 160, min_side: int = 8, skin_novelty: float = 12.0, debug: bool = False):
        self.work_side = int(work_side)
        self.min_side = int(min_side)
        self.skin_novelty = float(skin_novelty)  # squared Mahalanobis distance skin must be from known colours
        self.debug = bool(debug)

    # -- public ---------------------------------------------------------------
    def parse(self, image: np.ndarray) -> Parsing:
        t0 = time.perf_counter()
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        if min(h, w) < self.min_side:
            # Too small to tell anything apart: call it all garment, occluder-free.
            lm = np.full((h, w), GARMENT, np.int16)
            return Parsing(lm, [Garment("garment", np.ones((h, w), bool))], time.perf_counter() - t0,
                           self.name, ["image too small to parse; treated as all garment"])
        labels, notes = self._parse_small(self._shrink(rgb))
        label_map = self._upsample(labels, (h, w))
        garment = label_map == GARMENT
        garments = [Garment("garment", garment)] if garment.any() else []
        return Parsing(label_map, garments, time.perf_counter() - t0, self.name, notes)

    # -- steps ----------------------------------------------------------------
    def _shrink(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = min(1.0, self.work_side / max(h, w))
        # A very thin strip keeps a usable short side rather than its aspect ratio.
        size = (max(self.min_side, round(w * s)), max(self.min_side, round(h * s)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

    def _parse_small(self, rgb: np.ndarray) -> tuple[np.ndarray, list[str]]:
        h, w = rgb.shape[:2]
        notes: list[str] = []
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
        x = lab_features(lab)
        edge_w = max(2, round(0.05 * min(h, w)))  # the frame band that shows the background
        ents = entries(x, (h, w), depth=edge_w)
        crossing = np.logical_or.reduce(ents) if ents else np.zeros((h, w), bool)
        obj = object_mask(bin_index(lab), edge_w, exclude=crossing)
        frac = float(obj.mean())
        if not 0.03 <= frac <= 0.97:
            notes.append(f"no figure/ground split (object {frac:.0%} of the frame); whole frame is the garment")
            obj = np.ones((h, w), bool)
        n_obj = int(obj.sum())
        near_crossing = cv2.dilate(crossing.astype(np.uint8), disk(edge_w)).astype(bool)
        bg_px = ~obj & ~near_crossing
        bg_model = fit(x[(bg_px if bg_px.sum() >= 30 else ~obj).ravel()], k=3)
        garment_model = fit(x[(obj & ~near_crossing).ravel()], k=4)
        ll_bg = _smooth(bg_model.loglik(x), (h, w)) if bg_model else np.full((h, w), -np.inf, np.float32)
        ll_g = _smooth(garment_model.loglik(x), (h, w))
        close_k = disk(0.02 * np.hypot(h, w))
        skin = skin_score(rgb)
        labels = np.where(obj, GARMENT, BG).astype(np.int16)
        occ = np.zeros((h, w), bool)
        kept = 0
        for entry in ents:
            region, why = self._crossing(x, entry, obj, occ, ll_bg, ll_g, close_k, n_obj)
            if self.debug:
                notes.append(f"crossing at {np.argwhere(entry).mean(0).round().tolist()}: {why}")
            if region is None:
                continue
            labels[region] = self._kind(region, entry, lab, skin)
            occ |= region
            kept += 1
        skin_px = self._skin(x, skin, obj, occ, bg_model, close_k, n_obj)
        labels[skin_px] = SKIN
        occ |= skin_px
        if occ.any():
            self._tidy(labels, obj & ~occ, occ)
        notes.append(f"{kept}/{len(ents)} edge crossings kept; {int(occ.sum())} occluder px, {n_obj} object px"
                     f" at {w}x{h}")
        return labels, notes

    @staticmethod
    def _crossing(x, entry, obj, occ, ll_bg, ll_g, close_k, n_obj):
        """(region, reason): the occluder behind one edge crossing, or None and why not."""
        shape = obj.shape
        q = fit(x[entry.ravel()], k=1, floor=4.0)
        # A garment cut by the frame also crosses the edge, in the garment's own colours; an arm or a
        # strap is a minor colour of the object. Checked first, on the object's pixels only: it
        # is cheap and turns many crossings away before any full-frame work.
        share = float((q.mahalanobis(x[obj.ravel()]) < 9.0).mean())
        if share > 0.6:
            return None, f"its colour is {share:.0%} of the object's"
        ll_q, m2 = q.scores(x)
        m2 = m2.reshape(shape)
        ll_q = _smooth(ll_q, shape)
        cand = (ll_q > ll_bg) & (ll_q > ll_g) & (m2 < 16.0) & ~occ
        region = connected_to(cand, entry)
        if not region.any():
            return None, "its colours are explained by background or garment"
        if int((region & obj).sum()) > 0.5 * n_obj:
            return None, "it spreads over most of the garment"
        region = drop_leaks(region, entry)
        why = ClassicalParser._rejects(region, obj, occ, close_k, n_obj)
        return (None, why) if why else (region, f"kept, {int(region.sum())} px")

    @staticmethod
    def _rejects(region, obj, occ, close_k, n_obj, bg_check: bool = True) -> str:
        """Why `region` is not an occluder lying across the garment, or "" if it is one."""
        rest = close(_body(obj & ~occ & ~region), close_k)
        # Count only pixels off the garment's edge: a garment's own rim of shadow hugs the background.
        open_bg = cv2.dilate((~obj & ~region).astype(np.uint8), disk(1)).astype(bool)
        inner = region & enclosed(rest) & ~open_bg
        inside = int(inner.sum())
        if inside < 0.003 * n_obj or inside < 0.08 * region.sum():
            return f"it does not reach into the garment ({inside} of {int(region.sum())} px)"
        # Background seen between two legs is enclosed too, and the background model claims it; a strap
        # of the floor's colour is claimed as well, but it is a straight band of even width.
        middle = core(inner)
        if bg_check and int((inner & obj).sum()) < 0.5 * inside and not band(middle):
            return "inside the outline it looks like background"
        across = crosses(middle if middle.sum() >= 3 else inner, rest)
        if across < 0.35:
            return f"it lies along the garment rather than across it ({across:.0%})"
        return ""

    def _skin(self, x, skin, obj, occ, bg_model, close_k, n_obj) -> np.ndarray:
        """Skin that neither the garment's nor the background's main colours explain, across the garment.

        This finds arms the edge-crossing step cannot follow: those that come
        in over a floor of their own colour (only the part over the garment
        stands out) or whose crossing is hidden by the garment itself.
        """
        shape = obj.shape
        out = np.zeros(shape, bool)
        cand = (skin >= 0.3) & ~occ
        if cand.sum() < 0.004 * n_obj:
            return out
        garment_model = fit(x[(obj & ~occ).ravel()], k=4)
        flat = cand.ravel()
        novel = garment_model.mahalanobis(x[flat], min_weight=0.15) > self.skin_novelty
        if bg_model is not None:
            # The part of an arm lying on the floor may earn a small background component; the floor
            # itself makes the large ones.
            novel &= bg_model.mahalanobis(x[flat], min_weight=0.2) > self.skin_novelty
        flat = flat.copy()
        flat[flat] = novel
        cand = cv2.morphologyEx(flat.reshape(shape).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, cc, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=8)
        outside = cv2.dilate((~obj & ~cand.astype(bool)).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        outside |= ring(shape, 1)
        for k in range(1, n):
            if stats[k, cv2.CC_STAT_AREA] < 0.004 * n_obj:
                continue
            comp = cc == k
            # A print on the garment is surrounded by garment; an arm comes in from outside it.
            # Novel skin is not background by construction, so the background test is skipped.
            if int((comp & outside).sum()) >= 3 and not self._rejects(comp, obj, occ | out, close_k, n_obj,
                                                                      bg_check=False):
                out |= comp
        return out

    @staticmethod
    def _tidy(labels: np.ndarray, garment: np.ndarray, occ: np.ndarray) -> None:
        """Give the slivers of "garment" left along an occluder's edge to the occluder or the background.

        An arm's soft edge and shadow are neither arm nor background to the
        colour models, so they stay "garment"; beside an arm lying on the
        floor they would put garment above and below it, and the product
        region would claim the whole arm.
        """
        stray = garment & ~_body(garment)
        if not stray.any():
            return
        near = cv2.dilate(np.where(occ, labels, 0).astype(np.uint8), np.ones((5, 5), np.uint8))
        labels[stray] = np.where(near[stray] > 0, near[stray], BG)

    @staticmethod
    def _kind(region: np.ndarray, entry: np.ndarray, lab: np.ndarray, skin: np.ndarray) -> int:
        if float(skin[region].mean()) >= 0.3:
            return SKIN
        if entry[:3].any() and float(np.median(lab[..., 0][region])) < 140:
            return HAIR
        return BAG

    @staticmethod
    def _upsample(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Each label's mask bilinearly upsampled and thresholded: smooth edges, not blocks."""
        h, w = size
        out = np.full((h, w), BG, np.int16)
        for c in np.unique(labels):
            if c == BG:
                continue
            m = cv2.resize((labels == c).astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_LINEAR)
            out[m > 127] = c
        return out
