"""The restorer's losses. Images are N×3×H×W in [-1, 1]; masks N×1×H×W in {0, 1}."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def masked_l2(pred, target, mask):
    """Mean squared error over the mask's pixels only (0 when the mask is empty)."""
    m = mask.expand_as(pred)
    return ((pred - target) ** 2 * m).sum() / m.sum().clamp_min(1.0)


def reconstruction(out, mix, clean, hole, whole: float = 0.1):
    """L2 in the hole, which is what gets pasted, plus a little on the whole mix so the
    foreground/background layers also have to explain the pixels they can see."""
    return masked_l2(out, clean, hole) + whole * F.mse_loss(mix, clean)


def ssim_loss(out, clean, hole, win: int = 7):
    """1 − SSIM averaged over the hole's pixels: the evaluation's measure (7×7 uniform window, per channel).

    L2 alone prefers the flat, mean-colour fill; SSIM's contrast and structure terms pay for carrying
    the variance and edges of the garment into the hole."""
    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2  # data range 2: images are in [-1, 1]
    pool = lambda a: F.avg_pool2d(a, win, 1, win // 2, count_include_pad=False)  # noqa: E731
    mu_x, mu_y = pool(out), pool(clean)
    var_x, var_y = pool(out * out) - mu_x ** 2, pool(clean * clean) - mu_y ** 2
    cov = pool(out * clean) - mu_x * mu_y
    ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return 1 - (ssim.mean(1, keepdim=True) * hole).sum() / hole.sum().clamp_min(1.0)


def d_loss(real_score, fake_score):
    """Least-squares GAN, discriminator side: real patches -> 1, generated -> 0."""
    return ((real_score - 1) ** 2).mean() + (fake_score ** 2).mean()


def g_adversarial(fake_score):
    return ((fake_score - 1) ** 2).mean()


def background_patches(gen_bg, real, hole, background, patch: int = 8, stride: int = 4):
    """Nearest-real-patch distance of the background layer inside the hole.

    For every `patch`² window of `gen_bg` that is mostly hole, the squared L2
    (per value) to its nearest window of `real` that lies wholly outside the hole
    and on background; the mean over those windows. Where a crop has fewer than
    4 such real windows (a garment filling it), any window outside the hole
    serves. Pulls the background layer towards the photo's own backdrop rather
    than a blur of garment and backdrop.
    """
    gp = F.unfold(gen_bg, patch, stride=stride)  # N × C·p² × L
    rp = F.unfold(real, patch, stride=stride)
    hole_frac = F.unfold(hole, patch, stride=stride).mean(1)  # N × L
    bg_frac = F.unfold(background * (1 - hole), patch, stride=stride).mean(1)
    terms = []
    for n in range(gen_bg.shape[0]):
        g = gp[n][:, hole_frac[n] > 0.5].T
        if not len(g):
            continue
        pool = bg_frac[n] >= 1.0
        if int(pool.sum()) < 4:
            pool = hole_frac[n] == 0
        r = rp[n][:, pool].T.detach()
        if not len(r):
            continue
        d = torch.cdist(g, r) ** 2 / g.shape[1]
        terms.append(d.min(1).values.mean())
    return torch.stack(terms).mean() if terms else gen_bg.sum() * 0.0


class FeatureLoss(nn.Module):
    """Relative L2 between early EfficientNet-Lite0 features (stem + blocks 0–1, stride 4, 24 ch), frozen.

    Early layers: edges and textures at the scale of a print, which is what a
    restored garment gets wrong; deeper layers would mostly score the category.
    """

    def __init__(self, blocks: int = 2, backbone=None):
        super().__init__()
        if backbone is None:
            from ...embed.efficientnet import _load_torch

            backbone = _load_torch(torch.get_num_threads())
        self.stem = nn.Sequential(backbone._conv_stem, backbone._bn0, backbone._swish)
        self.blocks = nn.ModuleList(list(backbone._blocks)[:blocks])
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True):  # frozen BatchNorm statistics, whatever the caller asks
        return super().train(False)

    def features(self, x):
        # Our [-1, 1] is the Lite weights' (x − 127) / 128 to within 1%.
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return x

    def forward(self, pred, target):
        with torch.no_grad():
            t = self.features(target)
        # Divided by the target's energy: raw activations are O(10), which would swamp the pixel loss.
        return F.mse_loss(self.features(pred), t) / t.pow(2).mean().clamp_min(1e-6)


def alpha_loss(alpha, garment):
    """The compositor's alpha should cover the garment: BCE against the rough garment mask."""
    return F.binary_cross_entropy(alpha.clamp(1e-4, 1 - 1e-4), garment)
