"""Reading a drawing: which pixels are outline, which are colour.

Accepts what Gradio's ImageEditor/Sketchpad hands a handler (a dict with
`background`, `layers`, `composite`; RGBA numpy arrays), a plain image (an
example PNG, an API upload) or a path. The rule is by colour, not by layer,
so it works the same for a drawing made on the canvas, an example loaded as
the background, and a PNG sent over the API:
- outline: dark, colourless pixels (the black pen);
- colour: everything that is neither white paper nor outline nor the grey
  anti-aliasing fringe around the outline (so a grey garment can still be
  painted grey, away from the lines).
Dark paint and the pen look alike; width tells them apart: the pen is thin,
a brush that paints a black or navy garment is thick.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .. import imageio
from .strokes import drop_specks

PAPER_L, PAPER_CHROMA = 232, 14  # OpenCV 8-bit Lab: near-white counts as paper
INK_L, INK_CHROMA = 80, 22  # dark and colourless counts as the black pen
FRINGE = 2  # px around the ink whose greys are anti-aliasing, not paint
THICK = 0.009  # half-width, share of the canvas side, above which a dark stroke is paint (a black garment)


@dataclass
class Drawing:
    image: np.ndarray  # RGB uint8, flattened on white
    outline: np.ndarray  # bool
    colour: np.ndarray  # bool

    @property
    def empty(self) -> bool:
        return not self.outline.any() and not self.colour.any()

    @property
    def has_colour(self) -> bool:
        return int(self.colour.sum()) >= 16

    def colour_pixels(self, width: int = 128) -> np.ndarray:
        """The painted pixels packed into a small image (rows of `width`), for a histogram with no mask.

        Small enough that no featurizer downscales it (a resize would blend neighbouring strokes'
        colours); at most width² pixels, evenly sampled; the last row is topped up from the start.
        """
        px = self.image[self.colour].reshape(-1, 3)
        if len(px) > width * width:
            px = px[np.linspace(0, len(px) - 1, width * width).astype(int)]
        if len(px) < width:
            return np.ascontiguousarray(px.reshape(-1, 1, 3))
        rows = -(-len(px) // width)
        px = np.concatenate([px, px[: rows * width - len(px)]])
        return np.ascontiguousarray(px.reshape(rows, width, 3))

    def shape_lines(self) -> np.ndarray:
        """The outline; with no pen at all, the boundary of the paint stands in for it."""
        if self.outline.sum() >= 16 or not self.colour.any():
            return self.outline
        paint = cv2.morphologyEx(self.colour.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        return cv2.morphologyEx(paint, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0


def _flatten(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 4:
        alpha = a[..., 3:4].astype(np.float32) / 255.0  # colour under alpha 0 is arbitrary: never read it
        return (a[..., :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return imageio.as_rgb(a)


def _over(base: np.ndarray, layer: np.ndarray) -> np.ndarray:
    layer = np.asarray(layer)
    if layer.shape[:2] != base.shape[:2]:
        layer = cv2.resize(layer, (base.shape[1], base.shape[0]), interpolation=cv2.INTER_NEAREST)
    if layer.ndim == 3 and layer.shape[2] == 4:
        alpha = layer[..., 3:4].astype(np.float32) / 255.0
        return (layer[..., :3] * alpha + base * (1 - alpha)).round().astype(np.uint8)
    return imageio.as_rgb(layer)


def flatten_value(value: Any) -> np.ndarray | None:
    """Editor dict, image array, bytes or path → one RGB image on white (None if nothing drawn)."""
    if value is None:
        return None
    if isinstance(value, dict):
        comp = value.get("composite")
        if comp is not None and not isinstance(comp, (str, bytes)):
            return _flatten(comp)
        if isinstance(comp, (str, bytes)) and comp:
            return _flatten(imageio.load_image(comp))
        bg, layers = value.get("background"), [x for x in (value.get("layers") or []) if x is not None]
        if bg is None and not layers:
            return None
        if isinstance(bg, (str, bytes)):
            bg = imageio.load_image(bg)
        first = bg if bg is not None else layers[0]
        base = _flatten(bg) if bg is not None else np.full((*np.asarray(first).shape[:2], 3), 255, np.uint8)
        for layer in layers:
            base = _over(base, imageio.load_image(layer) if isinstance(layer, (str, bytes)) else layer)
        return base
    if isinstance(value, np.ndarray):
        return _flatten(value)
    return _flatten(imageio.load_image(value))


def read(value: Any) -> Drawing | None:
    image = flatten_value(value)
    if image is None:
        return None
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.int16)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    paper = (lab[..., 0] >= PAPER_L) & (chroma < PAPER_CHROMA)
    dark = (lab[..., 0] < INK_L) & (chroma < INK_CHROMA)
    radius = THICK * max(dark.shape)
    depth = cv2.distanceTransform(dark.astype(np.uint8), cv2.DIST_L2, 3)
    core = depth > radius
    # a pen's sharp corner is thick for a pixel or two; a painted garment is thick over an area
    core = drop_specks(core, max(9, int(4 * radius * radius))).astype(np.uint8)
    r = int(np.ceil(radius)) + 1
    thick = dark & (cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0)
    ink = dark & ~thick
    near_ink = cv2.dilate(ink.astype(np.uint8), np.ones((2 * FRINGE + 1,) * 2, np.uint8)) > 0
    colour = (~paper & ~ink & ~(near_ink & (chroma < INK_CHROMA))) | thick
    # single stray pixels (JPEG ringing, a slipped click) are not paint
    colour = cv2.morphologyEx(colour.astype(np.uint8), cv2.MORPH_OPEN,
                              cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))) > 0
    return Drawing(image, ink, colour)
