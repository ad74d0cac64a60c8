"""The learned restorer: losses on known inputs, a few steps learn, checkpoints round-trip,
and the backend changes only pixels inside the mask. Tiny shapes throughout (CPU, seconds)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pipeline.restore import INPAINTERS  # noqa: E402
from pipeline.restore.learned import losses  # noqa: E402
from pipeline.restore.learned.data import crop_box, texture_map  # noqa: E402
from pipeline.restore.learned.model import Config, Restorer, pyramid_fill  # noqa: E402
from pipeline.restore.learned.train import Trainer, load, save  # noqa: E402

TINY = Config(size=64, width=8, blocks=2, cells=8)


@pytest.fixture(scope="module")
def feature():
    torch.set_num_threads(2)
    return losses.FeatureLoss()


def _hole(n=2, size=64, box=(20, 40, 16, 44)):
    h = torch.zeros(n, 1, size, size)
    y0, y1, x0, x1 = box
    h[:, :, y0:y1, x0:x1] = 1
    return h


# --- losses on known inputs ------------------------------------------------------
def test_masked_l2_counts_only_the_hole():
    a, b = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    b[..., :4, :] = 0.5  # differs only in the top half
    top = torch.zeros(1, 1, 8, 8)
    top[..., :4, :] = 1
    assert losses.masked_l2(a, b, top).item() == pytest.approx(0.25)
    assert losses.masked_l2(a, b, 1 - top).item() == 0.0
    assert losses.masked_l2(a, b, torch.zeros_like(top)).item() == 0.0  # empty hole: no NaN
    # whole-mix term: 0.1 × mean over everything (half the pixels at 0.25)
    assert losses.reconstruction(a, a, b, top).item() == pytest.approx(0.25 + 0.1 * 0.125)


def test_ssim_loss_matches_the_evaluation_measure_inside_the_hole():
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(0)
    clean = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    out = (clean + 0.3 * torch.randn(1, 3, 32, 32, generator=g)).clamp(-1, 1)
    hole = _hole(1, 32, (8, 24, 10, 22))  # 3+ px from every border: no padding differences
    assert losses.ssim_loss(clean, clean, hole).item() == pytest.approx(0.0, abs=1e-5)
    _, smap = structural_similarity(out[0].permute(1, 2, 0).numpy(), clean[0].permute(1, 2, 0).numpy(), win_size=7,
                                    channel_axis=2, data_range=2, full=True, use_sample_covariance=False)
    want = 1 - smap.mean(axis=2)[8:24, 10:22].mean()
    assert losses.ssim_loss(out, clean, hole).item() == pytest.approx(want, abs=1e-4)
    flat = clean.mean(dim=(2, 3), keepdim=True).expand_as(clean)  # the mean colour: L2's favourite fill
    assert losses.ssim_loss(flat, clean, hole).item() > 0.9


def test_least_squares_gan_terms():
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    assert losses.d_loss(ones, zeros).item() == 0.0  # a perfect discriminator
    assert losses.d_loss(zeros, ones).item() == pytest.approx(2.0)
    assert losses.g_adversarial(ones).item() == 0.0
    assert losses.g_adversarial(zeros).item() == pytest.approx(1.0)


def test_background_patch_loss_is_distance_to_nearest_real_patch():
    size, hole = 32, _hole(1, 32, (8, 24, 8, 24))
    real = torch.full((1, 3, size, size), -0.5)
    background = torch.ones_like(hole)
    assert losses.background_patches(real.clone(), real, hole, background).item() == pytest.approx(0.0)
    gen = torch.full_like(real, 0.5)
    assert losses.background_patches(gen, real, hole, background).item() == pytest.approx(1.0)
    # Two backdrop colours outside the hole: the nearer one counts, not their mean.
    real2 = real.clone()
    real2[..., :, 16:] = 0.4
    assert losses.background_patches(gen, real2, hole, background).item() == pytest.approx(0.01, abs=1e-5)
    # Garment pixels are not backdrop: with the right half marked garment, only -0.5 patches remain.
    bg_left = background.clone()
    bg_left[..., :, 12:] = 0
    assert losses.background_patches(gen, real2, hole, bg_left).item() == pytest.approx(1.0)
    # The loss trains the generated layer only.
    g = gen.clone().requires_grad_(True)
    losses.background_patches(g, real, hole, background).backward()
    assert g.grad.abs().sum() > 0


def test_feature_loss_zero_on_identical_and_positive_otherwise(feature):
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert feature(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert feature(x, torch.zeros_like(x)).item() > 0.1
    assert not any(p.requires_grad for p in feature.parameters())


def test_alpha_loss_and_helpers():
    g = torch.zeros(1, 1, 4, 4)
    g[..., :2] = 1
    assert losses.alpha_loss(g, g).item() < 1e-3
    assert losses.alpha_loss(1 - g, g).item() > 5
    flat = np.full((64, 64, 3), 90, np.uint8)
    assert np.abs(texture_map(flat, 8).astype(int) - 90).max() <= 1
    img = torch.full((1, 3, 32, 32), 0.3)
    filled = pyramid_fill(img * (1 - _hole(1, 32, (4, 20, 4, 20))), _hole(1, 32, (4, 20, 4, 20)))
    assert torch.allclose(filled, img, atol=1e-5)  # a flat image is filled flat
    m = np.zeros((100, 200), bool)
    m[40:50, 90:100] = True
    y0, y1, x0, x1 = crop_box(m)
    assert y0 <= 40 and y1 >= 50 and x0 <= 90 and x1 >= 100 and (y1 - y0, x1 - x0) == (100, 100)


def test_untrained_model_is_the_push_pull_fill():
    torch.manual_seed(0)
    img, hole = torch.rand(2, 3, 64, 64) * 2 - 1, _hole()
    out = Restorer(TINY).fill(img, hole)
    assert torch.allclose(out, pyramid_fill(img, hole), atol=1e-6)
    assert torch.equal(out * (1 - hole), img * (1 - hole))


# --- training -----------------------------------------------------------------------
def _batch(n=4, size=64, seed=0):
    """Smooth two-colour 'garments' on a plain backdrop, a bar-shaped occluder across them."""
    rng = np.random.default_rng(seed)
    clean = np.empty((n, size, size, 3), np.uint8)
    garment = np.zeros((n, size, size), bool)
    garment[:, 12:52, 14:50] = True
    for k in range(n):
        clean[k] = rng.integers(150, 255, 3)
        top, bottom = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
        clean[k, 12:32, 14:50], clean[k, 32:52, 14:50] = top, bottom
    hole = np.zeros_like(garment)
    hole[:, 24:40, 8:56] = True
    occ = clean.copy()
    occ[hole] = (230, 180, 150)  # skin
    return occ, clean, hole, garment


def test_a_few_steps_reduce_the_loss(feature):
    torch.manual_seed(0)
    trainer = Trainer(TINY, lr=2e-3, feature=feature)
    batch = _batch()
    before = trainer.evaluate(batch)
    for _ in range(12):
        logs = trainer.train_step(batch)
    assert all(np.isfinite(v) for v in logs.values())
    assert trainer.evaluate(batch) < before * 0.9


def test_checkpoint_round_trip_and_resume(tmp_path, feature):
    torch.manual_seed(0)
    trainer = Trainer(TINY, feature=feature)
    trainer.train_step(_batch())
    path = trainer.save(tmp_path / "ck.pt", {"train_seconds": 1.5})
    header, model, blob = load(path)
    assert header["format"] == "drape-restore" and header["version"] == 1
    assert header["step"] == 1 and header["config"] == TINY.to_dict() and header["train_seconds"] == 1.5
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, model.state_dict()[k])
    other = Trainer(TINY, feature=feature)
    other.resume(path)
    assert other.step == 1 and other.opt_g.state_dict()["state"]
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a restorer checkpoint"):
        load(tmp_path / "foreign.pt")


# --- the backend ----------------------------------------------------------------------
def test_backend_changes_only_masked_pixels(tmp_path):
    torch.manual_seed(0)
    model = Restorer(TINY)
    with torch.no_grad():  # a non-zero residual, so the fill is the network's, not only push-pull
        for head in (model.layered.fg.head, model.layered.bg.head):
            head.bias.fill_(0.3)
    path = save(tmp_path / "latest.pt", model, step=3)
    assert "learned" in INPAINTERS
    inp = INPAINTERS.create("learned", model=str(path), threads=1)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (90, 130, 3), dtype=np.uint8)
    mask = np.zeros((90, 130), bool)
    mask[30:50, 60:100] = True
    out = inp.inpaint(image, mask)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], image[~mask])
    assert (out[mask] != image[mask]).any()
    assert inp.inpaint(image, np.zeros_like(mask)) is image


def test_missing_checkpoint_names_the_train_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m pipeline.restore train"):
        INPAINTERS.create("learned", cache_dir=tmp_path)


def test_settings_restore_model_reaches_the_backend(tmp_path):
    from pipeline import config, profiles

    s = config.load(overrides={"inpainter": "learned", "restore_model": str(tmp_path / "m.pt")}, environ={})
    assert profiles.backend_kwargs("inpainter", "learned", s)["model"] == str(tmp_path / "m.pt")
    assert "model" not in profiles.backend_kwargs("inpainter", "learned", config.load(environ={}))


# --- stage 3: the full-resolution refiner ------------------------------------------------
def _patches(n=12, size=32, seed=0):
    """Clean stripes; 'telea' is a flat fill, 'coarse' the clean image plus noise: the best mix leans on coarse."""
    rng = np.random.default_rng(seed)
    clean = np.zeros((n, size, size, 3), np.uint8)
    clean[:, :, ::4] = 200
    clean[:, :, 1::4] = 60
    hole = np.zeros((n, size, size), bool)
    hole[:, 8:24, 8:24] = True
    telea = clean.copy()
    telea[hole] = 128
    coarse = np.clip(clean.astype(int) + rng.integers(-20, 20, clean.shape), 0, 255).astype(np.uint8)
    return {"telea": telea, "coarse": coarse, "hole": hole, "clean": clean}


def test_untrained_refiner_is_the_average_in_the_hole_and_telea_outside():
    from pipeline.restore.learned.refine import Refiner, fuse

    p = _patches(1)
    out = fuse(Refiner(), p["telea"][0], p["coarse"][0], p["hole"][0]).astype(int)
    hole = p["hole"][0]
    mean = (p["telea"][0].astype(int) + p["coarse"][0]) / 2
    assert np.abs(out[hole] - mean[hole]).max() <= 1
    assert np.abs(out[~hole] - p["telea"][0][~hole].astype(int)).max() <= 1


def test_rim_distance_is_zero_outside_and_grows_inwards():
    from pipeline.restore.learned.refine import RIM, rim_distance

    hole = np.zeros((40, 40), bool)
    hole[10:30, 10:30] = True
    d = rim_distance(hole)
    assert d[~hole].max() == 0 and d[20, 20] > d[10, 20] > 0 and d.max() <= 1.0
    assert d[20, 20] == pytest.approx(min(10 / RIM, 1.0), abs=0.1)


def test_a_few_refiner_steps_reduce_its_loss_and_lean_on_the_better_fill():
    from pipeline.restore.learned.refine import _batch, train_refiner

    torch.set_num_threads(2)
    p = _patches()
    fresh, _ = train_refiner(p, minutes=1, steps=0)
    trained, info = train_refiner(p, minutes=1, steps=60, lr=3e-3)
    assert info["steps"] == 60
    telea, coarse, hole, rim, clean = _batch(p, np.arange(len(hole := p["hole"])))
    err = lambda m: float(((m(telea, coarse, hole, rim) - clean).abs() * hole).sum())  # noqa: E731
    with torch.no_grad():
        assert err(trained) < 0.8 * err(fresh)


def test_refiner_rides_in_the_checkpoint_and_changes_only_masked_pixels(tmp_path):
    from pipeline.restore.learned.refine import Refiner
    from pipeline.restore.learned.train import attach_refiner

    path = save(tmp_path / "latest.pt", Restorer(TINY), step=3)
    refiner = Refiner()
    with torch.no_grad():
        refiner.head.bias.fill_(3.0)  # α ≈ 0.95: clearly not the untrained average
    attach_refiner(path, refiner, {"steps": 7})
    header, _, blob = load(path)
    assert header["refiner"]["steps"] == 7 and header["step"] == 3
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (90, 130, 3), dtype=np.uint8)
    mask = np.zeros((90, 130), bool)
    mask[30:50, 60:100] = True
    with_refiner = INPAINTERS.create("learned", model=str(path), threads=1)
    without = INPAINTERS.create("learned", model=str(path), threads=1, refine=False)
    assert with_refiner.refiner is not None and without.refiner is None
    out, base = with_refiner.inpaint(image, mask), without.inpaint(image, mask)
    assert np.array_equal(out[~mask], image[~mask])
    assert (out[mask] != base[mask]).any()


def test_refiner_on_the_holes_box_grown_by_its_reach_equals_the_whole_image():
    from pipeline.restore.learned.refine import REACH, Refiner, fuse
    from pipeline.restore.opencv import _crop_box

    torch.manual_seed(4)
    refiner = Refiner()
    with torch.no_grad():
        for p in refiner.parameters():
            p.normal_(0, 0.3)  # every weight live, so any missing context would show
    rng = np.random.default_rng(4)
    telea, coarse = (rng.integers(0, 255, (120, 150, 3), dtype=np.uint8) for _ in range(2))
    hole = np.zeros((120, 150), bool)
    hole[50:70, 60:95] = True
    whole = fuse(refiner, telea, coarse, hole)
    y0, y1, x0, x1 = _crop_box(hole, pad=REACH + 1)
    boxed = fuse(refiner, telea[y0:y1, x0:x1], coarse[y0:y1, x0:x1], hole[y0:y1, x0:x1])
    assert np.array_equal(boxed[hole[y0:y1, x0:x1]], whole[hole])


def test_refine_command_trains_attaches_resumes_and_versions(tmp_path, shared_data):
    import shutil

    from pipeline.restore.__main__ import main

    source = tmp_path / "photos"
    source.mkdir()
    for p in sorted((shared_data / "validation" / "dress").glob("*.jpg"))[:3]:
        shutil.copy(p, source / p.name)
    out = tmp_path / "restore"
    save(out / "latest.pt", Restorer(TINY), step=12)
    args = ["refine", str(source), "--out", str(out), "--images", "3", "--steps", "4", "--threads", "1"]
    assert main(args) == 0
    header, _, blob = load(out / "latest.pt")
    assert header["step"] == 12 and header["refiner"]["steps"] == 4 and "refiner" in blob
    assert (out / "step_000012_refiner_000004.pt").is_file()
    assert list(out.glob("refine-patches-12-3-0.npz"))  # cut once, reused below
    assert main(args[:-4] + ["--steps", "7", "--threads", "1"]) == 0  # resumes: 3 more steps
    assert load(out / "latest.pt")[0]["refiner"]["steps"] == 7
    assert main(args + ["--fresh"]) == 0
    assert load(out / "latest.pt")[0]["refiner"]["steps"] == 4
