"""Reliability fixtures: a real offline engine, and the real app launched on 127.0.0.1 over 20 shared photos.

The app is launched with fake Elasticsearch credentials in its environment (the local backend
never uses them), so every page, API answer and log line can be checked for them.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

SECRET_KEY = "c2VjcmV0LWtleS1pZDpzM2NyM3QtZnV6ei05ZjhlN2Q="  # base64 "secret-key-id:s3cr3t-fuzz-9f8e7d"
SECRET_PASSWORD = "pw-s3cr3t-Zq81"
SECRET_ENV = {"ELASTIC_API_KEY": SECRET_KEY, "ELASTICSEARCH_URL": f"https://elastic:{SECRET_PASSWORD}@127.0.0.1:9/"}
SECRET_FORMS = [SECRET_KEY, "s3cr3t-fuzz-9f8e7d", SECRET_PASSWORD]
CATEGORIES = ("dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_catalogue(shared_data: Path, out: Path, per_category: int = 2) -> Path:
    """A few shared photos per category, copied (never into the project): the app serves this folder."""
    for cat in CATEGORIES:
        files = sorted((shared_data / "validation" / cat).glob("*.jpg"))[:per_category]
        (out / cat).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, out / cat / f.name)
    return out


@pytest.fixture(scope="session")
def engine(settings_factory, tmp_path_factory):
    """The real offline engine (classical parser, Telea, EfficientNet-Lite0) over a 6-item random index."""
    import numpy as np

    from pipeline.engine import Engine
    from pipeline.index import open_index
    from pipeline.types import Item

    settings = settings_factory(index_dir=tmp_path_factory.mktemp("rel-engine") / "idx")
    eng = Engine(settings)
    eng.index = open_index(settings, eng.signature(), create=True)
    rng = np.random.default_rng(0)
    s, c = rng.normal(size=(6, eng.index.shape_dim)), rng.random((6, eng.index.colour_dim))
    eng.index.add([Item(id=f"dress/{k}.jpg", image=f"/nowhere/{k}.jpg", category="dress") for k in range(6)],
                  s / np.linalg.norm(s, axis=1, keepdims=True), c / np.linalg.norm(c, axis=1, keepdims=True))
    return eng


@dataclass
class Live:
    url: str
    app: object
    catalogue: Path
    settings: object
    log: list[str]


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]):
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))


@pytest.fixture(scope="module")  # module: the DEBUG root logger must not outlive the tests that read it
def live_app(shared_data, tmp_path_factory, settings_factory):
    """`demo.build` + `launch` on 127.0.0.1, as app.py does, with every log line kept."""
    import demo

    saved = {k: os.environ.get(k) for k in SECRET_ENV}
    os.environ.update(SECRET_ENV)
    lines: list[str] = []
    handler = _Collect(lines)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    app = None
    try:
        catalogue = copy_catalogue(shared_data, tmp_path_factory.mktemp("rel-catalogue") / "clothing20")
        settings = settings_factory(catalogue=str(catalogue))
        app = demo.build(settings, say=lines.append)
        port = free_port()
        app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
        yield Live(f"http://127.0.0.1:{port}/", app, catalogue, settings, lines)
    finally:
        if app is not None:
            app.blocks.close()
        root.removeHandler(handler)
        root.setLevel(old_level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
