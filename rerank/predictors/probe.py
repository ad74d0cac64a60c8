"""Linear probes: softmax heads on the stored vectors, trained on a labelled catalogue.

One file holds one head per attribute (category from sub-folder names,
anything else from CSV columns). It is a small .npz: per head a weight matrix
and bias with the feature standardisation folded in, plus a JSON header with
the vocabulary version, the embedder and the dimensions, checked at load so a
probe is never applied to vectors from another embedder. Softmax probability
is the confidence; the thresholds live in the vocabulary.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pipeline.types import Features

from . import Prediction, probe_dir, register
from ..vocab import Vocabulary

FORMAT = "drape-probe"
VERSION = 1
INPUTS = ("shape", "colour")


class ProbeError(ValueError):
    pass


@dataclass
class Head:
    classes: list[str]
    weight: np.ndarray  # C×D, acting on the concatenated raw inputs
    bias: np.ndarray  # C
    inputs: tuple[str, ...] = ("shape",)
    stats: dict[str, Any] | None = None  # training summary for the header

    def proba(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weight.T + self.bias
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)


def _inputs(features: Sequence[Any], inputs: tuple[str, ...]) -> np.ndarray:
    return np.concatenate([np.stack([getattr(f, k) for f in features]).astype(np.float32) for k in inputs], 1)


class Probe:
    name = "probe"

    def __init__(self, heads: dict[str, Head], header: dict[str, Any]):
        self.heads, self.header = heads, header
        self.attributes = tuple(heads)

    # -- use -------------------------------------------------------------------
    def predict(self, features: Sequence[Features]) -> list[dict[str, Prediction]]:
        out: list[dict[str, Prediction]] = [{} for _ in features]
        feats = list(features)
        for attr, head in self.heads.items():
            p = head.proba(_inputs(feats, head.inputs)) if feats else np.zeros((0, len(head.classes)))
            for slot, row in zip(out, p):
                i = int(row.argmax())
                slot[attr] = Prediction(head.classes[i], float(row[i]))
        return out

    def check(self, engine: Any) -> None:
        """Raise ProbeError unless this probe was trained on the engine's vectors."""
        want = {"embedder": engine.settings.embedder, "shape_dim": engine.embedder.dim,
                "colour": engine.settings.colour, "colour_dim": engine.colour.dim}
        uses_colour = any("colour" in h.inputs for h in self.heads.values())
        keys = ["embedder", "shape_dim"] + (["colour", "colour_dim"] if uses_colour else [])
        clash = [f"{k}: probe {self.header.get(k)!r}, engine {want[k]!r}" for k in keys if self.header.get(k) != want[k]]
        if clash:
            raise ProbeError(f"probe {self.header.get('path', '')} does not fit this engine ({'; '.join(clash)})")

    # -- storage -----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = dict(self.header, format=FORMAT, version=VERSION,
                      heads={a: {"classes": h.classes, "inputs": list(h.inputs), **(h.stats or {})}
                             for a, h in self.heads.items()})
        arrays = {f"{a}.weight": h.weight.astype(np.float32) for a, h in self.heads.items()}
        arrays.update({f"{a}.bias": h.bias.astype(np.float32) for a, h in self.heads.items()})
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, header=np.asarray(json.dumps(header)), **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path, vocab: Vocabulary | None = None) -> "Probe":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                arrays = {k: z[k] for k in z.files if k != "header"}
        except (OSError, ValueError, KeyError) as exc:
            raise ProbeError(f"{path} is not a readable probe: {exc}") from None
        if header.get("format") != FORMAT or int(header.get("version", 0)) > VERSION:
            raise ProbeError(f"{path}: not a {FORMAT} v{VERSION} file")
        if vocab is not None and int(header.get("vocabulary_version", 0)) != vocab.version:
            raise ProbeError(f"{path} was trained on attribute vocabulary v{header.get('vocabulary_version')}, "
                             f"this is v{vocab.version}: retrain it with python -m rerank train")
        heads = {a: Head(list(h["classes"]), arrays[f"{a}.weight"], arrays[f"{a}.bias"], tuple(h["inputs"]))
                 for a, h in header["heads"].items()}
        header["path"] = str(path)
        return cls(heads, header)


