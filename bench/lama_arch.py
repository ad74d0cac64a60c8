"""big-lama's generator (FFCResNetGenerator) rebuilt in torch, for latency only: `python -m bench online --lama-arch`.

Follows the published big-lama config (ngf 64, 3 downsamplings, 18 FFC
ResNet blocks with 0.75 of the channels in the spectral branch, reflect
padding, sigmoid output) and LaMa's wrapper (masked image + mask in, the
known pixels copied through). With random weights it has big-lama's 51.0 M
parameters and its compute, which is all a timing needs; it is not a
loadable checkpoint definition. No ONNX here: the legacy exporter has no
rfftn, which is why public exports (Carve/LaMa-ONNX) were converted with
special care.
"""
from __future__ import annotations

import torch
from torch import nn
class FourierUnit(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(2 * c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(True))

    def forward(self, x):
        b, c, h, w = x.shape
        f = torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")
        f = torch.stack((f.real, f.imag), dim=2).view(b, 2 * c, h, w // 2 + 1)
        f = self.conv(f).view(b, c, 2, h, w // 2 + 1)
        return torch.fft.irfftn(torch.complex(f[:, :, 0], f[:, :, 1]), s=(h, w), dim=(-2, -1), norm="ortho")


class Spectral(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(cin, cout // 2, 1, bias=False), nn.BatchNorm2d(cout // 2), nn.ReLU(True))
        self.fu = FourierUnit(cout // 2)
        self.conv2 = nn.Conv2d(cout // 2, cout, 1, bias=False)

    def forward(self, x):
        x = self.conv1(x)
        return self.conv2(x + self.fu(x))


class FFC(nn.Module):
    """FFC + BN + ReLU on a (local, global) pair; ratio = global share of the channels."""
    def __init__(self, cin, cout, k, rin, rout, stride=1, pad=0, pad_mode="zeros"):
        super().__init__()
        gi, go = int(cin * rin), int(cout * rout)
        li, lo = cin - gi, cout - go
        conv = lambda a, b: nn.Conv2d(a, b, k, stride, pad, bias=False, padding_mode=pad_mode) if a and b else None
        self.l2l, self.l2g, self.g2l = conv(li, lo), conv(li, go), conv(gi, lo)
        self.g2g = Spectral(gi, go) if gi and go else None
        self.bn_l = nn.Sequential(nn.BatchNorm2d(lo), nn.ReLU(True)) if lo else None
        self.bn_g = nn.Sequential(nn.BatchNorm2d(go), nn.ReLU(True)) if go else None

    def forward(self, x):
        xl, xg = x
        ol = og = None
        if self.bn_l is not None:
            ol = self.l2l(xl) + (self.g2l(xg) if self.g2l is not None else 0)
            ol = self.bn_l(ol)
        if self.bn_g is not None:
            og = (self.l2g(xl) if self.l2g is not None else 0) + (self.g2g(xg) if self.g2g is not None else 0)
            og = self.bn_g(og)
        return ol, og


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = FFC(c, c, 3, 0.75, 0.75, pad=1, pad_mode="reflect")
        self.c2 = FFC(c, c, 3, 0.75, 0.75, pad=1, pad_mode="reflect")

    def forward(self, x):
        yl, yg = self.c2(self.c1(x))
        return x[0] + yl, x[1] + yg


class BigLaMa(nn.Module):
    """big-lama's FFCResNetGenerator (ngf 64, 3 downsamplings, 18 FFC blocks) with LaMa's image/mask wrapper."""
    def __init__(self):
        super().__init__()
        self.pad = nn.ReflectionPad2d(3)
        self.inp = FFC(4, 64, 7, 0, 0)
        self.down = nn.ModuleList([FFC(64, 128, 3, 0, 0, 2, 1), FFC(128, 256, 3, 0, 0, 2, 1), FFC(256, 512, 3, 0, 0.75, 2, 1)])
        self.blocks = nn.Sequential(*[Block(512) for _ in range(18)])
        up = []
        for c in (512, 256, 128):
            up += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        self.up = nn.Sequential(*up, nn.ReflectionPad2d(3), nn.Conv2d(64, 3, 7), nn.Sigmoid())

    def forward(self, image, mask):
        x = (self.pad(torch.cat([image * (1 - mask), mask], 1)), None)
        x = self.inp(x)
        for d in self.down:
            x = d(x)
        xl, xg = self.blocks(x)
        out = self.up(torch.cat([xl, xg], 1))
        return mask * out + (1 - mask) * image
