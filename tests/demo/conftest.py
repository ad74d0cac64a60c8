"""Demo fixtures: a model-free engine for handler tests, and a real small app for integration.

The fake engine decodes images with the real pipeline.imageio (so bad-upload
behaviour is the real one) but replaces the models with cheap numpy, and
counts analyses: "moving a slider runs no model" is then a plain assertion.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import imageio
from pipeline.labels import INDEX
from pipeline.types import (Analysis, Features, Garment, Hit, Item, Parsing, Region, Restoration,
                            SearchResult)

CATEGORIES = ("dress", "pants", "shirt", "skirt", "t-shirt", "longsleeve")


class FakeIndex:
    name = "fake"

    def __init__(self, items: list[Item], shape: np.ndarray, colour: np.ndarray):
        self.items, self.shape, self.colour = items, shape, colour

    def count(self) -> int:
        return len(self.items)

    def get(self, ids):
        by = {it.id: it for it in self.items}
        return [by[i] for i in ids if i in by]

    def facets(self, field):
        return sorted({str(_field(it, field)) for it in self.items if _field(it, field)})

    def search(self, qs, qc, weight, k, filters=None):
        from pipeline.index import matches

        s, c = self.shape @ qs, self.colour @ qc
        total = weight * s + (1 - weight) * c
        # Filters restrict candidates before the top k, as the real indexes do.
        ok = np.array([matches(it.category, it.attributes, filters) for it in self.items])
        order = [i for i in np.argsort(-total, kind="stable") if ok[i]][:k]
        return [Hit(self.items[i], float(total[i]), float(s[i]), float(c[i]), r + 1) for r, i in enumerate(order)]


def _field(item: Item, field: str):
    return item.category if field == "category" else item.attributes.get(field)


class FakeEngine:
    """Engine's public surface (settings, index, analyse, rank, search) without models."""

    def __init__(self, settings, index: FakeIndex):
        self.settings, self.index = settings, index
        self.analyses: list[bool] = []  # restore flag of every analysis run
        self.ranks: list[dict] = []  # alpha, beta, filters of every rank call

    def analyse(self, image, restore=None, garment=0) -> Analysis:
        restore = self.settings.restore if restore is None else restore
        rgb = imageio.fit(imageio.load_image(image), self.settings.max_side)
        self.analyses.append(bool(restore))
        h, w = rgb.shape[:2]
        product = np.zeros((h, w), bool)
        product[h // 8: -h // 8, w // 8: -w // 8] = True
        occluder = product & (np.arange(w)[None, :] < w // 4)
        label_map = np.where(product, INDEX["garment"], 0).astype(np.int16)
        label_map[occluder] = INDEX["left-arm"]
        parsing = Parsing(label_map, [Garment("garment", product)], 0.001, "fake")
        mean = rgb.reshape(-1, 3).mean(0) / 255.0
        colour = np.concatenate([mean, [0.1 if restore else 0.3]]).astype(np.float32)
        shape = np.array([mean[0], 1 - mean[1], mean[2], 0.5], np.float32)
        feats = Features(shape / np.linalg.norm(shape), colour / np.linalg.norm(colour))
        timings = {"decode": 0.001, "resize": 0.0, "parse": 0.002, "region": 0.001, "restore": 0.003 * restore,
                   "crop": 0.0, "embed": 0.004, "colour": 0.001}
        # A fixed description, as a probe + colour names would give one.
        attributes = {"category": "dress", "pattern": "striped",
                      "_confidence": {"category": 0.91, "pattern": 0.62}}
        return Analysis(rgb, parsing, Region(product, occluder, "garment", 0.001),
                        Restoration(rgb, rgb, "telea" if restore else "off", 0.0), feats, rgb, timings, attributes)

    def rank(self, analysis, weight=None, top_k=None, filters=None, alpha=None, beta=None) -> SearchResult:
        import rerank

        weight = self.settings.weight if weight is None else weight
        top_k = self.settings.top_k if top_k is None else top_k
        alpha = self.settings.alpha if alpha is None else alpha
        beta = self.settings.beta if beta is None else beta
        self.ranks.append({"alpha": alpha, "beta": beta, "filters": filters})
        reranking = alpha > 0 or beta > 0
        depth = max(top_k, self.settings.rerank_depth) if reranking else top_k
        hits = self.index.search(analysis.features.shape, analysis.features.colour, weight, depth, filters)
        timings = dict(analysis.timings, search=0.0001)
        if reranking:  # the real reranker: pure Python over the hits, no model
            hits = rerank.apply(self, analysis, hits, alpha, beta, top_k=top_k)
            timings["rerank"] = 0.0001
        return SearchResult(hits, timings, weight, analysis)

    def search(self, image, weight=None, top_k=None, restore=None, filters=None):
        return self.rank(self.analyse(image, restore), weight, top_k, filters)


def write_jpeg(path: Path, rgb: tuple[int, int, int], size=(96, 128)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((size[1], size[0], 3), np.uint8) + 245
    img[20:-20, 15:-15] = rgb
    Image.fromarray(img).save(path, quality=90)
    return path


@pytest.fixture
def fake_served(tmp_path, tmp_path_factory, settings_factory):
    """A Served over 12 tiny generated images, with a FakeEngine."""
    from demo.bootstrap import Catalogue, Served

    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("catalogue")  # not under tmp_path, which plays the upload folder
    items = []
    for i in range(12):
        cat = CATEGORIES[i % len(CATEGORIES)]
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        p = write_jpeg(root / cat / f"item{i:02d}.jpg", colour)
        attrs = {"colour": ("red", "blue", "green")[i % 3], "pattern": ("plain", "striped")[i // 6]}
        items.append(Item(id=f"{cat}/item{i:02d}.jpg", image=str(p), title=f"{cat} {i}", category=cat,
                          attributes=attrs))
    shape = rng.normal(size=(12, 4)).astype(np.float32)
    colour = np.abs(rng.normal(size=(12, 4))).astype(np.float32)
    index = FakeIndex(items, shape / np.linalg.norm(shape, axis=1, keepdims=True),
                      colour / np.linalg.norm(colour, axis=1, keepdims=True))
    engine = FakeEngine(settings_factory(), index)
    cat = Catalogue("test catalogue", "test-1", root, root, about="twelve tiny test images")
    return Served(engine, cat, tmp_path / "state", len(items), sorted(set(CATEGORIES)))


@pytest.fixture
def query_image(tmp_path) -> Path:
    return write_jpeg(tmp_path / "query.jpg", (180, 40, 50))


# --- real app over shared photos (integration) ----------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Running:
    url: str
    app: object
    catalogue: Path
    home: Path
    settings: object


@pytest.fixture(scope="session")
def small_catalogue(shared_data, tmp_path_factory) -> Path:
    """30 shared photos, 5 per category, copied into a temp folder (never into the project)."""
    out = tmp_path_factory.mktemp("catalogue") / "clothing30"
    for cat in CATEGORIES:
        files = sorted((shared_data / "validation" / cat).glob("*.jpg"))[:5]
        if not files:
            pytest.skip(f"no {cat} images under {shared_data}/validation")
        (out / cat).mkdir(parents=True)
        for f in files:
            shutil.copy(f, out / cat / f.name)
    return out


@pytest.fixture(scope="session")
def running_app(small_catalogue, home, settings_factory):
    """The real app (build + launch) on the 30-photo catalogue, shared by the integration tests."""
    import demo

    settings = settings_factory(catalogue=str(small_catalogue))
    app = demo.build(settings, say=lambda msg: None)
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield Running(f"http://127.0.0.1:{port}/", app, small_catalogue, home, settings)
    finally:
        app.blocks.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def browser_page(height: int, timeout_ms: int):
    """A headless Debian Chromium page (1280 px wide) for the browser tests; skips when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="python playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": height})
        page.set_default_timeout(timeout_ms)
        try:
            yield page
        finally:
            browser.close()
