"""Ingest: sources, bad files, resume, and a SIGKILL in the middle."""
from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.index import INDEXES, IndexError_
from pipeline.ingest import SourceError, scan

ROOT = Path(__file__).resolve().parents[2]


def write_csv(path: Path, images: list[Path], extra: dict | None = None) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "title", "url", "category", "colour"])
        for i, p in enumerate(images):
            w.writerow([str(p), f"Item {i}", f"https://shop.example/{i}", p.parent.name, "red" if i % 2 else ""])
    return path


def test_folder_scan_ids_and_categories(shared_data):
    recs = scan(shared_data / "validation")
    assert len(recs) == 341
    r = recs[0]
    assert r.item.id == f"{r.item.category}/{Path(r.item.image).name}"
    assert {x.item.category for x in recs} == {p.name for p in (shared_data / "validation").iterdir() if p.is_dir()}


def test_csv_scan_attributes(tmp_path, shared_data):
    imgs = sorted((shared_data / "test" / "hat").glob("*.jpg"))[:4]
    recs = scan(write_csv(tmp_path / "c.csv", imgs))
    assert [r.item.title for r in recs] == [f"Item {i}" for i in range(4)]
    assert recs[1].item.attributes == {"colour": "red"} and recs[0].item.attributes == {}
    assert recs[0].item.url == "https://shop.example/0"


def _made(path: Path, text: str | None = None) -> Path:
    if text is None:
        path.mkdir()
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("make,needle", [
    (lambda d: d / "missing", "does not exist"),
    (lambda d: _made(d / "empty"), "no images"),
    (lambda d: _made(d / "x.txt", "hi"), "expected a folder"),
    (lambda d: _made(d / "bad.csv", "path,title\na,b\n"), "'image' column"),
])
def test_bad_sources(tmp_path, make, needle):
    with pytest.raises(SourceError, match=needle):
        scan(make(tmp_path))


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, **kw)


def test_bad_files_are_reported_and_skipped(tmp_path, shared_data, home):
    src = tmp_path / "cat"
    (src / "dress").mkdir(parents=True)
    good = sorted((shared_data / "validation" / "dress").glob("*.jpg"))[:3]
    for p in good:
        (src / "dress" / p.name).symlink_to(p)
    (src / "dress" / "truncated.jpg").write_bytes(good[0].read_bytes()[:300])
    (src / "dress" / "notes.jpg").write_text("not an image")
    (src / "dress" / "empty.png").write_bytes(b"")
    env = dict(os.environ, DRAPE_HOME=str(home))
    out = run_cli("ingest", str(src), "--index", str(tmp_path / "idx"), env=env)
    assert out.returncode == 0, out.stderr
    assert "3 indexed" in out.stdout and "3 failed" in out.stdout
    for name in ("truncated.jpg", "notes.jpg", "empty.png"):
        assert name in out.stdout
    # a second run skips what is there and loses nothing
    again = run_cli("ingest", str(src), "--index", str(tmp_path / "idx"), env=env)
    assert "0 indexed, 3 already indexed" in again.stdout
    info = run_cli("info", "--index", str(tmp_path / "idx"), "--json", env=env)
    assert '"items": 3' in info.stdout


def test_missing_and_foreign_index_dirs(tmp_path):
    with pytest.raises(IndexError_, match="does not exist"):
        INDEXES.create("local", path=tmp_path / "nope")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "data.bin").write_bytes(b"x")
    with pytest.raises(IndexError_, match="not a drape index"):
        INDEXES.create("local", path=tmp_path / "foreign")
    with pytest.raises(IndexError_, match="not a drape index"):
        INDEXES.create("local", path=tmp_path / "foreign", create=True, shape_dim=4, colour_dim=4)
    out = run_cli("search", __file__, "--index", str(tmp_path / "nope"))
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killed_ingest_resumes_without_duplicates_or_losses(tmp_path, shared_data, home):
    images = sorted((shared_data / "validation").rglob("*.jpg"))[:48]
    source = write_csv(tmp_path / "cat.csv", images)
    idx = tmp_path / "idx"
    env = dict(os.environ, DRAPE_HOME=str(home))
    args = [sys.executable, "-m", "pipeline", "ingest", str(source), "--index", str(idx), "--batch-size", "4"]
    for _ in range(2):  # kill it twice at different points
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = _count(idx / "items.sqlite")
        deadline = time.time() + 240
        while time.time() < deadline and _count(idx / "items.sqlite") < start + 8 and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    index = INDEXES.create("local", path=idx)  # opens cleanly after the kills
    partial = index.count()
    assert 0 < partial < 48
    index.close()
    out = run_cli("ingest", str(source), "--index", str(idx), "--batch-size", "4", env=env)
    assert out.returncode == 0, out.stderr
    index = INDEXES.create("local", path=idx)
    assert index.count() == 48
    assert index.ids() == {p.as_posix() for p in images}
    assert len(index.snapshot().ids) == 48
