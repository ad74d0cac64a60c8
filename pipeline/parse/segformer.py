"""SegFormer clothes parser (ATR labels): garment regions and occluding parts in one pass.

Default model `mattmdjaga/segformer_b2_clothes` (transformers
SegformerForSemanticSegmentation). Pre-processing is done here in
numpy/OpenCV from the model's preprocessor_config.json, because transformers
5's image processors want torchvision. Inference runs in ONNX Runtime from a
one-off export into the model cache (0.52 s vs 1.44 s in torch for B2 at
512 px on 2 cores), or in torch when onnxruntime is missing.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from .. import hub
from ..config import DEFAULT_HOME
from ..labels import ATR, GARMENTS, INDEX, LABELS, remap
from ..types import Garment, Parsing
from . import PARSERS

DEFAULT_MODEL = "mattmdjaga/segformer_b2_clothes"
INSTALL_HINT = "the segformer parser needs: pip install torch==2.13.0 transformers==5.23.0 huggingface_hub==2.4.0"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# Names other clothes parsers use for the same parts.
ALIASES = {"upperclothes": "upper-clothes", "upper-clothing": "upper-clothes", "sun-glasses": "sunglasses",
           "jumpsuit": "jumpsuits", "gloves": "glove", "shoes": "left-shoe", "bg": "background"}


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-").replace(" ", "-")
    return ALIASES.get(key, key)


def label_table(id2label: dict) -> tuple[np.ndarray, list[str]]:
    """Model label id -> canonical id, by name; positional ATR when the names are generic (LABEL_0...)."""
    n = max((int(k) for k in id2label), default=-1) + 1
    names = [_canonical(id2label.get(str(i), id2label.get(i, ""))) for i in range(n)]
    notes: list[str] = []
    if n == len(ATR) and not any(name in INDEX for name in names):
        return np.asarray(remap(ATR), np.int16), ["generic label names: assumed ATR order"]
    table = []
    for i, name in enumerate(names):
        if name not in INDEX:
            notes.append(f"label {i} {name!r} is not a known part; treated as background")
        table.append(INDEX.get(name, INDEX["background"]))
    return np.asarray(table, np.int16), notes


def _size(pre: dict) -> tuple[int, int]:
    size = pre.get("size", 512)
    if isinstance(size, dict):
        if "height" in size:
            return int(size["height"]), int(size["width"])
        side = size.get("shortest_edge", 512)
        return int(side), int(side)
    return int(size), int(size)


def _export(model: str, path: Path, size: tuple[int, int], threads: int) -> None:
    torch = hub.import_torch(INSTALL_HINT, threads)
    net = _load_torch(model, threads)

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixels):
            return self.m(pixel_values=pixels).logits

    # eval() on the wrapper too: export restores the wrapper's mode recursively afterwards.
    wrapper = Logits(net).eval()

    def build(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, torch.zeros(1, 3, *size), str(tmp), input_names=["pixels"],
                              output_names=["logits"], dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                              opset_version=17, dynamo=False)

    hub.export_once(path, build)


def _load_torch(model: str, threads: int):
    hub.import_torch(INSTALL_HINT, threads)
    from transformers import SegformerForSemanticSegmentation

    return hub.pretrained(SegformerForSemanticSegmentation.from_pretrained, model).eval()


@PARSERS.register("segformer")
class SegformerParser:
    name = "segformer"

    def __init__(self, model: str | Path = DEFAULT_MODEL, threads: int = 2, runtime: str = "auto",
                 cache_dir: str | Path | None = None, min_area: float = 0.002, size: int | None = None):
        self.model = str(model)
        self.threads = int(threads)
        self.min_area = float(min_area)
        # config.json first: it is small, so an unreachable model fails here, before any heavy import.
        config_path = hub.fetch(self.model, "config.json")
        config = json.loads(config_path.read_text())
        self.lut, self.label_notes = label_table(config.get("id2label") or {})
        pre = hub.read_json(self.model, "preprocessor_config.json", required=False)
        # `size` trades accuracy for time (cost grows with its square); default: the model's own, 512 for B2.
        self.size = (int(size), int(size)) if size else _size(pre)
        self.mean = np.asarray(pre.get("image_mean", IMAGENET_MEAN), np.float32) * 255.0
        self.std = np.asarray(pre.get("image_std", IMAGENET_STD), np.float32) * 255.0
        self.runtime = "onnx" if runtime == "auto" else runtime
        if self.runtime == "onnx":
            try:
                key = hub.model_key(self.model, config_path, self.size)
                path = Path(cache_dir or DEFAULT_HOME / "models") / f"segformer-{key}.onnx"
                if not path.exists():
                    _export(self.model, path, self.size, self.threads)
                sess = hub.ort_session(path, self.threads)
                self._run = lambda x: sess.run(None, {"pixels": x})[0]
            except ImportError:
                self.runtime = "torch"
        if self.runtime == "torch":
            torch = hub.import_torch(INSTALL_HINT, self.threads)
            net = _load_torch(self.model, self.threads)

            def run(x: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return net(pixel_values=torch.from_numpy(x)).logits.numpy()

            self._run = run

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        h, w = self.size
        shrink = rgb.shape[0] * rgb.shape[1] > h * w
        x = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        x = (x.astype(np.float32) - self.mean) / self.std
        return x.transpose(2, 0, 1)[None].copy()

    def parse(self, image: np.ndarray) -> Parsing:
        t0 = time.perf_counter()
        rgb = np.ascontiguousarray(image[..., :3])
        H, W = rgb.shape[:2]
        logits = self._run(self.preprocess(rgb))[0].astype(np.float32)  # C×h×w at 1/4 of the input
        if len(self.lut) < logits.shape[0]:
            raise ValueError(f"model emits {logits.shape[0]} labels but its config names {len(self.lut)}")
        # Upsample the logits, not the labels (as the model card does): smooth part edges at full size.
        up = cv2.resize(np.ascontiguousarray(logits.transpose(1, 2, 0)), (W, H), interpolation=cv2.INTER_LINEAR)
        ids = up.reshape(H, W, -1).argmax(axis=2)
        label_map = self.lut[ids]
        z = np.exp(logits - logits.max(axis=0, keepdims=True))
        prob, low_ids = (z / z.sum(axis=0, keepdims=True)).max(axis=0), logits.argmax(axis=0)
        garments = []
        low_map = self.lut[low_ids]
        for gid in np.unique(label_map):
            label = LABELS[int(gid)]
            if label not in GARMENTS:
                continue
            mask = label_map == gid
            if mask.sum() < self.min_area * H * W:
                continue  # speckles: a parse's stray pixels are not a garment to search with
            sel = low_map == gid
            score = float(prob[sel].mean()) if sel.any() else 0.0
            garments.append(Garment(label, mask, score))
        garments.sort(key=lambda g: g.area, reverse=True)
        notes = list(self.label_notes)
        notes.append(f"{len(garments)} garment(s): " + ", ".join(f"{g.label} {g.area}px" for g in garments))
        return Parsing(label_map.astype(np.int16), garments, time.perf_counter() - t0, self.name, notes)

