"""Crash safety: ingests killed at seeded random points, then opened and resumed.

Local index: SIGKILL a real ingest process (ingest_child) six times at random batches and
random moments inside them; after every kill the index must open, pass PRAGMA
integrity_check, load a snapshot that agrees with SQLite, and hold only whole, correct
items; the resumed run must end with exactly the source, nothing lost or doubled, and no
leftovers of the killed writers. Elasticsearch: the same guarantees for the bulk path
against the recorded-response fake (tests/pipeline/index/es_fake.py), with bulks cut off
after the cluster applied part of them. tests/pipeline/test_ingest.py kills the real CLI twice;
the `slow` test here kills it at random moments on shared photos.
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import imageio
from pipeline.index import INDEXES, IndexError_
from pipeline.ingest import ingest, scan
from pipeline.types import Item

from .ingest_child import StubEngine, features

ROOT = Path(__file__).resolve().parents[2]
KILLS = 6


def make_source(root: Path, n: int = 40) -> Path:
    rng = np.random.default_rng(11)
    for i in range(n):
        p = root / ("dress", "skirt", "hat", "pants")[i % 4] / f"item{i:03d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48 + i % 7, 40, 3), dtype=np.uint8)).save(p, quality=85)
    (root / "dress" / "broken.jpg").write_bytes(b"not a photo")  # one bad file, reported every run
    return root


def expected_items(source: Path) -> dict[str, Path]:
    return {r.item.id: r.path for r in scan(source) if r.path.name != "broken.jpg"}


def check_index(idx: Path, source_items: dict[str, Path]) -> int:
    """Every guarantee that must hold after any kill; returns how many items are in."""
    with sqlite3.connect(idx / "items.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT id, content_hash, shape, colour FROM items ORDER BY row").fetchall()
    index = INDEXES.create("local", path=idx, ann="exact")
    try:
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids)) and set(ids) <= set(source_items)
        for iid, chash, s, c in rows:  # whole, correct items only
            data = source_items[iid].read_bytes()
            want = features(imageio.decode(data))
            assert chash == imageio.content_hash(data)
            assert np.array_equal(np.frombuffer(s, np.float32), want.shape)
            assert np.array_equal(np.frombuffer(c, np.float32), want.colour)
        assert index.info()["items"] == len(ids)  # the snapshot (loaded, or rebuilt if stale) agrees with SQLite
        for iid, _, s, c in rows:  # and finds every item by its own vectors: score 1, nothing else reaches it
            hit = index.search(np.frombuffer(s, np.float32), np.frombuffer(c, np.float32), 0.5, 1)[0]
            assert hit.item.id == iid and abs(hit.score - 1) < 1e-5
        return len(ids)
    finally:
        index.close()


def leftovers(idx: Path) -> list[str]:
    return sorted(p.name for p in idx.iterdir() if p.name.endswith(".tmp"))


def test_sigkill_at_random_points_then_resume(tmp_path):
    source = make_source(tmp_path / "src")
    items = expected_items(source)
    idx = tmp_path / "idx"
    rng = random.Random(20240611)
    cmd = [sys.executable, "-m", "tests.reliability.ingest_child", str(source), str(idx)]
    counts = []
    targets = sorted(rng.sample(range(4, 34, 2), KILLS))  # after which record each kill comes (of 41)
    for target in targets:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            line = proc.stdout.readline().strip()  # records already in are skipped fast, then new batches
            while line.startswith("batch") and int(line.split()[1]) < target:
                line = proc.stdout.readline().strip()
            time.sleep(rng.uniform(0, 0.06))  # then a random moment: pause, decode, transaction or snapshot
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stdout.close()
        counts.append(check_index(idx, items))
    print(f"{KILLS} SIGKILLs; items in the index after each: {counts} of {len(items)}")
    assert counts == sorted(counts) and 0 < counts[-1] < len(items), counts  # kills landed mid-ingest
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    indexed, skipped, failed = map(int, done.stdout.strip().splitlines()[-1].split()[1:])
    assert (indexed + skipped, failed) == (len(items), 1)
    assert check_index(idx, items) == len(items)
    assert leftovers(idx) == [], "a killed writer's temp files were never cleaned up"


def test_a_kill_while_creating_the_index_leaves_it_creatable(tmp_path):
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / ".manifest.json.4242.tmp").write_text('{"format": "drape-lo')  # killed mid-write
    index = INDEXES.create("local", path=idx, create=True, shape_dim=8, colour_dim=4)
    assert index.count() == 0
    index.close()


def test_stale_snapshot_builds_of_dead_writers_are_removed(tmp_path):
    idx = tmp_path / "idx"
    index = INDEXES.create("local", path=idx, create=True, shape_dim=8, colour_dim=4, ann="exact")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (idx / f".snap-3-exact.{dead.pid}.tmp").mkdir()
    (idx / f".snapshot.{dead.pid}.tmp").write_text("{")
    (idx / f".snap-9-exact.{os.getpid()}.tmp").mkdir()  # a live writer's (ours): must stay
    f = features(np.zeros((8, 8, 3), np.uint8))
    index.add([Item(id="a", image="a.jpg")], f.shape[None], f.colour[None])
    index.flush()
    assert leftovers(idx) == [f".snap-9-exact.{os.getpid()}.tmp"]
    index.close()


@pytest.mark.slow
def test_the_real_cli_killed_at_random_moments_then_resumed(tmp_path, shared_data, home):
    """`python -m pipeline ingest` with the real models on shared photos, SIGKILLed three times."""
    src = tmp_path / "cat"
    images = sorted((shared_data / "validation").rglob("*.jpg"))[:48]
    for p in images:
        (src / p.parent.name).mkdir(parents=True, exist_ok=True)
        (src / p.parent.name / p.name).symlink_to(p)
    idx = tmp_path / "idx"
    env = dict(os.environ, DRAPE_HOME=str(home))
    cmd = [sys.executable, "-m", "pipeline", "ingest", str(src), "--index", str(idx), "--batch-size", "4"]
    rng = random.Random(99)
    counts = []
    for _ in range(3):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill at a random point a few rows into this run, so each run leaves work for the next (a fixed
        # delay let a fast box finish all of it before the third kill).
        target, deadline = (counts[-1] if counts else 0) + rng.randint(1, 6), time.time() + 300
        while time.time() < deadline and proc.poll() is None and _rows(idx) < target:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(idx / "items.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        index = INDEXES.create("local", path=idx)
        counts.append(index.count())
        assert len(index.snapshot().ids) == counts[-1]
        index.close()
    assert 0 < counts[-1] < len(images), counts
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    index = INDEXES.create("local", path=idx)
    assert index.count() == len(images) and index.ids() == {f"{p.parent.name}/{p.name}" for p in images}
    assert len(index.snapshot().ids) == len(images)
    index.close()
    assert leftovers(idx) == []


def _rows(idx: Path) -> int:
    try:
        with sqlite3.connect(f"file:{idx / 'items.sqlite'}?mode=ro", uri=True, timeout=1) as db:  # never creates it
            return db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    except sqlite3.Error:
        return 0


# --- Elasticsearch bulk path, recorded-response fake ---------------------------------------------------

@pytest.fixture
def es_fake():
    return pytest.importorskip("tests.pipeline.index.es_fake", reason="the Elasticsearch client is not installed")


def open_es(cluster, create: bool):
    return INDEXES.create("elasticsearch", path=None, create=create, shape_dim=8 if create else None,
                          colour_dim=4 if create else None, es_index="drape-rel", connection=cluster.connection(),
                          initial_backoff=0.0, max_backoff=0.0)


def check_es(cluster, source_items: dict[str, Path]) -> int:
    (name,) = cluster.indices
    docs = cluster.indices[name].docs
    ids = [d["id"] for d in docs.values()]
    seqs = [d["seq"] for d in docs.values()]
    assert len(ids) == len(set(ids)) == len(docs) and set(ids) <= set(source_items)
    assert len(seqs) == len(set(seqs)), "two documents share an insertion position"
    for d in docs.values():
        want = features(imageio.decode(source_items[d["id"]].read_bytes()))
        assert np.allclose(d["shape"], want.shape) and np.allclose(d["colour"], want.colour)
    return len(docs)


def _reset():
    import elastic_transport

    raise elastic_transport.ConnectionError("connection reset by peer")


def cut_bulk(cluster, rng: random.Random, how: str):
    """A hook that lets the cluster apply a random prefix of one random bulk, then breaks the exchange:
    "interrupt" stops the process there (as a kill would), "down" fails it and every retry (the
    cluster went away), "once" fails it once (the client's own retry then resends it)."""
    state = {"bulks": 0, "at": rng.randrange(1, 8), "fired": False}

    def hook(req):
        if not req.path.endswith("/_bulk"):
            return None
        if state["fired"]:
            return _reset() if how == "down" else None
        state["bulks"] += 1
        if state["bulks"] < state["at"]:
            return None
        state["fired"] = True
        n = len(req.body) // 2
        cluster.bulk(req.body[: 2 * rng.randrange(0, n + 1)], None)  # applied server-side, never acknowledged
        if how == "interrupt":
            raise KeyboardInterrupt
        _reset()
    return hook


@pytest.mark.parametrize("how", ["interrupt", "down"])
def test_es_bulk_cut_off_mid_request_then_rerun(tmp_path, how, monkeypatch, es_fake):
    monkeypatch.setattr("elasticsearch.helpers.actions.time.sleep", lambda s: None)
    source = make_source(tmp_path / "src", n=30)
    items = expected_items(source)
    cluster = es_fake.FakeCluster()
    rng = random.Random(7 if how == "interrupt" else 8)
    counts = []
    open_es(cluster, create=True).close()
    for _ in range(4):
        cluster.hooks[:] = [cut_bulk(cluster, rng, how)]
        index = open_es(cluster, create=False)
        try:
            with pytest.raises((KeyboardInterrupt, IndexError_)):
                ingest(StubEngine(batch_size=3), index, source, progress=lambda d, t: None)
        finally:
            index.close()
        counts.append(check_es(cluster, items))
    cluster.hooks.clear()
    index = open_es(cluster, create=False)
    report = ingest(StubEngine(batch_size=3), index, source, progress=lambda d, t: None)
    assert report.indexed + report.skipped == len(items) and len(report.failed) == 1
    assert index.count() == len(items) and index.ids() == set(items)
    index.close()
    assert check_es(cluster, items) == len(items)
    print(f"ES bulk cut off ({how}) 4 times; documents after each: {counts} of {len(items)}")
    assert counts == sorted(counts) and max(counts) < len(items), counts


def test_es_transport_retry_after_a_partly_applied_bulk_is_idempotent(tmp_path, monkeypatch, es_fake):
    """The client retries a reset connection by itself; the retried bulk lands on the same ids."""
    monkeypatch.setattr("elasticsearch.helpers.actions.time.sleep", lambda s: None)
    source = make_source(tmp_path / "src", n=12)
    items = expected_items(source)
    cluster = es_fake.FakeCluster()
    index = open_es(cluster, create=True)
    cluster.hooks.append(cut_bulk(cluster, random.Random(3), "once"))
    report = ingest(StubEngine(batch_size=4), index, source, progress=lambda d, t: None)
    assert report.indexed == len(items) and index.count() == len(items)
    assert check_es(cluster, items) == len(items)
    index.close()
