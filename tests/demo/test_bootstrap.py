"""First start builds once (locked, resumable); later starts reuse; catalogues never share an index."""
from __future__ import annotations

import threading

import pytest

from demo import bootstrap, examples
from pipeline.index import IndexError_

from .conftest import CATEGORIES, write_jpeg


@pytest.fixture
def tiny_catalogue(tmp_path):
    root = tmp_path / "tiny"
    for i in range(8):
        write_jpeg(root / CATEGORIES[i % 3] / f"p{i}.jpg", (30 * i, 200 - 20 * i, 90))
    return root


def quiet(*_):
    return None


def test_resolve_picks_the_catalogue_the_configuration_names(settings_factory, tiny_catalogue, tmp_path):
    builtin = bootstrap.resolve(settings_factory(), n_items=40)
    assert builtin.builtin and builtin.key == "synthetic-40-seed0" and builtin.source.name == "catalogue.csv"
    mine = bootstrap.resolve(settings_factory(catalogue=str(tiny_catalogue)))
    assert mine.source == tiny_catalogue.resolve() and mine.image_root == tiny_catalogue.resolve()
    assert mine.key.startswith("tiny-") and mine.key != builtin.key
    assert bootstrap.resolve(settings_factory(index_dir=tmp_path / "idx")) is None  # serve that index as is
    with pytest.raises(IndexError_, match="does not exist"):
        bootstrap.resolve(settings_factory(catalogue=str(tmp_path / "missing")))


def test_vector_key_changes_with_anything_that_changes_stored_vectors(settings_factory):
    base = bootstrap.vector_key(settings_factory())
    assert bootstrap.vector_key(settings_factory(inpainter="ns")) != base
    assert bootstrap.vector_key(settings_factory(max_side=384)) != base
    assert bootstrap.vector_key(settings_factory(weight=0.9)) == base  # query-time only


def test_first_start_builds_and_later_starts_reuse(settings_factory, tiny_catalogue, monkeypatch):
    settings = settings_factory(catalogue=str(tiny_catalogue))
    served = bootstrap.open_served(settings, say=quiet, progress=quiet)
    assert served.items == 8 and served.build_seconds > 0 and set(served.categories) == set(CATEGORIES[:3])
    assert served.engine.settings.index_dir.parent == served.state_dir  # per-catalogue folder under home
    monkeypatch.setattr(bootstrap, "_ingest", lambda *a, **k: pytest.fail("a later start must not ingest"))
    again = bootstrap.open_served(settings, say=quiet, progress=quiet)
    assert again.items == 8 and again.build_seconds == 0.0


def test_an_interrupted_build_resumes(settings_factory, tiny_catalogue):
    settings = settings_factory(catalogue=str(tiny_catalogue), batch_size=4)

    def stop_after_first_batch(stage, done, total):
        if stage.startswith("2/2") and done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bootstrap.open_served(settings, say=quiet, progress=stop_after_first_batch)
    said = []
    served = bootstrap.open_served(settings, say=said.append, progress=quiet)
    assert served.items == 8
    assert any("4 indexed, 4 already indexed" in line for line in said)


def test_two_starts_at_once_build_once(settings_factory, tiny_catalogue, monkeypatch):
    settings = settings_factory(catalogue=str(tiny_catalogue))
    calls, real = [], bootstrap._ingest

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bootstrap, "_ingest", counting)
    results, errors = [], []

    def start():
        try:
            results.append(bootstrap.open_served(settings, say=quiet, progress=quiet).items)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and results == [8, 8] and len(calls) == 1


def test_builtin_catalogue_is_generated_with_its_own_examples(settings_factory):
    served = bootstrap.open_served(settings_factory(), say=quiet, progress=quiet, n_items=10)
    assert served.catalogue.builtin and served.items == 10
    assert (served.catalogue.image_root).is_dir() and not list(served.state_dir.glob("data.partial-*"))
    made = examples.for_catalogue(served, n=3)  # the shipped ones belong to the 600-item catalogue
    assert len(made) == 3 and all(e.path.is_file() and e.path.parent == served.state_dir / "examples" for e in made)
    ids = {it.id for it in served.index.get([e.source_id for e in made])}
    assert ids == {e.source_id for e in made}
    assert examples.for_catalogue(served, n=3)[0].path == made[0].path  # made once, then reused


def test_an_explicit_index_that_does_not_exist_says_how_to_fix_it(settings_factory, tmp_path):
    with pytest.raises(IndexError_, match="DRAPE_CATALOGUE"):
        bootstrap.open_served(settings_factory(index_dir=tmp_path / "nope"), say=quiet)


def test_build_exposes_only_the_catalogue_and_examples(settings_factory, tiny_catalogue):
    import demo

    app = demo.build(settings_factory(catalogue=str(tiny_catalogue)), say=quiet)
    try:
        allowed = app.allowed_paths
        assert allowed[0] == str(tiny_catalogue.resolve()) and len(allowed) == 2
        assert allowed[1].endswith("examples")
        home = str(app.handlers.engine.settings.home)
        assert not any(home == a or a == "/" for a in allowed)
        assert {fn.api_name for fn in app.blocks.fns.values() if fn.api_visibility == "public"} >= {
            "search", "rerank", "compare", "share", "apply_preset", "catalogue"}
    finally:
        app.blocks.close()
