"""Probe training on a small shared subset, saving, reloading by path and by name, and the train CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.types import Features
from rerank import cache
from rerank.predictors import build
from rerank.predictors.probe import Probe, ProbeError, train
from rerank.vocab import load

ROOT = Path(__file__).resolve().parents[2]
CATS = ("hat", "pants", "shoes")  # visually distinct: a probe on 6 images each must get them
VOCAB = load()


@pytest.fixture(scope="module")
def subset(shared_data, settings_factory, tmp_path_factory):
    from pipeline.engine import Engine

    engine = Engine(settings_factory(attributes="none"))
    folder = tmp_path_factory.mktemp("subset")
    picks = {"train": [], "test": []}
    for split, n in (("train", 6), ("test", 3)):
        for c in CATS:
            for p in sorted((shared_data / split / c).glob("*.jpg"))[:n]:
                picks[split].append((c, p))
                if split == "train":  # a folder catalogue for the CLI test: links, never copies
                    (folder / c).mkdir(exist_ok=True)
                    (folder / c / p.name).symlink_to(p)
    cache_dir = tmp_path_factory.mktemp("feature-cache")
    out = {"engine": engine, "folder": folder, "cache": cache_dir}
    for split, items in picks.items():
        shape, colour = cache.features(engine, [p for _, p in items], cache_dir, progress=lambda d, n: None)
        out[split] = ([Features(s, c) for s, c in zip(shape, colour)], [c for c, _ in items])
    return out


def test_feature_cache_is_reused(subset, monkeypatch):
    engine, (feats, _) = subset["engine"], subset["train"]
    paths = sorted(p for p in subset["folder"].rglob("*.jpg"))
    monkeypatch.setattr(engine, "features_many", None)  # a cache miss would now fail loudly
    shape, _ = cache.features(engine, paths, subset["cache"], progress=lambda d, n: None)
    assert shape.shape == (len(feats), engine.embedder.dim)


def test_train_save_reload(subset, tmp_path):
    engine = subset["engine"]
    feats, labels = subset["train"]
    probe = train(feats, {"category": labels}, VOCAB, engine.signature(), source="subset", min_per_class=5)
    head = probe.heads["category"]
    assert head.classes == sorted(CATS) and head.stats["n_train"] == len(labels)
    path = probe.save(tmp_path / "p.npz")
    assert path.stat().st_size < 64 * 1024
    again = Probe.load(path, VOCAB)
    again.check(engine)
    assert again.header["embedder"] == engine.settings.embedder and again.header["shape_dim"] == engine.embedder.dim
    assert again.header["vocabulary_version"] == VOCAB.version
    test_feats, truth = subset["test"]
    a, b = probe.predict(test_feats), again.predict(test_feats)
    assert [p["category"].value for p in a] == [p["category"].value for p in b]
    assert np.allclose([p["category"].confidence for p in a], [p["category"].confidence for p in b], atol=1e-5)
    right = sum(p["category"].value == t for p, t in zip(b, truth))
    assert right >= len(truth) - 1, [(p["category"], t) for p, t in zip(b, truth)]


def test_probe_refuses_what_it_was_not_trained_for(subset, tmp_path):
    engine = subset["engine"]
    feats, labels = subset["train"]
    probe = train(feats, {"category": labels}, VOCAB, engine.signature())
    probe.header["embedder"] = "another-net"
    with pytest.raises(ProbeError, match="does not fit"):
        probe.check(engine)
    probe.header["vocabulary_version"] = VOCAB.version + 1
    path = probe.save(tmp_path / "old.npz")
    with pytest.raises(ProbeError, match="retrain"):
        Probe.load(path, VOCAB)
    with pytest.raises(ProbeError, match="nothing to train"):
        train(feats, {"category": ["hat"] * len(feats)}, VOCAB, engine.signature())


def test_train_cli_and_loading_by_name(subset, home, tmp_path):
    # The session's home is shared with other tests (models live there): the probe must not land in
    # <home>/probes, or every "auto" engine in the run would start predicting categories with it.
    out = tmp_path / "probes" / "subset.npz"
    env = dict(os.environ, DRAPE_HOME=str(home))
    r = subprocess.run([sys.executable, "-m", "rerank", "train", str(subset["folder"]), "--out", str(out),
                        "--cache", str(subset["cache"]), "--min-per-class", "2"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "category: 3 classes" in r.stdout and out.exists()
    engine = subset["engine"]
    assert build(f"probe:{out}", engine).names == ["probe"]

    class Elsewhere:  # the engine, with its home where the probe was written
        settings = engine.settings.model_copy(update={"home": tmp_path})
        embedder, colour = engine.embedder, engine.colour

    assert build("probe:subset", Elsewhere).names == ["probe"]  # a name resolves under <home>/probes
    assert build("auto", Elsewhere).names == ["probe", "colour-names"]
    bad = subprocess.run([sys.executable, "-m", "rerank", "train", str(subset["folder"] / "missing")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "does not exist" in bad.stderr
