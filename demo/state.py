"""Per-session query cache and the shareable view settings.

The cache keeps one query's analyses (restoration on and off) so sliders
re-rank instantly and toggling restoration re-runs the models at most once.
It holds one query only: analyses are a few MB of arrays each, and a busy
server keeps one per open tab.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode

from pipeline.types import Analysis


@dataclass
class QueryCache:
    key: str = ""  # content hash of the query image
    name: str = ""
    analyses: dict[bool, Analysis] = field(default_factory=dict)  # restore flag -> analysis

    def get(self, key: str, restore: bool) -> Analysis | None:
        return self.analyses.get(bool(restore)) if key and key == self.key else None

    def put(self, key: str, name: str, restore: bool, analysis: Analysis) -> "QueryCache":
        fresh = QueryCache(key, name) if key != self.key else self
        fresh.analyses[bool(restore)] = analysis
        return fresh

    def latest(self, restore: bool) -> Analysis | None:
        return self.analyses.get(bool(restore)) or next(iter(self.analyses.values()), None)


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


# URL parameter names: short, because people paste these links into chats.
_NAMES = {"weight": "w", "top_k": "k", "restore": "restore", "a_weight": "aw", "a_restore": "ar",
          "b_weight": "bw", "b_restore": "br", "example": "q", "alpha": "alpha", "beta": "beta",
          "category": "category", "colour": "colour", "pattern": "pattern"}
FILTER_FIELDS = ("category", "colour", "pattern")  # the facets the Search tab offers as dropdowns
MAX_AB = 4.0  # slider range for α and β: only β/α matters, and 4:1 either way already saturates the order


@dataclass(frozen=True)
class View:
    """Everything a shared link restores. Defaults come from Settings."""

    weight: float = 0.5
    top_k: int = 10
    restore: bool = True
    # Compare tab: restoration off vs on at the same weight shows the patent's point.
    a_weight: float = 0.5
    a_restore: bool = False
    b_weight: float = 0.5
    b_restore: bool = True
    example: str = ""  # an example's file name; uploads are never put in a link
    alpha: float = 0.25  # attribute rerank: β·overlap/|Q| − α·rank/N
    beta: float = 1.0
    # Filters as sorted tuples: hashable, and equal views give equal links.
    category: tuple[str, ...] = ()
    colour: tuple[str, ...] = ()
    pattern: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings) -> "View":
        return cls(weight=settings.weight, top_k=min(settings.top_k, MAX_K), restore=settings.restore,
                   a_weight=settings.weight, b_weight=settings.weight,
                   alpha=min(settings.alpha, MAX_AB), beta=min(settings.beta, MAX_AB))

    def filters(self) -> dict[str, list[str]]:
        """Engine.rank's `filters`: only the fields with a value selected."""
        return {f: list(getattr(self, f)) for f in FILTER_FIELDS if getattr(self, f)}

    def to_query(self, defaults: "View | None" = None) -> str:
        """Only what differs from the defaults, so links stay short."""
        base = defaults or View()
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v != getattr(base, f.name):
                out[_NAMES[f.name]] = _fmt(v)
        return urlencode(out)

    def apply(self, params: Mapping[str, Any]) -> tuple["View", list[str]]:
        """A copy with `params` applied (URL names or field names); bad values are reported, not fatal."""
        updates: dict[str, Any] = {}
        problems: list[str] = []
        by_name = {**{v: k for k, v in _NAMES.items()}, **{k: k for k in _NAMES}}
        for raw_key, raw in params.items():
            name = by_name.get(str(raw_key).strip())
            if name is None:
                continue  # foreign parameters (e.g. from a proxy) are none of our business
            try:
                updates[name] = _parse(name, raw)
            except ValueError as exc:
                problems.append(f"{raw_key}={raw!r}: {exc}")
        return replace(self, **updates), problems


MAX_K = 50


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return ",".join(v)
    return str(v)


def filter_values(raw: Any) -> tuple[str, ...]:
    """A filter as the UI, a link ("a,b") or JSON (["a", "b"]) gives it → sorted unique tuple."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, (list, tuple, set)) else str(raw).split(",")
    return tuple(sorted({str(v).strip() for v in items if str(v).strip()}))


def _parse(name: str, raw: Any) -> Any:
    if name in FILTER_FIELDS:
        return filter_values(raw)  # whether the values exist is the handler's business (it knows the index)
    text = str(raw).strip().lower()
    if name.endswith("restore"):
        if text in ("1", "true", "on", "yes"):
            return True
        if text in ("0", "false", "off", "no"):
            return False
        raise ValueError("expected on/off")
    if name.endswith("weight"):
        v = float(text)
        if not 0.0 <= v <= 1.0:
            raise ValueError("weight must be between 0 and 1")
        return round(v, 3)
    if name in ("alpha", "beta"):
        v = float(text)
        if not 0.0 <= v <= MAX_AB:
            raise ValueError(f"{name} must be between 0 and {MAX_AB:g}")
        return round(v, 3)
    if name == "top_k":
        v = int(float(text))
        if not 1 <= v <= MAX_K:
            raise ValueError(f"top-k must be between 1 and {MAX_K}")
        return v
    if name == "example":
        if "/" in text or "\\" in text or text.startswith("."):
            raise ValueError("not an example name")
        return str(raw).strip()
    raise ValueError("unknown setting")


def parse_preset(text: str) -> dict[str, str]:
    """A preset is a link, its query string, or a JSON object: whatever people paste."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"preset is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ValueError("a JSON preset must be an object")
        return {str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in data.items()}
    query = text.split("?", 1)[1] if "?" in text else text
    return dict(parse_qsl(query.split("#", 1)[0], keep_blank_values=False))


def preset_json(view: View) -> str:
    # Empty filters and no example are left out: a preset reads as what was chosen.
    return json.dumps({_NAMES[k]: list(v) if isinstance(v, tuple) else v for k, v in asdict(view).items()
                       if (k != "example" and k not in FILTER_FIELDS) or v})
