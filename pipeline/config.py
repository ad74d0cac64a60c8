"""One typed configuration for the CLI, the app and the API.

Precedence: defaults < config file < environment (DRAPE_*) < arguments.
The file is TOML or YAML, named by `--config` or DRAPE_CONFIG; keys are the
field names below. Environment variables are DRAPE_<FIELD> in upper case,
e.g. DRAPE_WEIGHT=0.7 or DRAPE_INDEX_DIR=/data/idx.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "DRAPE_"
DEFAULT_HOME = Path(os.environ.get("DRAPE_HOME", Path.home() / ".cache" / "drape"))


class ConfigError(ValueError):
    pass


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    home: Path = Field(DEFAULT_HOME, description="models, default catalogue and index live here")

    # stages: backend names from each stage's registry
    profile: Literal["offline", "online", "online-hq", "paper"] = "offline"
    parser: str = "classical"
    inpainter: str = "telea"
    restore_model: str = Field("", description="checkpoint of the 'learned' inpainter "
                               "(python -m pipeline.restore train); empty = <home>/models/restore/latest.pt")
    embedder: str = "efficientnet-lite0"
    colour: str = "lab-hist"
    # hub backends: backend name -> hub id or local folder, e.g. {"fashion-clip": "/models/fclip"}
    # (env/file may give "name=id,name=id"); detectron2 needs its own config + weights files
    models: dict[str, str] = Field(default_factory=dict, description="per-backend model id or local path")
    parse_size: int | None = Field(None, ge=128, le=1024, description="SegFormer input side in px; empty = the "
                                   "model's own (512 for B2). Cost grows with its square: 384 is ~1.8x faster")
    detectron2_config: Path | None = None
    detectron2_weights: Path | None = None

    # query processing
    max_side: int = Field(512, ge=64, le=4096, description="images are downscaled to this longer side")
    restore: bool = True
    mask_background: bool = True
    weight: float = Field(0.5, ge=0.0, le=1.0, description="w in w·shape + (1−w)·colour")
    top_k: int = Field(10, ge=1, le=1000)

    # rerank (β·overlap − α·rank, paper: α·(−rank) + β·|Q∩G|); 0/0 disables it. Defaults: the best
    # measured setting on clothing-small (docs/rerank.md), in the depth-free normalised form.
    alpha: float = Field(0.25, ge=0.0)
    beta: float = Field(1.0, ge=0.0)
    rerank_depth: int = Field(50, ge=1, le=1000)
    rerank_normalised: bool = Field(True, description="β·overlap/|Q| − α·rank/N (False: raw counts and ranks)")
    attributes: str = Field("auto", description="attribute predictors: auto (probes under <home>/probes + colour "
                            "names + zero-shot when the embedder has text), none, or e.g. 'probe:NAME,colour-names'")

    # index
    backend: str = "local"
    index_dir: Path | None = Field(None, description="local index folder; default <home>/index")
    ann: Literal["auto", "exact", "ivf", "hnsw"] = "auto"
    ann_threshold: int = Field(100_000, ge=0, description="'auto' switches to 'ivf' (docs/scale.md) above this many items")
    es_index: str = "drape-items"
    catalogue: str = Field("", description="folder or CSV the app serves; empty = the built-in generated one")

    # ingest
    batch_size: int = Field(32, ge=1, le=1024)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(2, ge=1, le=64, description="CPU threads for torch/onnxruntime/OpenCV and the local index")
    feature_cache: bool = Field(True, description="reuse vectors of already-seen photos (by content hash) at "
                                "ingest: <home>/cache, one file per pipeline signature")

    # sketch search (docs/sketch.md): edge-domain vectors in a second index beside the photo index
    sketch: bool = Field(False, description="also store sketch vectors at ingest (HED costs ~2 s per image on CPU)")
    edges: str = Field("hed", description="edge backend for sketch vectors: hed, or canny (fast, no TensorFlow)")
    colouriser: str = Field("", description="trained sketch colouriser folder (python -m pipeline.sketch train); "
                            "empty = off")

    @field_validator("index_dir", "home", mode="before")
    @classmethod
    def _expand(cls, v: Any) -> Any:
        return Path(v).expanduser() if isinstance(v, (str, Path)) else v

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, v: Any) -> Any:
        if isinstance(v, str):
            pairs = [p.partition("=") for p in v.split(",") if p.strip()]
            return {k.strip(): m.strip() for k, _, m in pairs}
        return v

    @model_validator(mode="after")
    def _defaults_under_home(self) -> "Settings":
        if self.index_dir is None:
            object.__setattr__(self, "index_dir", self.home / "index")
        return self


FIELDS = set(Settings.model_fields)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            import tomllib

            data = tomllib.loads(text)
    except Exception as exc:
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:] or 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a table of settings, got {type(data).__name__}")
    unknown = set(data) - FIELDS
    if unknown:
        raise ConfigError(f"config file {path}: unknown settings {sorted(unknown)}; valid: {sorted(FIELDS)}")
    return data


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    out = {}
    for name in FIELDS:
        key = ENV_PREFIX + name.upper()
        if key in environ and environ[key] != "":
            out[name] = environ[key]
    return out


def load(
    file: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build Settings from the four layers; None-valued overrides are ignored."""
    environ = dict(os.environ if environ is None else environ)
    merged: dict[str, Any] = {}
    file = file or environ.get(ENV_PREFIX + "CONFIG")
    if file:
        merged.update(_read_file(Path(file)))
    merged.update(_from_env(environ))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"bad configuration: {problems}") from None