# -- training ----------------------------------------------------------------------
def _fit(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float, steps: int = 50,
         init: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, L2 on the weights, full-batch L-BFGS (the data fit in memory).

    `init` warm-starts from a neighbouring solution. One thread: a head this small gains nothing from
    more, and on a shared CPU extra threads only contend (measured 3x slower with two on a busy box).
    """
    import torch

    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    W0, b0 = init if init is not None else (np.zeros((n_classes, x.shape[1]), np.float32), np.zeros(n_classes, np.float32))
    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(b0, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(X @ W.T + b, Y) + l2 * (W * W).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    return W.detach().numpy(), b.detach().numpy()


def _split(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified held-out mask: `fraction` of every class."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        held[rng.permutation(idx)[: int(round(fraction * len(idx)))]] = True
    return held


def train_head(x: np.ndarray, labels: Sequence[str], inputs: tuple[str, ...] = ("shape",),
               l2_grid: Sequence[float] = (3e-2, 1e-2, 3e-3), seed: int = 0) -> Head:
    """Pick L2 on a stratified 20% hold-out (strongest first, each warm-starting the next), then refit on all."""
    classes = sorted(set(labels))
    y = np.asarray([classes.index(v) for v in labels], np.int64)
    mu, sd = x.mean(0), x.std(0) + 1e-6  # standardised so one L2 grid suits every embedder
    z = ((x - mu) / sd).astype(np.float32)
    held = _split(y, 0.2, seed)
    scores, fits, init = {}, {}, None
    for l2 in l2_grid:
        init = fits[l2] = _fit(z[~held], y[~held], len(classes), l2, init=init)
        W, b = init
        scores[l2] = float(((z[held] @ W.T + b).argmax(1) == y[held]).mean()) if held.any() else 0.0
    best = max(l2_grid, key=lambda v: (scores[v], v))  # ties: the stronger regulariser
    W, b = _fit(z, y, len(classes), best, init=fits[best])
    weight = W / sd  # fold the standardisation in: W·(x−μ)/σ + b = (W/σ)·x + (b − (W/σ)·μ)
    stats = {"n_train": int(len(y)), "l2": best, "holdout_accuracy": round(scores[best], 4),
             "counts": {c: int((y == i).sum()) for i, c in enumerate(classes)}}
    return Head(classes, weight.astype(np.float32), (b - weight @ mu).astype(np.float32), inputs, stats)


def train(features: Sequence[Any], labels: dict[str, list[str | None]], vocab: Vocabulary,
          signature: dict[str, Any], source: str = "", min_per_class: int = 5) -> Probe:
    """One head per attribute with at least two classes of `min_per_class` labelled examples."""
    heads = {}
    for attr, values in labels.items():
        keep = [i for i, v in enumerate(values) if v]
        counts: dict[str, int] = {}
        for i in keep:
            counts[values[i]] = counts.get(values[i], 0) + 1
        ok = {v for v, n in counts.items() if n >= min_per_class}
        keep = [i for i in keep if values[i] in ok]
        if len(ok) < 2:
            continue
        # Colour names need the colour histogram; every other attribute is about shape and texture.
        inputs = ("shape", "colour") if attr == "colour" else ("shape",)
        x = _inputs([features[i] for i in keep], inputs)
        heads[attr] = train_head(x, [values[i] for i in keep], inputs)
    if not heads:
        raise ProbeError("nothing to train: no attribute has two classes with enough labelled examples")
    header = {"vocabulary_version": vocab.version, "embedder": signature["embedder"],
              "shape_dim": signature["shape_dim"], "colour": signature["colour"],
              "colour_dim": signature["colour_dim"], "source": source,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return Probe(heads, header)


def resolve(arg: str, home_probes: Path) -> Path:
    """`probe:PATH` or `probe:NAME` (NAME.npz under <home>/probes)."""
    p = Path(arg).expanduser()
    if p.suffix == ".npz" or p.exists() or os.sep in arg:
        return p
    return home_probes / f"{arg}.npz"


@register("probe")
def _make(arg: str | None = None, engine: Any = None, vocab: Any = None) -> Probe:
    if not arg:
        raise ValueError("the probe backend needs a file or name: probe:PATH or probe:NAME (under <home>/probes)")
    path = resolve(arg, probe_dir(engine) if engine is not None else Path("."))
    if not path.exists():
        raise ProbeError(f"no probe at {path}; train one with: python -m rerank train SOURCE --out {path}")
    probe = Probe.load(path, vocab)
    if engine is not None:
        probe.check(engine)
    return probe
