"""The built-in catalogue's attribute probe: trained once from the index, kept with the catalogue."""
from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np
import pytest

from demo import probes
from pipeline.types import Features, Item

CATS = ("dress", "skirt", "shirt")
PATTERNS = ("plain", "striped")


class StoredIndex:
    """A local index's reading surface (ids, get, vectors, count) over separable vectors."""

    def __init__(self, n: int):
        rng = np.random.default_rng(0)
        self.items = [Item(id=f"i{i:03d}", image="", category=CATS[i % 3],
                           attributes={"pattern": PATTERNS[i % 2], "colour": "red"}) for i in range(n)]
        centres = rng.normal(size=(6, 16)).astype(np.float32) * 3
        self.shape = np.stack([centres[i % 6] + rng.normal(size=16) * 0.2 for i in range(n)]).astype(np.float32)
        self.colour = np.abs(rng.normal(size=(n, 4))).astype(np.float32)

    def count(self):
        return len(self.items)

    def ids(self):
        return {it.id for it in self.items}

    def get(self, ids):
        by = {it.id: it for it in self.items}
        return [by[i] for i in ids]

    def vectors(self, ids):
        pos = [int(i[1:]) for i in ids]
        return self.shape[pos], self.colour[pos]


class StoredEngine:
    def __init__(self, settings, index):
        self.settings, self.index = settings, index
        self.embedder, self.colour = SimpleNamespace(dim=16), SimpleNamespace(dim=4)
        self._backends = {"attributer": "built during ingest with auto"}

    def signature(self):
        return {"embedder": self.settings.embedder, "colour": self.settings.colour, "shape_dim": 16, "colour_dim": 4}


@pytest.fixture
def make(settings_factory, tmp_path):
    def engine(n=60, **overrides):
        settings = settings_factory(index_dir=tmp_path / "state" / "index-abc", **overrides)
        return StoredEngine(settings, StoredIndex(n))

    return engine


def _lock():
    return contextlib.nullcontext()


def test_probe_is_trained_once_and_named_explicitly(make, tmp_path, monkeypatch):
    state, said = tmp_path / "state", []
    first = make()
    path = probes.attach(first, state, said.append, _lock)
    assert path == state / "probes" / "index-abc.npz" and path.is_file() and len(said) == 1
    spec = first.settings.attributes
    assert spec.startswith(f"probe:{path},colour-names") and "attributer" not in first._backends

    from rerank.predictors import PREDICTORS

    probe = PREDICTORS.create("probe", arg=str(path), engine=first, vocab=None)  # fits this engine's vectors
    assert set(probe.attributes) == {"category", "pattern"}  # colour comes from colour names, untrained
    idx = first.index
    guess = probe.predict([Features(idx.shape[i], idx.colour[i]) for i in range(6)])
    assert [g["category"].value for g in guess] == [CATS[i % 3] for i in range(6)]

    monkeypatch.setattr(probes, "train", lambda *a, **k: pytest.fail("a later start must not retrain"))
    again = make()
    assert probes.attach(again, state, said.append, _lock) == path and again.settings.attributes == spec


def test_probe_is_retrained_when_the_index_changes(make, tmp_path):
    state = tmp_path / "state"
    probes.attach(make(60), state, print, _lock)
    said = []
    probes.attach(make(66), state, said.append, _lock)
    assert said and "66 stored items" in said[0]


def test_an_explicit_attributes_setting_is_left_alone(make, tmp_path):
    engine = make(attributes="colour-names")
    assert probes.attach(engine, tmp_path / "state", print, _lock) is None
    assert engine.settings.attributes == "colour-names" and not (tmp_path / "state" / "probes").exists()


def test_a_catalogue_that_cannot_train_still_serves(make, tmp_path):
    engine = make(n=6)  # under five examples per class: nothing to train
    assert probes.attach(engine, tmp_path / "state", print, _lock) is None
    assert engine.settings.attributes == "auto" and "attributer" in engine._backends


def test_open_served_attaches_the_probe_for_the_builtin_catalogue_only(settings_factory, monkeypatch, tmp_path):
    from demo import bootstrap

    calls = []
    monkeypatch.setattr(probes, "attach", lambda engine, state, say, lock: calls.append(state) or None)
    monkeypatch.setattr(bootstrap, "_ingest", lambda *a, **k: None)
    fake_index = SimpleNamespace(count=lambda: 3, facets=lambda f: [])
    monkeypatch.setattr(bootstrap, "open_index", lambda *a, **k: fake_index)
    monkeypatch.setattr(bootstrap, "generate_builtin", lambda *a, **k: None)
    monkeypatch.setattr(bootstrap.Engine, "signature", lambda self: {})
    served = bootstrap.open_served(settings_factory(home=tmp_path), say=print, progress=print, n_items=7)
    assert calls == [served.state_dir]
    folder = tmp_path / "own"
    folder.mkdir()
    bootstrap.open_served(settings_factory(home=tmp_path, catalogue=str(folder)), say=print, progress=print)
    assert len(calls) == 1
