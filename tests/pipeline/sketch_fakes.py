"""A model-free engine for sketch tests: real parsing-free analysis, numpy embedder, real colour histogram."""
from __future__ import annotations

import cv2
import numpy as np

from pipeline import imageio
from pipeline.colour.lab import LabHistogram
from pipeline.engine import garment_crop
from pipeline.types import Analysis, Features, Garment, Parsing, Region, Restoration


class TinyEmbedder:
    """Grey 16×16 thumbnail as a unit vector: enough to tell a triangle from a bar."""

    name, dim = "tiny", 256

    def embed(self, images):
        out = [cv2.resize(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), (16, 16), interpolation=cv2.INTER_AREA)
               .astype(np.float32).ravel() for im in images]
        v = 255.0 - np.stack(out) if out else np.zeros((0, self.dim), np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-6)


class FakeEngine:
    def __init__(self, settings, index=None):
        self.settings, self.index, self.notices = settings, index, []
        self.embedder, self.colour = TinyEmbedder(), LabHistogram()

    def signature(self):
        return {"embedder": "tiny", "colour": "lab-hist", "shape_dim": 256, "colour_dim": self.colour.dim}

    def features_many(self, images, restore=None, pool=None):
        return [self.analyse(im).features for im in images]

    def describe(self, feats):
        return [{} for _ in feats]

    def analyse(self, image, restore=None, garment=0):
        rgb = imageio.load_image(image)
        product = rgb.min(axis=2) < 230
        crop = garment_crop(rgb, product, True)
        feats = Features(self.embedder.embed([crop])[0], self.colour.histogram(rgb, product))
        label = np.where(product, 1, 0).astype(np.int16)
        return Analysis(rgb, Parsing(label, [Garment("garment", product)]), Region(product, product & False, "garment"),
                        Restoration(rgb, rgb, "off"), feats, crop, {})


def garment(shape: str, colour, size: int = 160) -> np.ndarray:
    """A flat 'product shot': one coloured shape with a dark seam on white."""
    img = np.full((size, size, 3), 255, np.uint8)
    c = tuple(int(v) for v in colour)
    if shape == "dress":
        cv2.fillPoly(img, [np.array([[60, 20], [100, 20], [135, 145], [25, 145]], np.int32)], c)
    elif shape == "pants":
        cv2.fillPoly(img, [np.array([[40, 15], [120, 15], [130, 150], [90, 150], [80, 60], [70, 150], [30, 150]],
                                    np.int32)], c)
    else:  # a t-shirt
        cv2.fillPoly(img, [np.array([[20, 30], [60, 15], [100, 15], [140, 30], [150, 65], [120, 65], [120, 145],
                                     [40, 145], [40, 65], [10, 65]], np.int32)], c)
    cv2.line(img, (80, 30), (80, 130), tuple(max(0, v - 90) for v in c), 2)
    return img
