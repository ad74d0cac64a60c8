"""Profiles: which backend each stage uses unless the user names one, and the visible fallback.

- offline: classical parser + Telea + EfficientNet-Lite0; needs no download.
- online: SegFormer clothes parser at 320 px + Telea + FashionCLIP; models from the HF hub;
  a query in under a second on 2 CPU cores.
- online-hq: SegFormer at its own 512 px + LaMa + FashionCLIP, for a GPU or batch work.
- paper: SegFormer (or detectron2 Mask R-CNN when configured) + Telea + Keras
  InceptionResNetV2, the patent's embedder.

A stage the user set (argument, environment, config file) is never replaced by
the profile. When a backend cannot be had (offline mode and not cached, no
network, missing package), the engine builds the offline backend for that
stage instead and says so: a logged warning and a line in `engine.notices`
that the app and the CLI show. Pre-download for offline use with
`python -m pipeline.profiles download --profile online`.
"""
from __future__ import annotations

import argparse
import inspect
import logging
import sys
from typing import Any

from . import hub
from .config import Settings
from .embed import EMBEDDERS
from .parse import PARSERS
from .restore import INPAINTERS

log = logging.getLogger("pipeline.profiles")

STAGES = ("parser", "inpainter", "embedder")
# A profile sets stages and, where one matters for its speed, other settings; all yield to explicit ones.
# "online" fits a 2-core CPU (HF Spaces' free tier): SegFormer at 320 px and Telea keep a query under 1 s
# (docs/models.md); "online-hq" is the same models at full size with LaMa, for a GPU or batch work.
PROFILES: dict[str, dict[str, Any]] = {
    "offline": {"parser": "classical", "inpainter": "telea", "embedder": "efficientnet-lite0"},
    "online": {"parser": "segformer", "inpainter": "telea", "embedder": "fashion-clip", "parse_size": 320},
    "online-hq": {"parser": "segformer", "inpainter": "lama", "embedder": "fashion-clip"},
    "paper": {"parser": "segformer", "inpainter": "telea", "embedder": "inception-resnet-v2"},
}
FALLBACK = PROFILES["offline"]
REGISTRIES = {"parser": PARSERS, "inpainter": INPAINTERS, "embedder": EMBEDDERS}
# What a failed fetch looks like; a bad configuration (ValueError, FileNotFoundError) is not hidden.
UNAVAILABLE = (hub.HubUnavailable, ImportError)


def resolve(settings: Settings) -> Settings:
    """A copy of `settings` with every stage the user did not set taken from its profile."""
    chosen = dict(PROFILES[settings.profile])
    if settings.profile == "paper" and settings.detectron2_config and settings.detectron2_weights:
        chosen["parser"] = "detectron2"  # the patent's Mask R-CNN, when the user has one
    explicit = settings.model_fields_set
    return settings.model_copy(update={k: v for k, v in chosen.items() if k not in explicit})


def backend_kwargs(stage: str, name: str, settings: Settings) -> dict[str, Any]:
    """The settings a backend's constructor accepts: threads, model cache, model id, detectron2 files."""
    factory = REGISTRIES[stage]._factories[REGISTRIES[stage].check(name)]
    params = inspect.signature(factory).parameters
    offer: dict[str, Any] = {"threads": settings.threads, "cache_dir": settings.home / "models",
                             "model": settings.models.get(name)}
    if name == "segformer" and settings.parse_size:
        offer["size"] = settings.parse_size
    if name == "learned" and settings.restore_model:
        offer["model"] = settings.restore_model
    if name == "detectron2":
        offer.update(config=settings.detectron2_config, weights=settings.detectron2_weights)
    return {k: v for k, v in offer.items() if k in params and v is not None}


def build(engine: Any, stage: str) -> Any:
    """Build `engine.settings.<stage>`'s backend, or the offline one with a notice if it cannot be had.

    On fallback `engine.settings` is replaced by a copy naming the backend really
    in use, so the index signature and the UI tell the truth.
    """
    settings = engine.settings
    name = getattr(settings, stage)
    registry = REGISTRIES[stage]
    try:
        return registry.create(name, **backend_kwargs(stage, name, settings))
    except UNAVAILABLE as exc:
        fallback = FALLBACK[stage]
        if name == fallback:
            raise
        notice = f"{stage} {name!r} is unavailable, using the offline {fallback!r} instead: {exc}"
        log.warning(notice)
        engine.notices.append(notice)
        engine.settings = settings.model_copy(update={stage: fallback})
        return registry.create(fallback, **backend_kwargs(stage, fallback, engine.settings))


def describe(settings: Settings) -> dict[str, str]:
    resolved = resolve(settings)
    return {"profile": settings.profile, **{s: getattr(resolved, s) for s in STAGES}}


def prefetch(settings: Settings) -> list[str]:
    """Build every backend of the profile once: fills the HF cache and writes the ONNX exports."""
    from .engine import Engine

    engine = Engine(settings)
    for stage in STAGES:
        backend = getattr(engine, stage)
        print(f"{stage:>9}: {backend.name}", file=sys.stderr)
    if hasattr(engine.embedder, "embed_text"):
        engine.embedder.embed_text(["a red dress"])  # the tokenizer is fetched on first use
    return engine.notices


def main(argv: list[str] | None = None) -> int:
    from . import config

    ap = argparse.ArgumentParser(prog="python -m pipeline.profiles", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("download", help="fetch and export a profile's models now, for offline use later")
    p.add_argument("--profile", choices=sorted(PROFILES), default="online")
    p.add_argument("--config")
    sub.add_parser("show", help="the backends each profile uses")
    args = ap.parse_args(argv)
    if args.command == "show":
        for name, stages in PROFILES.items():
            print(f"{name:>9}: " + ", ".join(f"{s}={b}" for s, b in stages.items()))
        return 0
    notices = prefetch(config.load(args.config, {"profile": args.profile}))
    if notices:
        print(f"download incomplete: {len(notices)} stage(s) would run their offline backend", file=sys.stderr)
    return 1 if notices else 0


if __name__ == "__main__":
    sys.exit(main())
