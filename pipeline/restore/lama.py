"""LaMa inpainting from a public ONNX export, run with onnxruntime.

Default `Carve/LaMa-ONNX` / `lama_fp32.onnx`: inputs `image` (N×3×512×512,
RGB in [0, 1]) and `mask` (N×1×512×512, 1 = fill), one output N×3×512×512.
Exports disagree on the output's scale ([0, 1] or [0, 255]) and some take a
single 4-channel input (masked RGB + mask); both are handled. The model sees
a square crop around the mask at its input size, with context around the
hole; only pixels inside the mask are pasted back.
"""
from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from .. import hub
from . import INPAINTERS

DEFAULT_MODEL = "Carve/LaMa-ONNX"
DEFAULT_FILE = "lama_fp32.onnx"


def context_box(mask: np.ndarray, side: int, context: float = 2.0) -> tuple[int, int, int, int]:
    """A square box (y0, y1, x0, x1) around the mask: at least `side` px (or the image) and
    `context`× the mask's extent, so LaMa sees what surrounds the hole; clipped to the image."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    extent = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    s = int(min(max(side, context * extent), max(h, w)))
    sh, sw = min(s, h), min(s, w)
    y0 = int(np.clip(round(cy - sh / 2), 0, h - sh))
    x0 = int(np.clip(round(cx - sw / 2), 0, w - sw))
    return y0, y0 + sh, x0, x0 + sw


def _fixed(dim, default: int) -> int:
    return int(dim) if isinstance(dim, int) and dim > 0 else default


@INPAINTERS.register("lama")
class LaMa:
    name = "lama"

    def __init__(self, model: str | Path = DEFAULT_MODEL, filename: str = DEFAULT_FILE, threads: int = 2,
                 size: int = 512):
        self.model = str(model)
        path = hub.fetch(self.model, filename)
        self.session = hub.ort_session(path, int(threads))
        inputs = {i.name: i for i in self.session.get_inputs()}
        first = next(iter(inputs.values()))
        self.size = _fixed(first.shape[-1], int(size))  # a fixed export dictates its size
        if "image" in inputs and "mask" in inputs:
            self.layout = "image+mask"
        elif len(inputs) == 1 and _fixed(first.shape[1], 0) == 4:
            self.layout = "rgbm"  # one N×4×H×W input: masked RGB and the mask
        else:
            shapes = {n: i.shape for n, i in inputs.items()}
            raise ValueError(f"{path}: unrecognised LaMa inputs {shapes}; expected image+mask or one 4-channel input")
        self.input = first.name
        self.output = self.session.get_outputs()[0].name
        self._lock = threading.Lock()  # one run at a time: LaMa at 512 px takes most of a 2-core box

    def _infer(self, rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """rgb uint8 size×size×3, hole bool size×size -> uint8 size×size×3."""
        img = rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        m = hole.astype(np.float32)[None, None]
        if self.layout == "image+mask":
            feeds = {"image": img, "mask": m}
        else:
            feeds = {self.input: np.concatenate([img * (1.0 - m), m], axis=1)}
        with self._lock:
            out = self.session.run([self.output], feeds)[0][0].transpose(1, 2, 0)
        # The scale, from pixels the model keeps: outside the hole the output is the input (×1 or ×255).
        keep = ~hole
        ref = float(rgb[keep].mean()) / 255.0 if keep.any() else 0.5
        got = float(out[keep].mean()) if keep.any() else float(out.mean())
        as_255 = abs(got - 255.0 * ref) < abs(got - ref) if ref > 0.02 else float(out.max()) > 1.5
        return np.clip(out if as_255 else out * 255.0, 0, 255).round().astype(np.uint8)

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if mask is None or not mask.any():
            return image
        y0, y1, x0, x1 = context_box(mask, self.size)
        crop, m = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        h, w = m.shape
        if (h, w) != (self.size, self.size):
            inp = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA if h > self.size else cv2.INTER_CUBIC)
            # Nearest plus a dilation: a resized hole must not let occluder pixels leak in at its edge.
            hole = cv2.resize(m.astype(np.uint8), (self.size, self.size), interpolation=cv2.INTER_NEAREST)
            hole = cv2.dilate(hole, np.ones((3, 3), np.uint8)).astype(bool)
        else:
            inp, hole = crop, m
        filled = self._infer(inp, hole)
        if (h, w) != (self.size, self.size):
            filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC if h > self.size else cv2.INTER_AREA)
        out = image.copy()
        out[y0:y1, x0:x1][m] = filled[m]
        return out
