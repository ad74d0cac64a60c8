"""Shared fixtures: the real data beside the repo, and an index built from it once per run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared" / "data" / "clothing-small").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    """One DRAPE home for the run: the ONNX export happens once, nothing touches ~/.cache."""
    return tmp_path_factory.mktemp("drape-home")


@pytest.fixture(scope="session")
def settings_factory(home):
    from pipeline import config

    def make(**overrides):
        return config.load(overrides={"home": home, **overrides}, environ={})

    return make


@pytest.fixture(scope="session")
def validation_engine(shared_data, settings_factory, tmp_path_factory):
    """Engine + local index over all of clothing-small/validation (341 images)."""
    from pipeline.engine import Engine
    from pipeline.index import open_index
    from pipeline.ingest import ingest

    settings = settings_factory(index_dir=tmp_path_factory.mktemp("val") / "idx")
    engine = Engine(settings)
    engine.index = open_index(settings, engine.signature(), create=True)
    report = ingest(engine, engine.index, shared_data / "validation", progress=lambda d, t: None)
    engine.ingest_report = report
    return engine
