"""Untrusted image bytes: a corpus of odd files, property-based fuzzing, and memory for bombs.

Extends tests/pipeline/test_imageio.py (which pins the happy paths and a few bad files) with
every format × mode we accept, headers claiming 20000×20000 in each format, real
decompression bombs, foreign formats named .jpg, and random mutations (bench/fuzz.py runs
the same for minutes: `python -m bench fuzz --seconds 60`).
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bench.fuzz import OK, corpus, expected, mutate
from pipeline.imageio import MAX_PIXELS, ImageError, as_rgb, decode, load_image

ROOT = Path(__file__).resolve().parents[2]
CORPUS = corpus()


def outcome(data: bytes, name: str = "input.jpg") -> str:
    """OK, or the reason given; any other exception fails the test that calls it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns about corrupt EXIF; the warning is not the verdict
        try:
            a = decode(data, name)
        except ImageError as exc:
            text = str(exc)
            assert text.startswith(f"{name}: ") and len(text) < 300, text  # names the file, stays readable
            return text.split(": ", 1)[1]
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and a.flags.c_contiguous
    assert 0 < a.shape[0] * a.shape[1] <= MAX_PIXELS
    return OK


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_decodes_or_is_refused_with_a_reason(name):
    data, expectation = CORPUS[name]
    assert expected(outcome(data), expectation), (name, outcome(data))


def test_corpus_through_the_file_path_named_jpg(tmp_path):
    """Catalogue files are chosen by suffix: whatever is inside a .jpg gets the same verdicts."""
    for name, (data, expectation) in CORPUS.items():
        p = tmp_path / f"{name}.jpg"
        p.write_bytes(data)
        try:
            load_image(p)
            got = OK
        except ImageError as exc:
            got = str(exc).split(": ", 1)[1]
        assert expected(got, expectation), (name, got)


def test_exif_orientations_rotate_to_the_displayed_shape():
    for k in range(1, 9):
        h, w = decode(CORPUS[f"jpeg-exif-orientation-{k}"][0]).shape[:2]
        assert (h, w) == ((40, 30) if k <= 4 else (30, 40)), k


# --- property-based ---------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_escape_as_anything_but_image_error(data):
    outcome(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(CORPUS)), st.randoms(use_true_random=False))
def test_mutated_images_decode_or_are_refused(name, rng):
    outcome(mutate(CORPUS[name][0], rng))


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.int8, np.int64, np.float32, np.float64, np.bool_]),
                  shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12)))
def test_in_memory_arrays_become_rgb_or_image_error(arr):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # NaN or overflow casts would be silent garbage
        try:
            out = as_rgb(arr)
        except ImageError:
            return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.shape[:2] == arr.shape[:2]


@pytest.mark.parametrize("arr", [np.full((4, 4, 3), "x", object), np.zeros((4, 4, 3), np.complex64),
                                 np.full((4, 4, 3), "ab"), np.full((4, 4, 3), np.nan), np.full((2, 2), -np.inf)])
def test_arrays_that_are_not_pixels(arr):
    test_in_memory_arrays_become_rgb_or_image_error.hypothesis.inner_test(arr)


# --- memory: the decoder's peak for inputs built to exhaust it -----------------------------------------

MEASURE = r"""
import io, json, resource, sys
import numpy as np
from PIL import Image
from bench.fuzz import png_bomb
kind, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def enc(im, fmt, **kw):
    b = io.BytesIO(); im.save(b, fmt, **kw); return b.getvalue()
data = {"palette-transparent": lambda: enc(Image.new("P", (w, h)), "PNG", transparency=0),
        "16-bit": lambda: enc(Image.new("I;16", (w, h), 300), "PNG"),
        "bomb": lambda: png_bomb(w, h)}[kind]()
from pipeline.imageio import ImageError, decode
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    shape, verdict = list(decode(data, kind).shape), "ok"
except ImageError as exc:
    shape, verdict = None, str(exc)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"bytes": len(data), "delta_mb": (peak - before) / 1024, "shape": shape, "verdict": verdict}))
"""


def _peak(kind: str, w: int, h: int) -> dict:
    out = subprocess.run([sys.executable, "-c", MEASURE, kind, str(w), str(h)], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["palette-transparent", "16-bit"])
def test_small_files_at_the_pixel_limit_decode_in_bounded_memory(kind):
    """A 5 KB palette PNG of 24 MP used to take 50 bytes per pixel (float temporaries): ~2 GB at 40 MP."""
    w, h = 4000, 6000
    r = _peak(kind, w, h)
    assert r["verdict"] == "ok" and r["shape"] == [h, w, 3] and r["bytes"] < 200_000
    result_mb = w * h * 3 / 2**20
    assert r["delta_mb"] < 2.5 * result_mb, r  # the decoded image plus the RGB result, no more


def test_a_real_bomb_is_refused_before_it_is_inflated():
    r = _peak("bomb", 9000, 9000)  # 81 MP of zeros in a few hundred KB
    assert "limit" in r["verdict"] and r["delta_mb"] < 40, r
