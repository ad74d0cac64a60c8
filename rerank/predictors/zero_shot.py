"""Zero-shot attributes: the image vector against text prompts, in a CLIP-style joint space.

Works only when the stored shape vectors come from an embedder with a text
tower (FashionCLIP: `embed_text(texts) -> N×dim` unit rows, the same space as
its image vectors). Each attribute value becomes one prompt (the vocabulary's
"text" phrase inside its "prompt" template); the softmax over the values of
one attribute, at CLIP's logit scale, is the confidence. Prompt vectors are
computed once per predictor, so per-query cost is one small matrix product.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from pipeline.types import Features

from . import Prediction, register
from ..vocab import Vocabulary

LOGIT_SCALE = 100.0  # CLIP's learned temperature (exp(4.6052)); FashionCLIP keeps it


class ZeroShot:
    name = "zero-shot"

    def __init__(self, text_embedder: Any, vocab: Vocabulary, attributes: Sequence[str] | None = None,
                 logit_scale: float = LOGIT_SCALE):
        self.vocab, self.logit_scale = vocab, float(logit_scale)
        self.attributes = tuple(a for a in (attributes or vocab.names()) if a in vocab)
        self.values: dict[str, list[str]] = {}
        prompts: list[str] = []
        for attr in self.attributes:
            spec = vocab[attr]
            self.values[attr] = list(spec.values)
            prompts += [vocab.prompt.format(spec.text.get(v, v)) for v in spec.values]
        vectors = np.asarray(text_embedder.embed_text(prompts), np.float32) if prompts else np.zeros((0, 0), np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.dim = vectors.shape[1] if len(vectors) else 0
        self.text: dict[str, np.ndarray] = {}
        start = 0
        for attr in self.attributes:
            n = len(self.values[attr])
            self.text[attr] = vectors[start:start + n]
            start += n

    def predict(self, features: Sequence[Features]) -> list[dict[str, Prediction]]:
        out: list[dict[str, Prediction]] = [{} for _ in features]
        if not features:
            return out
        x = np.stack([f.shape for f in features]).astype(np.float32)
        if x.shape[1] != self.dim:
            raise ValueError(f"zero-shot: image vectors have {x.shape[1]} dims, the text tower {self.dim}: "
                             "the index must be built with the same embedder as the text prompts")
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        for attr in self.attributes:
            z = self.logit_scale * (x @ self.text[attr].T)
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            for slot, row in zip(out, p):
                i = int(row.argmax())
                slot[attr] = Prediction(self.values[attr][i], float(row[i]))
        return out


@register("zero-shot")
def _make(arg: str | None = None, engine: Any = None, vocab: Any = None) -> ZeroShot:
    embedder = engine.embedder if engine is not None else None
    if not callable(getattr(embedder, "embed_text", None)):
        name = engine.settings.embedder if engine is not None else "?"
        raise ValueError(f"zero-shot attributes need an embedder with a text tower (fashion-clip); this engine uses {name!r}")
    attributes = [a.strip() for a in arg.split("+")] if arg else None  # e.g. zero-shot:pattern+sleeve
    return ZeroShot(embedder, vocab, attributes)
