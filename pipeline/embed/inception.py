"""The paper's shape features: Keras InceptionResNetV2, ImageNet weights, `avg_pool`, 1536-d.

Exactly the patent's `InceptionResNetV2(include_top=False, pooling="avg",
weights="imagenet")`. TensorFlow is imported only when this backend is built:
it costs seconds and hundreds of MB, and no other profile needs it. Keras
fetches the ImageNet weights once into ~/.keras/models; in offline mode
(HF_HUB_OFFLINE=1) only an already-downloaded file is used. `weights` may
also be a local .h5/.keras weights file, or "none" (random: tests, latency).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from .. import hub
from . import EMBEDDERS

INSTALL_HINT = "the inception-resnet-v2 embedder needs: pip install tensorflow==2.21.0"
WEIGHTS_FILE = "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _keras_cache() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


@EMBEDDERS.register("inception-resnet-v2")
class InceptionResNetV2:
    name = "inception-resnet-v2"
    dim = 1536

    def __init__(self, model: str = "imagenet", threads: int = 2, size: int = 299):
        self.size = int(size)  # 299 as trained; Keras accepts ≥ 75 without the top
        weights = None if str(model).lower() in ("none", "random") else str(model)
        if weights == "imagenet" and hub.offline() and not (_keras_cache() / WEIGHTS_FILE).exists():
            raise hub.HubUnavailable(f"offline mode and the ImageNet weights are not in {_keras_cache()}")
        if weights not in (None, "imagenet") and not Path(weights).expanduser().is_file():
            raise hub.HubUnavailable(f"InceptionResNetV2 weights file {weights} not found")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import tensorflow as tf
            import keras
        except ImportError as exc:
            raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
        try:  # only possible before TensorFlow's first op; later engines share the first setting
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        try:
            self.net = keras.applications.InceptionResNetV2(
                include_top=False, pooling="avg", weights="imagenet" if weights == "imagenet" else None,
                input_shape=(self.size, self.size, 3))
        except Exception as exc:  # the weights download: URL, HTTP or socket errors
            raise hub.HubUnavailable(f"cannot fetch the InceptionResNetV2 ImageNet weights: {exc}") from exc
        if weights not in (None, "imagenet"):
            self.net.load_weights(str(Path(weights).expanduser()))
        self._tf = tf
        self._lock = threading.Lock()

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        x = cv2.resize(image[..., :3], (self.size, self.size), interpolation=cv2.INTER_AREA)
        return x.astype(np.float32) / 127.5 - 1.0  # keras inception_resnet_v2.preprocess_input ("tf" mode)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.dim), np.float32)
        x = np.stack([self.preprocess(im) for im in images])
        with self._lock:
            feats = np.asarray(self.net(self._tf.constant(x), training=False), np.float32)
        return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
