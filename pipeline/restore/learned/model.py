"""Two generators and a patch discriminator, small enough to train on a 2-core CPU.

Stage 1 (`TextureNet`) sees the holed image and predicts the garment's
flattened colour map (`data.texture_map`) at 16×16 cells: which colour belongs
where under the occluder, nothing finer. Stage 2 (`LayeredNet`) sees the holed
image, that map and the hole, encodes once, and decodes twice: a foreground
(garment) layer and a background layer, mixed by a predicted alpha. Only the
hole is taken from the mix; everything else is the input.
All tensors are N×C×H×W in [-1, 1]; the hole is N×1×H×W in {0, 1}.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Config:
    size: int = 128  # the side the model runs at; crops are resized to it
    width: int = 24  # channels at 1/2 resolution; ×2 at 1/4, ×4 at 1/8
    blocks: int = 3  # dilated residual blocks in the bottleneck (receptive field for wide holes)
    cells: int = 16  # stage-1 map resolution

    def to_dict(self) -> dict:
        return asdict(self)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 H×W×C (one image) or N×H×W×C -> float N×C×H×W in [-1, 1], the networks' range."""
    a = torch.from_numpy(np.asarray(images, np.float32))
    return (a[None] if a.ndim == 3 else a).permute(0, 3, 1, 2) / 127.5 - 1


