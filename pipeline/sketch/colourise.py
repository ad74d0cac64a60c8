"""The colouriser (seed 003): a small Pix2Pix, sketch + sparse colour hints → a photo-like garment.

Generator: a U-Net (5 levels; 64 px by default) over 5 input planes: the pen (1),
the hint colours (3, zero where nothing is painted) and where hints are (1).
Discriminator: a PatchGAN over (input planes, photo). Small on purpose: it
trains on two CPU cores in minutes (docs/sketch.md); the seed paper's one
model per category is a `--category` filter on the training source here.

A trained folder holds `colouriser.pt` (weights + the config they need) and
`train.json` (its history). `Colouriser.load(folder)` is what search uses.
"""
from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .canvas import Drawing
from .strokes import square_crop

WEIGHTS = "colouriser.pt"
MARGIN = 0.04  # as engine.garment_crop frames catalogue photos: inputs at inference are framed like training


@dataclass
class Config:
    size: int = 64
    ngf: int = 32
    ndf: int = 32
    in_ch: int = 5
    version: int = 1


def framed(image: np.ndarray, drawing: Drawing) -> np.ndarray:
    """`image` (H×W×C, the drawing's size) cut to the drawing's strokes and padded square, as `encode` sees it."""
    frame = drawing.outline | drawing.colour
    if not frame.any():
        return image
    fill = 255 if image.dtype == np.uint8 else 0
    return np.stack([square_crop(image[..., i], frame, MARGIN, fill) for i in range(image.shape[2])], axis=2)


def encode(drawing: Drawing, size: int) -> np.ndarray:
    """A drawing → the generator's 5 planes (float32 5×size×size), framed on its own strokes."""
    planes = np.concatenate([drawing.outline[..., None].astype(np.float32),
                             drawing.image.astype(np.float32) / 255.0 * drawing.colour[..., None],
                             drawing.colour[..., None].astype(np.float32)], axis=2)
    planes = framed(planes, drawing)  # OpenCV resizes at most 4 channels at once
    planes = np.concatenate([cv2.resize(planes[..., :4], (size, size), interpolation=cv2.INTER_AREA),
                             cv2.resize(planes[..., 4], (size, size), interpolation=cv2.INTER_AREA)[..., None]],
                            axis=2)
    hint = planes[..., 4:5] > 0.25
    rgb = np.where(hint, planes[..., 1:4] / np.maximum(planes[..., 4:5], 1e-3), 0.0)  # un-premultiply the blur
    out = np.concatenate([np.clip(planes[..., :1] * 2.0, 0, 1), rgb * 2.0 - hint, hint], axis=2)
    return out.transpose(2, 0, 1).astype(np.float32)


def build(cfg: Config):
    import torch
    from torch import nn

    def down(i, o, norm=True):
        layers = [nn.Conv2d(i, o, 4, 2, 1, bias=not norm)]
        if norm:
            layers.append(nn.InstanceNorm2d(o, affine=True))
        return nn.Sequential(*layers, nn.LeakyReLU(0.2, inplace=True))

    def up(i, o, dropout=False):
        layers = [nn.ConvTranspose2d(i, o, 4, 2, 1, bias=False), nn.InstanceNorm2d(o, affine=True)]
        if dropout:
            layers.append(nn.Dropout(0.3))
        return nn.Sequential(*layers, nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            g = cfg.ngf
            chans = [g, g * 2, g * 4, g * 8, g * 8]
            self.downs = nn.ModuleList([down(cfg.in_ch, chans[0], norm=False)] +
                                       [down(chans[i - 1], chans[i]) for i in range(1, len(chans))])
            self.ups = nn.ModuleList([up(chans[-1], chans[-2], dropout=True)] +
                                     [up(chans[i] * 2, chans[i - 1], dropout=i >= 3)
                                      for i in range(len(chans) - 2, 0, -1)])
            self.out = nn.Sequential(nn.ConvTranspose2d(chans[0] * 2, 3, 4, 2, 1), nn.Tanh())

        def forward(self, x):
            skips = []
            for d in self.downs:
                x = d(x)
                skips.append(x)
            x = self.ups[0](skips[-1])
            for u, s in zip(self.ups[1:], reversed(skips[1:-1])):
                x = u(torch.cat([x, s], 1))
            return self.out(torch.cat([x, skips[0]], 1))

    class Patch(nn.Module):
        def __init__(self):
            super().__init__()
            d = cfg.ndf
            self.net = nn.Sequential(down(cfg.in_ch + 3, d, norm=False), down(d, d * 2), down(d * 2, d * 4),
                                     nn.Conv2d(d * 4, d * 4, 3, 1, 1), nn.InstanceNorm2d(d * 4, affine=True),
                                     nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(d * 4, 1, 3, 1, 1))

        def forward(self, cond, img):
            return self.net(torch.cat([cond, img], 1))

    return UNet(), Patch()


class Colouriser:
    """Inference only: the trained generator, one drawing at a time (thread-safe)."""

    def __init__(self, generator, cfg: Config, threads: int = 2, meta: dict[str, Any] | None = None):
        self.g, self.cfg, self.threads, self.meta = generator.eval(), cfg, threads, meta or {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: str | Path, threads: int = 2) -> "Colouriser":
        import torch

        path = Path(folder).expanduser()
        path = path / WEIGHTS if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"no trained colouriser at {path}; train one with: "
                                    f"python -m pipeline.sketch train SOURCE --out {path.parent}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        cfg = Config(**state["config"])
        g, _ = build(cfg)
        g.load_state_dict(state["generator"])
        meta_file = path.parent / "train.json"
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        return cls(g, cfg, threads, meta)

    def colourise(self, drawing: Drawing, out_side: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(RGB uint8 photo-like image, bool mask of its garment pixels: the non-white ones)."""
        import torch

        x = torch.from_numpy(encode(drawing, self.cfg.size))[None]
        with self._lock, torch.inference_mode():
            torch.set_num_threads(self.threads)
            y = self.g(x)[0].numpy().transpose(1, 2, 0)
        rgb = ((y + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
        rgb = cv2.resize(rgb, (out_side, out_side), interpolation=cv2.INTER_CUBIC)
        mask = rgb.min(axis=2) < 235
        return rgb, mask


def save(path: Path, generator, discriminator, cfg: Config, extra: dict[str, Any]) -> None:
    """Atomic: a run killed mid-save leaves the previous checkpoint loadable."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save({"config": asdict(cfg), "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(), **extra}, tmp)
    tmp.replace(path)
