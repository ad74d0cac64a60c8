"""The colouriser: training pairs, a tiny training run (loss falls), resume, reload, inference."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.sketch import canvas
from pipeline.sketch.colourise import Colouriser, Config, encode
from pipeline.sketch.features import ItemEdges
from pipeline.sketch.train import make_pairs, train
from tests.pipeline.sketch_fakes import garment

TINY = Config(size=64, ngf=8, ndf=8)


@pytest.fixture(scope="module")
def pairs():
    from pipeline.edges import EDGES

    canny = EDGES.create("canny")
    items = []
    for shape in ("dress", "pants", "tshirt"):
        for rgb in ((200, 30, 40), (30, 60, 190)):
            img = garment(shape, rgb, size=128)
            mask = img.min(axis=2) < 230
            items.append(ItemEdges(img, mask, canny.detect(img), np.zeros(4), np.zeros(4)))
    return make_pairs(items, size=64, variants=1, progress=False)


def test_pairs_are_aligned_sketch_and_photo(pairs):
    assert pairs.x.shape == (6, 5, 64, 64) and pairs.y.shape == (6, 3, 64, 64)
    x = pairs.x[0].astype(np.float32) / 127.5 - 1
    ink, photo = x[0] > 0, pairs.y[0].transpose(1, 2, 0)
    garment_px = photo.min(axis=2) < 230
    assert (ink & garment_px).sum() / max(ink.sum(), 1) > 0.3  # the pen runs along the garment, not elsewhere
    assert (x[4] > 0).any()  # some colour hints


def test_training_lowers_the_loss_and_resumes_from_its_checkpoint(pairs, tmp_path):
    import torch

    torch.manual_seed(0)
    logs: list[str] = []
    # one thread: on a shared 2-core box, two torch threads wait on each other more than they work
    run = dict(batch=2, lr=1e-3, cfg=TINY, progress=False, log=logs.append, threads=1, holdout=0.0)
    hist = train(pairs, tmp_path, epochs=4, **run)
    assert len(hist) == 4 and hist[-1]["l1"] < hist[0]["l1"]
    assert (tmp_path / "colouriser.pt").is_file()
    assert json.loads((tmp_path / "train.json").read_text())["history"][-1]["epoch"] == 4
    more = train(pairs, tmp_path, epochs=5, **run)
    assert "resuming" in logs[4] and [h["epoch"] for h in more] == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="another --out"):
        train(pairs, tmp_path, epochs=6, **dict(run, cfg=Config(size=64, ngf=16, ndf=16)))

    model = Colouriser.load(tmp_path, threads=1)
    sketch = np.full((200, 200, 3), 255, np.uint8)
    sketch[40:160, 60:140] = (200, 30, 40)
    sketch[40:160, 58:60] = 0
    rgb, mask = model.colourise(canvas.read(sketch), out_side=96)
    assert rgb.shape == (96, 96, 3) and rgb.dtype == np.uint8 and mask.shape == (96, 96)


def test_encode_frames_the_drawing_on_its_strokes():
    small = np.full((300, 300, 3), 255, np.uint8)
    small[100:140, 100:140] = (30, 60, 190)
    big = np.full((600, 600, 3), 255, np.uint8)
    big[300:380, 100:180] = (30, 60, 190)
    a, b = encode(canvas.read(small), 32), encode(canvas.read(big), 32)
    assert np.abs(a - b).mean() < 0.05  # same drawing, other size and place: same input


def test_a_missing_model_says_how_to_train_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m pipeline.sketch train"):
        Colouriser.load(tmp_path / "nothing")
