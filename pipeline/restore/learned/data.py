"""Training pairs for the learned restorer, made by the occlusion synthesis on clean catalogue photos.

Each photo is downscaled, one occluder is drawn across its garment with no
jitter (so the occluded image and its clean original stay pixel-aligned), and
a square box around the occluder (`crop_box`, the same one inference uses) is
cut out of both and resized to the model's side. The pairs are cached in one
.npz so training epochs never redraw occluders (≈0.1 s each on this box).
"""
from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np

GEN_SIDE = 256  # photos are drawn on at this longer side: occluders scale with the garment, so only speed changes


def crop_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Square-ish box (y0, y1, x0, x1) around the mask: 2× its extent, at least half the image.

    Relative to the image, not in pixels, so a 256-px training photo and a
    512-px query give the model the same view of the garment.
    """
    from ..lama import context_box

    h, w = mask.shape
    return context_box(mask, side=max(h, w) // 2, context=2.0)


def to_model(crop: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    h, w = crop.shape[:2]
    if nearest:
        return cv2.resize(crop.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
    interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def texture_map(clean: np.ndarray, cells: int = 16) -> np.ndarray:
    """The stage-1 target: the garment's flattened colour map (uint8, same size as `clean`).

    Area-averaged to `cells`×`cells`, median-filtered so a print's motifs become
    its dominant colours, then smoothly upsampled: what survives is where each
    colour lies, not the pattern's detail, which stage 2 draws.
    """
    h, w = clean.shape[:2]
    small = cv2.resize(clean, (cells, cells), interpolation=cv2.INTER_AREA)
    small = cv2.medianBlur(small, 3)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def make_pair(image: np.ndarray, rng: np.random.Generator, size: int):
    """(occluded, clean, hole, garment) crops at size×size from one clean photo."""
    from ...imageio import fit
    from ...synthetic.occluders import occlude, rough_garment

    image = fit(image, GEN_SIDE)
    garment = rough_garment(image)
    occ, mask, _ = occlude(image, rng, jitter=False, garment=garment)
    y0, y1, x0, x1 = crop_box(mask)
    cut = lambda a, **k: to_model(a[y0:y1, x0:x1], size, **k)  # noqa: E731
    return cut(occ), cut(image), cut(mask, nearest=True).astype(bool), cut(garment, nearest=True).astype(bool)


def build_cache(source: Path, out: Path, size: int, seed: int = 0, limit: int | None = None) -> Path:
    """Draw one occluded pair per photo under `source`; write them to `out` (.npz). Resumes nothing: it is minutes."""
    from tqdm import tqdm

    from ...imageio import ImageError, is_image_path, load_image

    files = sorted(p for p in Path(source).rglob("*") if p.is_file() and is_image_path(p))
    if limit is not None:
        files = files[:limit]
    if not files:
        raise SystemExit(f"{source}: no images found")
    arrays: dict[str, list[np.ndarray]] = {"occluded": [], "clean": [], "hole": [], "garment": []}
    for path in tqdm(files, desc="pairs", unit="img", disable=None):
        try:
            image = load_image(path)
        except ImageError:
            continue
        # Per-file stream: the same photo gets the same occluder whatever the order or --limit.
        rng = np.random.default_rng([seed, zlib.crc32(path.relative_to(source).as_posix().encode())])
        for key, a in zip(arrays, make_pair(image, rng, size)):
            arrays[key].append(a)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, **{k: np.stack(v) for k, v in arrays.items()})
    tmp.replace(out)
    return out


class Pairs:
    """Cached pairs plus the cheap augmentation: flips, and a hole taken from another pair."""

    def __init__(self, path: Path):
        with np.load(path) as z:
            self.occluded, self.clean = z["occluded"], z["clean"]
            self.hole, self.garment = z["hole"], z["garment"]
        # Grown by a pixel, as inference does: resizing blends the occluder's edge into its neighbours.
        k = np.ones((3, 3), np.uint8)
        self.hole = np.stack([cv2.dilate(h.astype(np.uint8), k) for h in self.hole]).astype(bool)

    def __len__(self) -> int:
        return len(self.clean)

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None):
        occ, clean = self.occluded[idx].copy(), self.clean[idx].copy()
        hole, garment = self.hole[idx].copy(), self.garment[idx].copy()
        if rng is not None:
            # Half the time, another pair's occluder over this garment: more hole shapes for free.
            swap = rng.random(len(idx)) < 0.5
            donors = rng.integers(len(self), size=len(idx))
            for k in np.nonzero(swap)[0]:
                d = donors[k]
                occ[k] = clean[k]
                occ[k][self.hole[d]] = self.occluded[d][self.hole[d]]
                hole[k] = self.hole[d]
            flip = rng.random(len(idx)) < 0.5
            for arr in (occ, clean, hole, garment):
                arr[flip] = arr[flip][:, :, ::-1]
        return occ, clean, hole, garment