def to_image(t: torch.Tensor) -> np.ndarray:
    """The first image of an N×C×H×W tensor in [-1, 1] -> uint8 H×W×C."""
    return ((t[0].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)


def _conv(cin: int, cout: int, k: int = 3, s: int = 1, d: int = 1) -> nn.Sequential:
    # No normalisation layer: GroupNorm doubled a CPU step, and batches of 8 are too small for BatchNorm.
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, padding=d * (k // 2), dilation=d), nn.SiLU())


def pyramid_fill(image, hole, levels: int | None = None):
    """Fill the hole by push-pull: mask-weighted averages down a pyramid, then coarse-to-fine back up.

    A smooth, Telea-like guess in a few pooling ops. Both stages predict a
    residual over it, so an untrained (zero-residual) model already restores as
    well as diffusion does and training only has to add what diffusion misses —
    which matters when a CPU allows a few hundred steps.
    """
    known = 1 - hole
    imgs, ws = [image * known], [known]
    depth = int(math.log2(min(image.shape[-2:])))
    levels = depth - 1 if levels is None else min(levels, depth)  # coarsest level 2–4 px: spans any hole
    for _ in range(levels):
        imgs.append(F.avg_pool2d(imgs[-1], 2))
        ws.append(F.avg_pool2d(ws[-1], 2))
    out = imgs[-1] / ws[-1].clamp_min(1e-6)
    for img, w in zip(reversed(imgs[:-1]), reversed(ws[:-1])):
        up = F.interpolate(out, size=img.shape[-2:], mode="bilinear", align_corners=False)
        mean = img / w.clamp_min(1e-6)
        conf = (w * 4).clamp(max=1.0)  # a pixel a quarter known is trusted; emptier ones take the coarser level
        out = conf * mean + (1 - conf) * up
    return image * known + out * hole


class _Res(nn.Module):
    def __init__(self, c: int, d: int):
        super().__init__()
        self.a, self.b = _conv(c, c, d=d), _conv(c, c)

    def forward(self, x):
        return x + self.b(self.a(x))


class TextureNet(nn.Module):
    """Holed RGB + hole -> 3-channel colour map, predicted at `cells`² and upsampled."""

    def __init__(self, cfg: Config):
        super().__init__()
        w = cfg.width
        # The target is a 16×16-cell map: the input is pooled to 4× that first, which costs nothing.
        self.cells = cfg.cells
        layers, c, side = [_conv(4, w)], w, 4 * cfg.cells
        while side > cfg.cells:
            layers.append(_conv(c, min(c * 2, 4 * w), s=2))
            c, side = min(c * 2, 4 * w), side // 2
        # Wide dilations: a cell under the middle of an arm has to see colour well beyond it.
        layers += [_Res(c, 2), _Res(c, 4)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c, 3, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, filled, hole):
        x = torch.cat([filled, hole], 1)
        x = F.adaptive_avg_pool2d(x, 4 * self.cells)  # = avg_pool(size / 64) at the trained size
        base = F.adaptive_avg_pool2d(filled, self.cells)
        y = (base + self.head(self.body(x))).clamp(-1, 1)
        return F.interpolate(y, size=filled.shape[-2:], mode="bilinear", align_corners=False)


class _Decoder(nn.Module):
    def __init__(self, w: int, out: int):
        super().__init__()
        self.up3, self.fuse3 = _conv(4 * w, 2 * w), _conv(4 * w, 2 * w)  # 1/8 -> 1/4, + skip
        self.up2, self.fuse2 = _conv(2 * w, w), _conv(2 * w, w)  # 1/4 -> 1/2, + skip
        # Full resolution only through a pixel shuffle: a conv at 128² was most of a CPU step.
        self.head = nn.Conv2d(w, 4 * out, 3, padding=1)
        nn.init.zeros_(self.head.weight)  # residual layers start at zero: the model starts as the push-pull fill
        nn.init.zeros_(self.head.bias)

    def forward(self, z, s2, s1):
        up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
        x = self.fuse3(torch.cat([self.up3(up(z)), s2], 1))
        x = self.fuse2(torch.cat([self.up2(up(x)), s1], 1))
        return F.pixel_shuffle(self.head(x), 2)


class LayeredNet(nn.Module):
    """Holed RGB + stage-1 map + hole -> (mix, foreground, background, alpha)."""

    def __init__(self, cfg: Config):
        super().__init__()
        w = cfg.width
        self.e1 = _conv(28, w)  # 1/2, from a pixel unshuffle: no conv runs at full resolution
        self.e2 = _conv(w, 2 * w, s=2)  # 1/4
        self.e3 = _conv(2 * w, 4 * w, s=2)  # 1/8
        self.mid = nn.Sequential(*[_Res(4 * w, d) for d in (2, 4, 8, 2, 4, 8)[: cfg.blocks]])
        self.fg = _Decoder(w, 4)  # RGB + alpha logit: alpha is the garment's extent, so it rides with it
        self.bg = _Decoder(w, 3)

    def forward(self, filled, texture, hole):
        s1 = self.e1(F.pixel_unshuffle(torch.cat([filled, texture, hole], 1), 2))
        s2 = self.e2(s1)
        z = self.mid(self.e3(s2))
        f = self.fg(z, s2, s1)
        fg, alpha = (filled + f[:, :3]).clamp(-1, 1), torch.sigmoid(f[:, 3:])
        bg = (filled + self.bg(z, s2, s1)).clamp(-1, 1)
        return alpha * fg + (1 - alpha) * bg, fg, bg, alpha


class PatchD(nn.Module):
    """70px-style patch discriminator, shrunk: one real/fake score per ~22 px patch, conditioned on the hole."""

    def __init__(self, w: int = 32):
        super().__init__()
        sn = nn.utils.spectral_norm  # keeps the GAN term tame at the small batch sizes a CPU allows
        self.net = nn.Sequential(
            sn(nn.Conv2d(4, w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.2),
            sn(nn.Conv2d(4 * w, 1, 3, 1, 1)),
        )

    def forward(self, image, hole):
        return self.net(torch.cat([image, hole], 1))


class Restorer(nn.Module):
    """Both stages; `forward` returns everything the losses need, `fill` only the pasted result."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.texture = TextureNet(cfg)
        self.layered = LayeredNet(cfg)

    def forward(self, image, hole):
        filled = pyramid_fill(image, hole)  # the occluder's pixels never reach the networks
        tex = self.texture(filled, hole)
        # Stage 2 is guided by the map, not trained through it: stage 1 keeps its own target.
        mix, fg, bg, alpha = self.layered(filled, tex.detach(), hole)
        out = mix * hole + image * (1 - hole)
        return {"out": out, "mix": mix, "fg": fg, "bg": bg, "alpha": alpha, "texture": tex}

    @torch.no_grad()
    def fill(self, image, hole):
        return self.forward(image, hole)["out"]
