"""The paper's product region: a detectron2 Mask R-CNN trained on DeepFashion2.

Mask R-CNN gives garments (13 DeepFashion2 categories, shape-based masks: a
hand over a dress is inside the dress mask); it gives no body parts, so a
second parser (classical by default, or segformer) supplies the occluders, as
PGN did in the patent. A garment's `mask` is its visible part (the DF2 mask
minus occluders), which is what the region stage expects; the region stage
then recovers the full shape.

detectron2 is not on PyPI and there is no canonical public DeepFashion2
checkpoint, so this backend runs only when detectron2 is installed and a
config and weights are given (DRAPE_DETECTRON2_CONFIG / DRAPE_DETECTRON2_WEIGHTS
or the settings of the same names).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ..labels import GARMENTS, INDEX
from ..types import Garment, Parsing
from . import PARSERS

INSTALL_HINT = ("the detectron2 parser needs detectron2 (not on PyPI): "
                "pip install 'git+https://github.com/facebookresearch/detectron2.git' "
                "(needs torch==2.13.0 and a C++ compiler)")
# DeepFashion2 category ids 1..13, in order, and the canonical label each maps to.
DF2 = (
    ("short sleeve top", "upper-clothes"), ("long sleeve top", "upper-clothes"),
    ("short sleeve outwear", "coat"), ("long sleeve outwear", "coat"), ("vest", "upper-clothes"),
    ("sling", "upper-clothes"), ("shorts", "pants"), ("trousers", "pants"), ("skirt", "skirt"),
    ("short sleeve dress", "dress"), ("long sleeve dress", "dress"), ("vest dress", "dress"),
    ("sling dress", "dress"),
)


def merge(parts: Parsing, masks: np.ndarray, classes: np.ndarray, scores: np.ndarray,
          min_score: float = 0.5) -> tuple[np.ndarray, list[Garment]]:
    """Garments from instance masks, occluders from `parts`: label map and garments, largest first."""
    occluders = parts.occluders
    label_map = parts.label_map.copy()
    label_map[np.isin(label_map, [INDEX[g] for g in GARMENTS])] = INDEX["background"]
    garments = []
    for mask, cls, score in zip(masks, classes, scores):
        if score < min_score or not 0 <= int(cls) < len(DF2):
            continue
        visible = mask.astype(bool) & ~occluders
        if visible.any():
            garments.append(Garment(DF2[int(cls)][1], visible, float(score)))
    garments.sort(key=lambda g: g.area, reverse=True)
    # Smallest painted last: a top inside a dress's outline stays visible in the map.
    for g in garments:  # largest first
        label_map[g.mask] = INDEX[g.label]
    return label_map, garments


@PARSERS.register("detectron2")
class Detectron2Parser:
    name = "detectron2"

    def __init__(self, config: str | Path | None = None, weights: str | Path | None = None, threads: int = 2,
                 parts: str = "classical", min_score: float = 0.5, parts_kwargs: dict | None = None):
        config = config or os.environ.get("DRAPE_DETECTRON2_CONFIG")
        weights = weights or os.environ.get("DRAPE_DETECTRON2_WEIGHTS")
        try:
            import torch
            from detectron2.config import get_cfg
            from detectron2.engine import DefaultPredictor
        except ImportError as exc:
            raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
        if not config or not weights:
            raise ValueError("the detectron2 parser needs a Mask R-CNN DeepFashion2 config and weights: "
                             "set detectron2_config and detectron2_weights (or DRAPE_DETECTRON2_CONFIG/_WEIGHTS)")
        for p in (config, weights):
            if not Path(p).expanduser().is_file():
                raise FileNotFoundError(f"detectron2 file not found: {p}")
        torch.set_num_threads(int(threads))
        cfg = get_cfg()
        cfg.merge_from_file(str(Path(config).expanduser()))
        cfg.MODEL.WEIGHTS = str(Path(weights).expanduser())
        cfg.MODEL.DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = float(min_score)
        self.predictor = DefaultPredictor(cfg)
        self.min_score = float(min_score)
        self.parts = PARSERS.create(parts, **(parts_kwargs or {}))

    def parse(self, image: np.ndarray) -> Parsing:
        t0 = time.perf_counter()
        rgb = np.ascontiguousarray(image[..., :3])
        parts = self.parts.parse(rgb)
        inst = self.predictor(rgb[..., ::-1].copy())["instances"].to("cpu")  # DefaultPredictor wants BGR
        masks = inst.pred_masks.numpy() if inst.has("pred_masks") else np.zeros((0, *rgb.shape[:2]), bool)
        label_map, garments = merge(parts, masks, inst.pred_classes.numpy(), inst.scores.numpy(), self.min_score)
        notes = [f"{len(garments)} DeepFashion2 garment(s); parts from {self.parts.name}"] + parts.notes
        return Parsing(label_map, garments, time.perf_counter() - t0, self.name, notes)
