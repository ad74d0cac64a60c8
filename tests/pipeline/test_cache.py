"""Feature cache: a photo seen before (any id, any index) skips the models; other settings never share vectors."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PIL import Image

from pipeline.cache import FeatureCache, cached_features
from pipeline.index import INDEXES
from pipeline.ingest import ingest
from pipeline.types import Features


class CountingEngine:
    """What ingest needs of an Engine, counting the images that reach the 'models'."""

    def __init__(self, home, embedder: str = "stub"):
        self.settings = SimpleNamespace(batch_size=4, workers=1, sketch=False, feature_cache=True, home=home,
                                        parser="p", inpainter="i", restore=True, max_side=512,
                                        mask_background=True, models={}, embedder=embedder)
        self.seen = 0

    def signature(self):
        return {"embedder": self.settings.embedder, "colour": "c", "shape_dim": 6, "colour_dim": 3}

    def features_many(self, images, pool=None):
        self.seen += len(images)
        out = []
        for im in images:
            a = im.astype(np.float32).mean((0, 1)) + 1.0
            s = np.concatenate([a, a[::-1]])
            out.append(Features((s / np.linalg.norm(s)).astype(np.float32), (a / np.linalg.norm(a)).astype(np.float32)))
        return out

    def describe(self, feats):
        return [{} for _ in feats]


def photos(root, n, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        p = root / "dress" / f"p{i}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 16, 3), dtype=np.uint8)).save(p, quality=90)
    return root


def test_reingest_under_new_ids_and_into_a_new_index_skips_the_models(tmp_path):
    src = photos(tmp_path / "a", 6)
    engine = CountingEngine(tmp_path / "home")
    first = INDEXES.create("local", path=tmp_path / "i1", create=True, shape_dim=6, colour_dim=3, ann="exact")
    assert ingest(engine, first, src, progress=lambda d, t: None).indexed == 6 and engine.seen == 6
    copy = tmp_path / "b" / "renamed"  # the same photos under other ids
    copy.mkdir(parents=True)
    for p in (src / "dress").iterdir():
        (copy / f"new-{p.name}").write_bytes(p.read_bytes())
    second = INDEXES.create("local", path=tmp_path / "i2", create=True, shape_dim=6, colour_dim=3, ann="exact")
    report = ingest(engine, second, tmp_path / "b", progress=lambda d, t: None)
    assert (report.indexed, report.cached, engine.seen) == (6, 6, 6)  # no model call
    s, c = first.vectors(["dress/p3.jpg"])
    assert second.search(s[0], c[0], 0.5, 1)[0].item.id == "renamed/new-p3.jpg"
    assert np.array_equal(second.vectors(["renamed/new-p3.jpg"])[0], s)
    first.close()
    second.close()


def test_other_settings_use_another_cache_file(tmp_path):
    src = photos(tmp_path / "a", 3)
    for name in ("stub", "other-embedder"):
        engine = CountingEngine(tmp_path / "home", embedder=name)
        idx = INDEXES.create("local", path=tmp_path / name, create=True, shape_dim=6, colour_dim=3, ann="exact")
        ingest(engine, idx, src, progress=lambda d, t: None)
        assert engine.seen == 3
        idx.close()
    assert len(list((tmp_path / "home" / "cache").glob("features-*.sqlite"))) == 2


def test_one_photo_twice_in_a_batch_runs_once(tmp_path):
    engine = CountingEngine(tmp_path / "home")
    cache = FeatureCache.for_engine(engine)
    img = np.full((4, 4, 3), 7, np.uint8)
    feats, hits = cached_features(engine, cache, [img, img, img * 2], ["h1", "h1", ""])
    assert (engine.seen, hits) == (2, 1) and np.array_equal(feats[0].shape, feats[1].shape)  # 1 reused
    feats, hits = cached_features(engine, cache, [img, img * 2], ["h1", ""])
    assert (engine.seen, hits) == (3, 1)  # an image with no hash is never served from the cache
    assert len(cache) == 1
    cache.close()
