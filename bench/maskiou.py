"""Occluder-mask quality of a parser on synthetic occlusions of real garment shots.

For each clean image: parse it, take its shape-based product region and its
occluder mask (which should be empty: a clean shot has nothing to remove).
Then draw one occluder, parse again, and compare the predicted occluder
mask with the drawn one restricted to the clean product region (an arm on
the floor beside a shirt is nothing to remove). With `jitter`, the clean
image gets the same geometric and photometric jitter as the query, so the
two stay pixel-aligned.

    python -m bench.maskiou --data ../shared/data/clothing-small/validation -n 40
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from pipeline.region import product_region
from pipeline.synthetic.jitter import apply_jitter, sample_jitter
from pipeline.synthetic.occluders import occlude


@dataclass
class MaskScore:
    name: str
    kind: str
    iou: float  # predicted vs true occluder; nan when both are empty
    clean_fp: float  # occluder fraction of the product region on the clean image
    true_px: int
    pred_px: int
    seconds: float  # mean parse time of the two parses


@dataclass
class Summary:
    scores: list[MaskScore] = field(default_factory=list)

    def mean(self, attr: str, kind: str | None = None) -> float:
        v = [getattr(s, attr) for s in self.scores if kind in (None, s.kind)]
        v = [x for x in v if x == x]
        return float(np.mean(v)) if v else float("nan")

    def table(self) -> str:
        kinds = sorted({s.kind for s in self.scores})
        lines = [f"{'kind':8s} {'n':>3s} {'IoU':>6s} {'cleanFP':>8s} {'ms':>6s}"]
        for k in kinds + [None]:
            n = sum(1 for s in self.scores if k in (None, s.kind))
            lines.append(f"{k or 'all':8s} {n:3d} {self.mean('iou', k):6.3f} {self.mean('clean_fp', k):8.4f} "
                         f"{1000 * self.mean('seconds', k):6.1f}")
        return "\n".join(lines)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else float("nan")


def occluder_iou(parser, images: Iterable[tuple[str, np.ndarray]], kinds=("arm", "hair", "strap"),
                 seed: int = 0, jitter: bool = False) -> Summary:
    """Score `parser` on (name, RGB image) pairs; image i gets kind i mod len(kinds), seed (seed, i)."""
    out = Summary()
    for i, (name, clean) in enumerate(images):
        rng = np.random.default_rng([seed, i])
        kind = kinds[i % len(kinds)]
        query, drawn, _ = occlude(clean, rng, kinds=(kind,), jitter=False)
        if jitter:
            j = sample_jitter(clean.shape, rng)
            clean, _ = apply_jitter(clean, None, j)
            query, drawn = apply_jitter(query, drawn, j)
        t0 = time.perf_counter()
        clean_region = product_region(parser.parse(clean))
        pred = product_region(parser.parse(query)).occluder
        seconds = (time.perf_counter() - t0) / 2
        truth = drawn & clean_region.product
        out.scores.append(MaskScore(name, kind, iou(pred, truth), clean_region.occluded_fraction,
                                    int(truth.sum()), int(pred.sum()), seconds))
    return out


def sample_images(root: Path, n: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """n images spread over categories, the same ones for the same seed."""
    from pipeline.imageio import is_image_path, load_image

    paths = sorted(p for p in root.rglob("*") if is_image_path(p))
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(paths), size=min(n, len(paths)), replace=False))
    return [(paths[k].relative_to(root).as_posix(), load_image(paths[k])) for k in pick]


def main(argv: list[str] | None = None) -> int:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    from pipeline.parse import PARSERS

    ap = argparse.ArgumentParser(prog="python -m bench.maskiou", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
                    / "clothing-small" / "validation")
    ap.add_argument("-n", type=int, default=40)
    ap.add_argument("--parser", default="classical")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jitter", action="store_true")
    ap.add_argument("--per-image", action="store_true")
    args = ap.parse_args(argv)
    summary = occluder_iou(PARSERS.create(args.parser), sample_images(args.data, args.n, args.seed),
                           seed=args.seed, jitter=args.jitter)
    if args.per_image:
        for s in summary.scores:
            print(f"{s.name:50s} {s.kind:6s} iou={s.iou:.3f} fp={s.clean_fp:.4f} true={s.true_px} pred={s.pred_px}")
    print(summary.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
