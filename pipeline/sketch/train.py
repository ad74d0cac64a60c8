"""Training the colouriser on a catalogue: (pseudo-sketch of a photo → that photo) pairs.

The pairs come from `pseudo.draw` (no global jitter, so sketch and photo stay
aligned) on the catalogue's garment crops; `variants` drawings per photo are
made once and reused with horizontal flips. Loss: LSGAN on a PatchGAN plus
λ·L1 (Pix2Pix). A checkpoint is written atomically after every epoch and a
re-run resumes from it (the same `--out`), so a killed run loses one epoch at
most. A few items are held out and their L1 is logged: it is the number to
watch, the GAN terms only say the two nets are still playing.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from . import canvas, pseudo
from .colourise import WEIGHTS, Config, build, encode, framed, save


@dataclass
class Pairs:
    x: np.ndarray  # uint8 N×5×S×S: planes in [-1, 1] stored as (v + 1)·127.5
    y: np.ndarray  # uint8 N×3×S×S: the photo


def pair(crop, mask, strength, rng, size: int) -> tuple[np.ndarray, np.ndarray]:
    sketch = pseudo.draw(crop, mask, strength, rng, pseudo.Style(affine=False))
    drawing = canvas.read(sketch)
    photo = cv2.resize(crop, (pseudo.SIDE, pseudo.SIDE), interpolation=cv2.INTER_AREA)
    target = cv2.resize(framed(photo, drawing), (size, size), interpolation=cv2.INTER_AREA)
    return encode(drawing, size), target.transpose(2, 0, 1)


def make_pairs(items, size: int, variants: int = 2, seed: int = 0, progress: bool = True) -> Pairs:
    """`items`: ItemEdges (pipeline.sketch.features) of the training photos."""
    from tqdm import tqdm

    xs, ys = [], []
    for i, e in enumerate(tqdm(items, desc="pairs", unit="img", disable=not progress, file=sys.stderr)):
        for v in range(variants):
            x, y = pair(e.crop, e.mask, e.strength, np.random.default_rng([seed, i, v]), size)
            xs.append(np.round((x + 1.0) * 127.5).astype(np.uint8))
            ys.append(y)
    return Pairs(np.stack(xs), np.stack(ys))


def _tensors(p: Pairs, idx):
    import torch

    x = torch.from_numpy(p.x[idx].astype(np.float32) / 127.5 - 1.0)
    y = torch.from_numpy(p.y[idx].astype(np.float32) / 127.5 - 1.0)
    return x, y


def train(pairs: Pairs, out: Path, epochs: int = 20, batch: int = 16, lr: float = 2e-4, l1_weight: float = 100.0,
          cfg: Config | None = None, seed: int = 0, threads: int = 2, holdout: float = 0.05,
          progress: bool = True, log: Callable[[str], None] = print) -> list[dict]:
    """Train (or resume) into `out`; returns the per-epoch history."""
    import torch
    from tqdm import tqdm

    torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / WEIGHTS
    cfg = cfg or Config(size=pairs.x.shape[-1])
    g, d = build(cfg)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    history: list[dict] = []
    start = 0
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        if Config(**state["config"]) != cfg:
            raise ValueError(f"{ckpt} was trained with {state['config']}; use another --out to change the model")
        g.load_state_dict(state["generator"])
        d.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        history, start = json.loads(state["history"]), int(state["epoch"])
        log(f"resuming {ckpt} after epoch {start}")
    n = len(pairs.x)
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_val = max(1, int(round(holdout * n))) if n > 4 and holdout > 0 else 0
    val, tr = order[:n_val], order[n_val:]
    mse = torch.nn.MSELoss()
    for epoch in range(start, epochs):
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        perm = tr[torch.randperm(len(tr), generator=gen).numpy()]
        g.train()
        d.train()
        sums = {"l1": 0.0, "g_gan": 0.0, "d": 0.0}
        t0 = time.perf_counter()
        steps = range(0, len(perm), batch)
        bar = tqdm(steps, desc=f"epoch {epoch + 1}/{epochs}", unit="step", disable=not progress, file=sys.stderr)
        for s in bar:
            x, y = _tensors(pairs, np.sort(perm[s:s + batch]))
            if torch.rand(1, generator=gen).item() < 0.5:
                x, y = x.flip(3), y.flip(3)
            fake = g(x)
            real_logit, fake_logit = d(x, y), d(x, fake.detach())
            loss_d = 0.5 * (mse(real_logit, torch.ones_like(real_logit)) + mse(fake_logit, torch.zeros_like(fake_logit)))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            fake_logit = d(x, fake)
            g_gan = mse(fake_logit, torch.ones_like(fake_logit))
            l1 = (fake - y).abs().mean()
            opt_g.zero_grad(set_to_none=True)
            (g_gan + l1_weight * l1).backward()
            opt_g.step()
            for k, v in (("l1", l1), ("g_gan", g_gan), ("d", loss_d)):
                sums[k] += float(v.detach()) * len(x)
            bar.set_postfix(l1=f"{float(l1.detach()):.3f}")
        row = {"epoch": epoch + 1, **{k: v / max(1, len(perm)) for k, v in sums.items()},
               "val_l1": _val_l1(g, pairs, val), "seconds": time.perf_counter() - t0, "pairs": int(len(tr))}
        history.append(row)
        save(ckpt, g, d, cfg, {"opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "epoch": epoch + 1,
                               "history": json.dumps(history)})
        (out / "train.json").write_text(json.dumps({"config": cfg.__dict__, "history": history}, indent=2))
        log(f"epoch {epoch + 1}: L1 {row['l1']:.4f}  held-out L1 {row['val_l1']:.4f}  ({row['seconds']:.0f} s)")
    return history


def _val_l1(g, pairs: Pairs, idx) -> float:
    import torch

    if not len(idx):
        return float("nan")
    g.eval()
    with torch.inference_mode():
        x, y = _tensors(pairs, np.sort(idx))
        return float((g(x) - y).abs().mean())
