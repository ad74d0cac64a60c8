"""Self-supervised training of the learned restorer on clean catalogue photos.

    python -m pipeline.restore train SOURCE --out DIR [--steps N] [--minutes M]

Pairs come from the occlusion synthesis (`data.build_cache`, cached in DIR).
Each step: stage 1 against the flattened colour map (L2); stage 2 against the
clean crop (L2 in the hole + a little on the whole mix), the frozen
EfficientNet feature loss, the patch discriminator, the background-patch loss
and an alpha prior; then one discriminator step. A checkpoint is written every
--every minutes and at the end (step_XXXXXX.pt, copied to latest.pt); running
the same command again resumes from DIR/latest.pt.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT, VERSION = "drape-restore", 1
KEEP = 3  # versioned checkpoints kept besides latest.pt


@dataclass
class Weights:
    rec: float = 1.0
    ssim: float = 0.2  # added after step 226: L2 alone had left SSIM below Telea's (docs/restoration.md)
    texture: float = 1.0
    feature: float = 0.05
    adv: float = 0.005
    bg_patch: float = 0.05
    alpha: float = 0.05


def save(path: Path, model, disc=None, opt_g=None, opt_d=None, step: int = 0, extra: dict | None = None) -> Path:
    """Write atomically: a header (JSON text: format, version, config, step, …) and the state dicts."""
    header = {"format": FORMAT, "version": VERSION, "config": model.cfg.to_dict(), "step": int(step), **(extra or {})}
    blob = {"header": json.dumps(header), "model": model.state_dict()}
    for key, obj in (("disc", disc), ("opt_g", opt_g), ("opt_d", opt_d)):
        if obj is not None:
            blob[key] = obj.state_dict()
    return _write(blob, path)


def _write(blob: dict, path: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def attach_refiner(path: Path, refiner, info: dict) -> Path:
    """Add (or replace) the stage-3 refiner in a stage 1–2 checkpoint, atomically."""
    import torch

    blob = torch.load(path, map_location="cpu", weights_only=True)
    header = json.loads(blob["header"])
    header["refiner"] = {"config": refiner.cfg.to_dict(), **info}
    blob["header"], blob["refiner"] = json.dumps(header), refiner.state_dict()
    return _write(blob, path)


def load(path: str | os.PathLike):
    """(header dict, Restorer in eval mode, raw blob). Refuses files that are not our checkpoints."""
    import torch

    from .model import Config, Restorer

    blob = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code from a downloaded file
    header = json.loads(blob.get("header", "{}")) if isinstance(blob, dict) else {}
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a restorer checkpoint (no '{FORMAT}' header)")
    if header.get("version", 0) > VERSION:
        raise ValueError(f"{path}: checkpoint version {header['version']} is newer than this code ({VERSION})")
    model = Restorer(Config(**header["config"]))
    model.load_state_dict(blob["model"])
    return header, model.eval(), blob


def to_tensor(batch):
    """uint8 N×H×W×3 / bool N×H×W arrays -> float tensors in [-1, 1] / {0, 1}."""
    import torch

    from .model import to_tensor as img

    occ, clean, hole, garment = batch
    msk = lambda a: torch.from_numpy(a.astype(np.float32))[:, None]  # noqa: E731
    return img(occ), img(clean), msk(hole), msk(garment)


def texture_target(clean_u8: np.ndarray, cells: int):
    from .data import texture_map
    from .model import to_tensor as img

    return img(np.stack([texture_map(c, cells) for c in clean_u8]))


class Trainer:
    def __init__(self, cfg, weights: Weights | None = None, lr: float = 2e-4, feature=None):
        import torch

        from . import losses
        from .model import PatchD, Restorer

        self.cfg, self.w, self.L = cfg, weights or Weights(), losses
        self.model, self.disc = Restorer(cfg), PatchD()
        self.feature = feature if feature is not None else losses.FeatureLoss()
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.999))
        self.step = 0

    def losses(self, batch, tex_target):
        """Generator-side loss terms (tensors) and the outputs, for one batch."""
        occ, clean, hole, garment = to_tensor(batch)
        o = self.model(occ, hole)
        L, w = self.L, self.w
        terms = {
            "rec": L.reconstruction(o["out"], o["mix"], clean, hole),
            "ssim": L.ssim_loss(o["out"], clean, hole),
            "texture": L.masked_l2(o["texture"], tex_target, garment.clamp_min(0.25)),
            "feature": self.feature(o["out"], clean),
            "adv": L.g_adversarial(self.disc(o["out"], hole)),
            "bg_patch": L.background_patches(o["bg"], occ, hole, 1 - garment),
            "alpha": L.alpha_loss(o["alpha"], garment),
        }
        total = sum(getattr(w, k) * v for k, v in terms.items())
        return total, terms, o, (clean, hole)

    def train_step(self, batch) -> dict[str, float]:
        import torch

        self.model.train()
        total, terms, o, (clean, hole) = self.losses(batch, texture_target(batch[1], self.cfg.cells))
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        fake = o["out"].detach()
        d = self.L.d_loss(self.disc(clean, hole), self.disc(fake, hole))
        self.opt_d.zero_grad(set_to_none=True)
        d.backward()
        self.opt_d.step()
        self.step += 1
        with torch.no_grad():
            return {"total": float(total), **{k: float(v) for k, v in terms.items()}, "d": float(d)}

    def evaluate(self, batch) -> float:
        """Hole L2 of the pasted result on a fixed batch: the number the checkpoints are compared by."""
        import torch

        self.model.eval()
        occ, clean, hole, _ = to_tensor(batch)
        with torch.no_grad():
            return float(self.L.masked_l2(self.model.fill(occ, hole), clean, hole))

    def save(self, path: Path, extra: dict) -> Path:
        return save(path, self.model, self.disc, self.opt_g, self.opt_d, self.step, extra)

    def resume(self, path: Path) -> dict:
        header, model, blob = load(path)
        self.model.load_state_dict(model.state_dict())
        for key, obj in (("disc", self.disc), ("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            if key in blob:
                obj.load_state_dict(blob[key])
        self.step = int(header["step"])
        return header


def _checkpoint(trainer: Trainer, out: Path, extra: dict) -> None:
    path = trainer.save(out / f"step_{trainer.step:06d}.pt", extra)
    shutil.copyfile(path, out / "latest.tmp")
    os.replace(out / "latest.tmp", out / "latest.pt")
    for old in sorted(out.glob("step_*.pt"))[:-KEEP]:
        old.unlink()


def main(argv: list[str] | None = None) -> int:
    from ...config import DEFAULT_HOME

    ap = argparse.ArgumentParser(prog="python -m pipeline.restore train", description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="folder of clean catalogue photos (searched recursively)")
    ap.add_argument("--out", type=Path, default=DEFAULT_HOME / "models" / "restore", help="checkpoints go here")
    ap.add_argument("--pairs", type=Path, help="pair cache (.npz); default OUT/pairs-SIZE.npz, built if missing")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--width", type=int, default=24)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2000, help="stop at this many steps in total")
    ap.add_argument("--minutes", type=float, default=55.0, help="and stop after this much wall time in this run")
    ap.add_argument("--every", type=float, default=4.0, help="minutes between checkpoints")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--limit", type=int, help="use only the first N photos (smoke runs)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fresh", action="store_true", help="ignore OUT/latest.pt and start over")
    args = ap.parse_args(argv)

    import torch
    from tqdm import tqdm

    from .data import Pairs, build_cache
    from .model import Config

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = args.out.expanduser()
    pairs_path = args.pairs or out / f"pairs-{args.size}{'-' + str(args.limit) if args.limit else ''}.npz"
    if not pairs_path.exists():
        build_cache(args.source, pairs_path, args.size, seed=args.seed, limit=args.limit)
    pairs = Pairs(pairs_path)
    trainer = Trainer(Config(size=args.size, width=args.width), lr=args.lr)
    seconds = 0.0
    if (out / "latest.pt").exists() and not args.fresh:
        header = trainer.resume(out / "latest.pt")
        seconds = float(header.get("train_seconds", 0.0))
        print(f"resumed from {out / 'latest.pt'} at step {trainer.step}")
    rng = np.random.default_rng([args.seed, trainer.step])  # a resumed run does not replay the same batches
    held = pairs.batch(np.arange(min(len(pairs), 16)))  # fixed: comparable across checkpoints (training data)
    start = last = time.monotonic()
    bar = tqdm(total=args.steps, initial=trainer.step, unit="step", mininterval=10)
    smooth: dict[str, float] = {}
    while trainer.step < args.steps and time.monotonic() - start < args.minutes * 60:
        logs = trainer.train_step(pairs.batch(rng.integers(len(pairs), size=args.batch), rng))
        smooth = {k: 0.95 * smooth.get(k, v) + 0.05 * v for k, v in logs.items()}
        bar.update(1)
        bar.set_postfix(rec=f"{smooth['rec']:.4f}", tex=f"{smooth['texture']:.4f}", refresh=False)
        now = time.monotonic()
        if now - last > args.every * 60:
            _checkpoint(trainer, out, {"train_seconds": seconds + now - start, "losses": smooth,
                                       "held_hole_l2": trainer.evaluate(held), "source": str(args.source)})
            tqdm.write(f"step {trainer.step}: " + json.dumps({k: round(v, 4) for k, v in smooth.items()}))
            last = now
    _checkpoint(trainer, out, {"train_seconds": seconds + time.monotonic() - start, "losses": smooth,
                               "held_hole_l2": trainer.evaluate(held), "source": str(args.source)})
    bar.close()
    print(f"step {trainer.step}; checkpoint {out / 'latest.pt'}")
    return 0
