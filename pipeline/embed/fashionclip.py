"""FashionCLIP (`patrickjohncyh/fashion-clip`): one space for garment images and text.

A transformers CLIPModel fine-tuned on fashion products. Images and text are
projected into the same unit sphere, so a text query ("red floral midi
dress") searches an index built from images. Pre-processing is numpy/OpenCV
from the model's preprocessor_config.json (transformers 5's CLIP image
processor wants torchvision). Both towers run in ONNX Runtime from a one-off
export into the model cache (ViT-B/32 image: 33 ms vs 75 ms in torch on 2
cores), or in torch when onnxruntime is missing.
"""
from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np

from .. import hub
from ..config import DEFAULT_HOME
from . import EMBEDDERS

DEFAULT_MODEL = "patrickjohncyh/fashion-clip"
INSTALL_HINT = "the fashion-clip embedder needs: pip install torch==2.13.0 transformers==5.23.0 huggingface_hub==2.4.0"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _towers(model: str, threads: int):
    """The CLIP towers as two modules that return projected (not yet normalised) embeddings."""
    torch = hub.import_torch(INSTALL_HINT, threads)
    from transformers import CLIPModel

    clip = hub.pretrained(CLIPModel.from_pretrained, model).eval()

    # Spelled out rather than get_image_features(), whose return type changed across transformers versions.
    class Image(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vision, self.proj = clip.vision_model, clip.visual_projection

        def forward(self, pixels):
            return self.proj(self.vision(pixel_values=pixels).pooler_output)

    class Text(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.text, self.proj = clip.text_model, clip.text_projection

        def forward(self, input_ids, attention_mask):
            return self.proj(self.text(input_ids=input_ids, attention_mask=attention_mask).pooler_output)

    return torch, Image().eval(), Text().eval()


@EMBEDDERS.register("fashion-clip")
class FashionCLIP:
    name = "fashion-clip"

    def __init__(self, model: str | Path = DEFAULT_MODEL, threads: int = 2, runtime: str = "auto",
                 cache_dir: str | Path | None = None):
        self.model = str(model)
        self.threads = int(threads)
        config_path = hub.fetch(self.model, "config.json")  # small: an unreachable model fails here
        config = json.loads(config_path.read_text())
        self.dim = int(config.get("projection_dim", 512))
        self.max_tokens = int((config.get("text_config") or {}).get("max_position_embeddings", 77))
        pre = hub.read_json(self.model, "preprocessor_config.json", required=False)
        crop = pre.get("crop_size", (config.get("vision_config") or {}).get("image_size", 224))
        self.size = int(crop["height"] if isinstance(crop, dict) else crop)
        self.mean = np.asarray(pre.get("image_mean", CLIP_MEAN), np.float32) * 255.0
        self.std = np.asarray(pre.get("image_std", CLIP_STD), np.float32) * 255.0
        self._tokenizer = None
        self._lock = threading.Lock()
        self.runtime = "onnx" if runtime == "auto" else runtime
        if self.runtime == "onnx":
            try:
                self._load_onnx(config_path, Path(cache_dir or DEFAULT_HOME / "models"))
            except ImportError:
                self.runtime = "torch"
        if self.runtime == "torch":
            self._load_torch()

    # -- loading -----------------------------------------------------------------
    def _load_onnx(self, config_path: Path, cache: Path) -> None:
        key = hub.model_key(self.model, config_path, self.size)
        image_path, text_path = cache / f"fashion-clip-{key}-image.onnx", cache / f"fashion-clip-{key}-text.onnx"
        if not (image_path.exists() and text_path.exists()):
            self._export(image_path, text_path)
        image_sess, text_sess = hub.ort_session(image_path, self.threads), hub.ort_session(text_path, self.threads)
        self._image = lambda x: image_sess.run(None, {"pixels": x})[0]
        self._text = lambda ids, mask: text_sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def _export(self, image_path: Path, text_path: Path) -> None:
        torch, image, text = _towers(self.model, self.threads)
        ids = torch.ones(2, 8, dtype=torch.long)

        def export(module, args, path, names, axes):
            def build(tmp: Path) -> None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(module, args, str(tmp), input_names=names, output_names=["embeds"],
                                      dynamic_axes=axes, opset_version=17, dynamo=False)

            hub.export_once(path, build)

        export(image, (torch.zeros(1, 3, self.size, self.size),), image_path, ["pixels"],
               {"pixels": {0: "batch"}, "embeds": {0: "batch"}})
        export(text, (ids, torch.ones_like(ids)), text_path, ["input_ids", "attention_mask"],
               {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                "embeds": {0: "batch"}})

    def _load_torch(self) -> None:
        torch, image, text = _towers(self.model, self.threads)

        def run_image(x):
            with torch.inference_mode():
                return image(torch.from_numpy(x)).numpy()

        def run_text(ids, mask):
            with torch.inference_mode():
                return text(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

        self._image, self._text = run_image, run_text

    @property
    def tokenizer(self):
        with self._lock:
            if self._tokenizer is None:
                try:
                    from transformers import CLIPTokenizer
                except ImportError as exc:
                    raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
                self._tokenizer = hub.pretrained(CLIPTokenizer.from_pretrained, self.model)
            return self._tokenizer

    # -- inference ---------------------------------------------------------------
    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """CLIP's recipe: shortest side to `size` (bicubic), centre crop, normalise."""
        h, w = image.shape[:2]
        s = self.size / min(h, w)
        nw, nh = max(self.size, round(w * s)), max(self.size, round(h * s))
        x = cv2.resize(image[..., :3], (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        y0, x0 = (nh - self.size) // 2, (nw - self.size) // 2
        x = x[y0:y0 + self.size, x0:x0 + self.size].astype(np.float32)
        return ((x - self.mean) / self.std).transpose(2, 0, 1)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        if not len(images):
            return np.zeros((0, self.dim), np.float32)
        x = np.stack([self.preprocess(im) for im in images]).astype(np.float32)
        return unit_rows(self._image(x))

    def embed_text(self, texts: list[str] | str) -> np.ndarray:
        """N×dim unit rows in the same space as `embed`."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        tok = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np")
        ids = np.asarray(tok["input_ids"], np.int64)
        mask = np.asarray(tok["attention_mask"], np.int64)
        return unit_rows(self._text(ids, mask))
