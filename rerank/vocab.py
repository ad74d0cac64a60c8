"""The attribute vocabulary: which attributes exist, their values, and when a prediction counts.

One versioned JSON file (assets/attributes.json, documented in
docs/attributes.md). Catalogue values arrive in shop spelling ("Gray",
"plaid"); `normalise` maps them onto the vocabulary so a CSV's words and a
predictor's words can be compared.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "assets" / "attributes.json"
FORMAT = "drape-attributes"


class VocabularyError(ValueError):
    pass


@dataclass(frozen=True)
class Attribute:
    name: str
    values: tuple[str, ...]
    threshold: float = 0.5
    thresholds: dict[str, float] = field(default_factory=dict)  # per predictor backend
    weight: float = 1.0  # what one agreement on this attribute adds to the rerank overlap
    text: dict[str, str] = field(default_factory=dict)  # zero-shot phrases
    synonyms: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. colour's palette

    def threshold_for(self, backend: str) -> float:
        return float(self.thresholds.get(backend, self.threshold))

    def normalise(self, value: Any) -> str | None:
        """The vocabulary's spelling of `value`, or None if it is not one of the values."""
        if value is None:
            return None
        v = " ".join(str(value).strip().lower().replace("_", " ").split())
        if v in self.values:
            return v
        v = self.synonyms.get(v, v)
        return v if v in self.values else None


@dataclass(frozen=True)
class Vocabulary:
    version: int
    attributes: dict[str, Attribute]
    prompt: str = "a product photo of {}"
    path: str = ""

    def __getitem__(self, name: str) -> Attribute:
        return self.attributes[name]

    def __contains__(self, name: str) -> bool:
        return name in self.attributes

    def names(self) -> list[str]:
        return list(self.attributes)

    def normalise(self, name: str, value: Any) -> str | None:
        return self.attributes[name].normalise(value) if name in self.attributes else None

    def weight(self, name: str) -> float:
        """Rerank weight; attributes outside the vocabulary (extra CSV columns) count 1."""
        return self.attributes[name].weight if name in self.attributes else 1.0


def parse(data: dict[str, Any], path: str = "") -> Vocabulary:
    if data.get("format") != FORMAT or not isinstance(data.get("attributes"), dict):
        raise VocabularyError(f"{path or 'vocabulary'}: not a {FORMAT!r} file")
    attrs = {}
    for name, spec in data["attributes"].items():
        values = tuple(str(v) for v in spec.get("values", ()))
        if len(values) < 2 or len(set(values)) != len(values):
            raise VocabularyError(f"{path}: attribute {name!r} needs two or more distinct values")
        known = {"values", "threshold", "thresholds", "weight", "text", "synonyms"}
        weight = float(spec.get("weight", 1.0))
        if weight < 0:
            raise VocabularyError(f"{path}: attribute {name!r} has a negative weight")
        attrs[name] = Attribute(
            name, values, float(spec.get("threshold", 0.5)), dict(spec.get("thresholds", {})), weight,
            dict(spec.get("text", {})), {k.lower(): v for k, v in spec.get("synonyms", {}).items()},
            {k: v for k, v in spec.items() if k not in known})
    return Vocabulary(int(data.get("version", 1)), attrs, str(data.get("prompt", "a product photo of {}")), path)


@lru_cache(maxsize=8)
def load(path: str | Path | None = None) -> Vocabulary:
    p = Path(path) if path else DEFAULT_PATH
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise VocabularyError(f"attribute vocabulary {p}: {exc}") from None
    return parse(data, str(p))
