"""The search entry points under hostile input: Engine.analyse on any decoded array, and the
demo's handlers on any payload an API client can send (Gradio passes image inputs through raw:
preprocess=False). Everything either answers or raises ImageError / gr.Error; nothing else.
"""
from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bench.fuzz import corpus, mutate
from pipeline.imageio import ImageError

CORPUS = corpus()
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                      HealthCheck.data_too_large])

# --- Engine.analyse -----------------------------------------------------------------------------------

pixels = st.one_of(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 160), st.integers(1, 160), st.sampled_from([3, 4])),
               elements=st.integers(0, 255), fill=st.integers(0, 255)),
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 900), st.integers(1, 3)), fill=st.sampled_from([0, 255])),
    hnp.arrays(np.float32, st.tuples(st.integers(1, 64), st.integers(1, 64), st.just(3)),
               elements=st.floats(-2, 2, width=32), fill=st.sampled_from([0.0, 1.0])),
    hnp.arrays(np.uint16, st.tuples(st.integers(1, 64), st.integers(1, 64)), fill=st.integers(0, 65535)),
)


@settings(max_examples=25, **SETTINGS)
@given(pixels)
def test_analyse_any_decoded_array(engine, arr):
    try:
        a = engine.analyse(arr)
    except ImageError:
        return
    for v in (a.features.shape, a.features.colour):
        assert v.dtype == np.float32 and np.isfinite(v).all() and abs(float(np.linalg.norm(v)) - 1) < 1e-3
    hits = engine.rank(a, 0.5, 3).hits
    assert len(hits) == 3 and all(np.isfinite(h.score) for h in hits)


@settings(max_examples=12, **SETTINGS)
@given(st.sampled_from(sorted(CORPUS)), st.randoms(use_true_random=False))
def test_analyse_mutated_files_end_to_end(engine, name, rng):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            a = engine.analyse(mutate(CORPUS[name][0], rng))
        except ImageError:
            return
    assert np.isfinite(a.features.shape).all() and np.isfinite(a.features.colour).all()


# --- the demo's handlers ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("uploads")  # plays Gradio's upload folder


@pytest.fixture(scope="module")
def handlers(engine, uploads, tmp_path_factory):
    from demo.bootstrap import Catalogue, Served
    from demo.handlers import Handlers

    cat = Catalogue("rel", "rel", None, None, about="reliability")
    return Handlers(Served(engine, cat, tmp_path_factory.mktemp("state"), 6, ["dress"]), [], upload_roots=[uploads])


junk = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.text(max_size=20),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), junk)
outside = st.sampled_from(["/etc/passwd", "../../../../etc/passwd", "/proc/self/environ", "~/.ssh/id_rsa", "",
                           "http://127.0.0.1:9/x.jpg", "file:///etc/passwd", "/tmp/\x00.jpg", "C:\\Windows\\win.ini",
                           "\\\\server\\share\\x.jpg", "/" + "a" * 5000])
bodies = st.one_of(st.sampled_from(sorted(CORPUS)).map(lambda k: CORPUS[k][0]), st.binary(max_size=512),
                   st.tuples(st.sampled_from(sorted(CORPUS)), st.randoms(use_true_random=False))
                   .map(lambda t: mutate(CORPUS[t[0]][0], t[1])))


def _call(fn, *args, **kwargs):
    """The handler's answer, or None when it refused with a gr.Error that says something."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            assert isinstance(exc.message, str) and len(exc.message) > 10, exc.message
            return None


EXTRAS = ("alpha", "beta", "category", "colour", "pattern")  # newer optional inputs, fuzzed where a handler has them


def extras(fn, data) -> dict:
    names = [n for n in inspect.signature(fn).parameters if n in EXTRAS]
    return {n: data.draw(st.one_of(numbers, st.lists(st.one_of(st.text(max_size=8), junk), max_size=3)), n)
            for n in names}


@settings(max_examples=40, **SETTINGS)
@given(data=st.data())
def test_search_handler_on_any_upload(handlers, uploads, data):
    body = data.draw(bodies, "bytes")
    f = uploads / f"u{data.draw(st.integers(0, 3))}.jpg"
    f.write_bytes(body)
    payload = data.draw(st.sampled_from([{"path": str(f), "orig_name": "photo.jpg"}, str(f),
                                         {"path": str(f), "meta": {"_type": "gradio.FileData"}}]), "payload")
    weight = data.draw(st.one_of(st.floats(0, 1), numbers), "w")
    top_k = data.draw(st.one_of(st.integers(1, 50), numbers), "k")
    out = _call(handlers.search, payload, weight, top_k, data.draw(junk, "restore"), cache=None,
                **extras(handlers.search, data))
    if out is not None:
        assert isinstance(out[-2], dict)
        cache = out[-1]
        _call(handlers.rerank, data.draw(numbers, "w2"), data.draw(numbers, "k2"), True, cache=cache,
              **extras(handlers.rerank, data))
        _call(handlers.share, *[data.draw(numbers) for _ in range(7)], cache=cache, **extras(handlers.share, data))


@settings(max_examples=60, **SETTINGS)
@given(path=st.one_of(outside, st.text(max_size=60), junk), wrap=st.booleans())
def test_paths_an_api_client_names_are_never_read(handlers, uploads, path, wrap):
    assume(not (isinstance(path, str) and Path(path.replace("\x00", "")).resolve().is_relative_to(uploads)))
    payload = {"path": path, "orig_name": "x.jpg"} if wrap else path
    if payload is None:
        return  # "no photo yet" is a normal state, covered elsewhere
    with pytest.raises(gr.Error):
        handlers.search(payload, 0.5, 5, True, cache=None)


@settings(max_examples=60, **SETTINGS)
@given(args=st.tuples(numbers, numbers, junk, numbers, junk, numbers, junk), text=st.one_of(st.text(), junk),
       data=st.data())
def test_sliders_and_presets_take_any_value(handlers, args, text, data):
    _call(handlers.rerank, args[0], args[1], args[2], cache=None, **extras(handlers.rerank, data))
    _call(handlers.share, *args, cache=None, **extras(handlers.share, data))
    _call(handlers.apply_preset, text if isinstance(text, str) else str(text))
