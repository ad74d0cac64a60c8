"""Attribute predictors: one Protocol, one file per backend, a plain registry.

A predictor sees `Features` (the shape and colour vectors the index stores)
and returns, per item, {attribute: Prediction(value, confidence)}. Vectors
only, never pixels: query and catalogue then go through the same code, and
an index can be re-described (a new probe) without re-reading any image.

`Attributer` chains several and keeps, per attribute, the first prediction
that clears its threshold (assets/attributes.json, per attribute and
optionally per backend): an unconfident guess is worse than none, because
the reranker rewards agreement.

Settings.attributes picks the chain: "auto", "none", or a comma-separated list
of backend specs, e.g. "probe:clothing,colour-names,zero-shot".
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, NamedTuple, Protocol, Sequence, runtime_checkable

from pipeline.registry import Registry
from pipeline.types import Features

from ..vocab import Vocabulary, load as load_vocabulary

log = logging.getLogger("rerank.predictors")
CONFIDENCE = "_confidence"  # the one non-attribute key in a description; "_" keys are never matched


class Prediction(NamedTuple):
    value: str
    confidence: float  # in [0, 1]; comparable only within one backend


@runtime_checkable
class AttributePredictor(Protocol):
    name: str  # backend name: picks per-backend thresholds in the vocabulary
    attributes: tuple[str, ...]

    def predict(self, features: Sequence[Features]) -> list[dict[str, Prediction]]: ...


# factory(arg, engine=..., vocab=...) -> predictor; arg is the text after "name:" in a spec, or None
PREDICTORS: Registry[AttributePredictor] = Registry("attribute predictor")


class Attributer:
    """A chain of predictors; the first confident prediction per attribute wins."""

    def __init__(self, predictors: Sequence[AttributePredictor], vocab: Vocabulary):
        self.predictors, self.vocab = list(predictors), vocab

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.predictors]

    def predict(self, features: Sequence[Features]) -> list[dict[str, tuple[Prediction, str]]]:
        """Per item: {attribute: (prediction, backend)}, confident ones only."""
        out: list[dict[str, tuple[Prediction, str]]] = [{} for _ in features]
        for predictor in self.predictors:
            for slot, preds in zip(out, predictor.predict(features)):
                for attr, pred in preds.items():
                    if attr in slot or attr not in self.vocab:
                        continue
                    if pred.confidence >= self.vocab[attr].threshold_for(predictor.name):
                        slot[attr] = (pred, predictor.name)
        return out

    def describe(self, features: Sequence[Features]) -> list[dict[str, Any]]:
        """{attribute: value, ..., "_confidence": {attribute: confidence}} per item."""
        described = []
        for slot in self.predict(features):
            d: dict[str, Any] = {a: p.value for a, (p, _) in slot.items()}
            d[CONFIDENCE] = {a: round(float(p.confidence), 4) for a, (p, _) in slot.items()}
            described.append(d)
        return described


def values_only(description: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in description.items() if not k.startswith("_")}


def probe_dir(engine: Any) -> Path:
    return Path(engine.settings.home) / "probes"


def _auto(engine: Any, vocab: Vocabulary) -> list[AttributePredictor]:
    from .probe import Probe, ProbeError

    chain: list[AttributePredictor] = []
    for path in sorted(probe_dir(engine).glob("*.npz")):
        try:
            probe = Probe.load(path, vocab)
            probe.check(engine)
        except ProbeError as exc:  # a probe for another embedder is not an error in "auto"
            log.info("skipping probe %s: %s", path, exc)
            continue
        chain.append(probe)
    chain.append(PREDICTORS.create("colour-names", arg=None, engine=engine, vocab=vocab))
    if "texture" in PREDICTORS:
        chain.append(PREDICTORS.create("texture", arg=None, engine=engine, vocab=vocab))
    if callable(getattr(engine.embedder, "embed_text", None)):
        chain.append(PREDICTORS.create("zero-shot", arg=None, engine=engine, vocab=vocab))
    return chain


def build(spec: str, engine: Any, vocab: Vocabulary | None = None) -> Attributer | None:
    """The Attributer for a Settings.attributes spec, or None for "none"."""
    vocab = vocab or load_vocabulary()
    spec = (spec or "none").strip()
    if spec == "none":
        return None
    if spec == "auto":
        return Attributer(_auto(engine, vocab), vocab)
    chain = []
    for part in (p.strip() for p in spec.split(",")):
        if part:
            name, _, arg = part.partition(":")
            chain.append(PREDICTORS.create(name.strip(), arg=arg.strip() or None, engine=engine, vocab=vocab))
    return Attributer(chain, vocab)


def register(name: str) -> Callable[[Callable[..., AttributePredictor]], Callable[..., AttributePredictor]]:
    return PREDICTORS.register(name)


from . import colour_names, probe, zero_shot  # noqa: E402,F401  (register the backends)
