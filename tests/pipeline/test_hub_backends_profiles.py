"""Profiles, the visible offline fallback, and text / image + text search through the Engine."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from pipeline import config, profiles
from pipeline.engine import Engine

from .test_hub_backends import hf_cache, picture, tiny  # noqa: F401  (shared fixtures)


def load(tmp_path, **overrides):
    return config.load(overrides={"home": tmp_path / "home", "index_dir": tmp_path / "idx", **overrides}, environ={})


def test_profiles_pick_defaults_but_never_override_an_explicit_stage(tmp_path):
    online = profiles.resolve(load(tmp_path, profile="online", inpainter="ns"))
    assert (online.parser, online.inpainter, online.embedder) == ("segformer", "ns", "fashion-clip")
    assert online.parse_size == 320  # the 2-core budget (docs/models.md) ...
    assert profiles.resolve(load(tmp_path, profile="online", parse_size=512)).parse_size == 512  # ... unless set
    hq = profiles.resolve(load(tmp_path, profile="online-hq"))
    assert (hq.inpainter, hq.parse_size) == ("lama", None)
    paper = profiles.resolve(load(tmp_path, profile="paper"))
    assert (paper.parser, paper.inpainter, paper.embedder) == ("segformer", "telea", "inception-resnet-v2")
    rcnn = profiles.resolve(load(tmp_path, profile="paper", detectron2_config="c.yaml", detectron2_weights="w.pth"))
    assert rcnn.parser == "detectron2"
    offline = profiles.resolve(load(tmp_path))
    assert (offline.parser, offline.inpainter, offline.embedder) == ("classical", "telea", "efficientnet-lite0")
    env = config.load(environ={"DRAPE_PROFILE": "online", "DRAPE_EMBEDDER": "efficientnet-lite0",
                               "DRAPE_MODELS": "segformer=/m/seg, fashion-clip=org/clip"})
    assert profiles.resolve(env).embedder == "efficientnet-lite0"
    assert env.models == {"segformer": "/m/seg", "fashion-clip": "org/clip"}


def test_unreachable_hub_falls_back_to_offline_visibly(tmp_path, hf_cache, caplog):  # noqa: F811
    engine = Engine(load(tmp_path, profile="online-hq"))  # default hub ids, empty cache, HF_HUB_OFFLINE=1
    with caplog.at_level(logging.WARNING, logger="pipeline.profiles"):
        assert engine.parser.name == "classical"
        assert engine.inpainter.name == "telea"
        assert engine.signature()["embedder"] == "efficientnet-lite0"
    assert len(engine.notices) == 3 and all("offline" in n for n in engine.notices)
    assert "mattmdjaga/segformer_b2_clothes" in engine.notices[0]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 3
    assert (engine.settings.parser, engine.settings.embedder) == ("classical", "efficientnet-lite0")


def test_a_bad_configuration_is_not_hidden_by_the_fallback(tmp_path, tiny):  # noqa: F811
    from pipeline.registry import UnknownBackend

    with pytest.raises(UnknownBackend, match="unknown parser backend"):
        Engine(load(tmp_path, parser="no-such-parser"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ValueError):  # a corrupt local model is an error to fix, not a reason to fall back
        Engine(load(tmp_path, profile="online", models={"segformer": str(broken)})).parser


def test_text_search_needs_a_text_tower(tmp_path):
    with pytest.raises(ValueError, match="no text tower"):
        Engine(load(tmp_path)).text_features("red dress")


@pytest.fixture(scope="module")
def online(tmp_path_factory, tiny):  # noqa: F811
    tmp_path = tmp_path_factory.mktemp("online")
    from pipeline.index import open_index
    from pipeline.types import Item

    models = {"segformer": str(tiny["segformer"]), "fashion-clip": str(tiny["clip"]), "lama": str(tiny["lama"])}
    engine = Engine(load(tmp_path, profile="online-hq", models=models))
    engine.index = open_index(engine.settings, engine.signature(), create=True)
    images = [picture(64, 48, seed) for seed in range(4)]
    feats = engine.features_many(images)
    engine.index.add([Item(id=f"item{i}", image=f"{i}.jpg") for i in range(4)],
                     np.stack([f.shape for f in feats]), np.stack([f.colour for f in feats]))
    engine.index.flush()
    return engine


def test_online_engine_runs_every_hub_backend(online):
    assert (online.parser.name, online.inpainter.name, online.embedder.name) == ("segformer", "lama", "fashion-clip")
    assert online.notices == []
    a = online.analyse(picture(80, 60, 9))
    assert a.features.shape.shape == (8,) and a.parsing.backend == "segformer"


def test_text_only_search_is_shape_only(online):
    result = online.search_text("red floral midi dress", top_k=3)
    assert result.weight == 1.0 and len(result.hits) == 3 and set(result.timings) == {"text", "search"}
    q = online.text_features("red floral midi dress")
    for hit in result.hits:
        assert hit.score == pytest.approx(hit.shape, abs=1e-5)
    assert result.hits[0].shape == pytest.approx(max(h.shape for h in result.hits))
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-5)


def test_image_plus_text_blends_shape_and_keeps_colour(online):
    a = online.analyse(picture(80, 60, 9))
    txt = online.text_features("blue jeans")
    mixed = online.with_text(a, "blue jeans", 0.3)
    want = 0.7 * a.features.shape + 0.3 * txt
    np.testing.assert_allclose(mixed.features.shape, want / np.linalg.norm(want), atol=1e-5)
    assert mixed.features.colour is a.features.colour and "text" in mixed.timings
    np.testing.assert_allclose(online.with_text(a, "blue jeans", 0.0).features.shape, a.features.shape, atol=1e-6)
    np.testing.assert_allclose(online.with_text(a, "blue jeans", 1.0).features.shape, txt, atol=1e-6)
    result = online.search_text("blue jeans", image=picture(80, 60, 9), text_weight=0.3, weight=0.6, top_k=2)
    assert result.weight == 0.6 and len(result.hits) == 2 and "text" in result.timings


def test_profiles_cli_show(capsys):
    assert profiles.main(["show"]) == 0
    assert "online: parser=segformer" in capsys.readouterr().out


def test_parse_size_reaches_the_segformer_parser(tmp_path, tiny):  # noqa: F811
    engine = Engine(load(tmp_path, profile="online", models={"segformer": str(tiny["segformer"])}, parse_size=160))
    assert engine.parser.size == (160, 160)
    assert engine.analyse(picture(90, 70, 3)).parsing.label_map.shape == (90, 70)


def test_cli_text_and_photo_plus_text_search(online, tmp_path, monkeypatch, capsys):
    import json

    import cv2

    from pipeline import cli

    monkeypatch.setenv("DRAPE_MODELS", ",".join(f"{k}={v}" for k, v in online.settings.models.items()))
    monkeypatch.setenv("DRAPE_HOME", str(online.settings.home))
    idx = str(online.settings.index_dir)
    base = ["--profile", "online-hq", "--index", idx, "--top-k", "2"]
    assert cli.main(["search", "--text", "red floral midi dress", *base, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["results"]
    assert len(hits) == 2 and all(h["score"] == pytest.approx(h["shape"], abs=1e-5) for h in hits)
    photo = tmp_path / "q.png"
    cv2.imwrite(str(photo), picture(80, 60, 9))
    assert cli.main(["search", str(photo), "--text", "blue jeans", "--text-weight", "0.3", *base]) == 0
    assert "text weight 0.3" in capsys.readouterr().out
    assert cli.main(["search", *base]) == 2  # neither a photo nor a text
    assert "needs a photo, --text, or both" in capsys.readouterr().err
    assert cli.main(["search", "--text", "red", "--text-weight", "2", *base]) == 2
    assert "--text-weight must be within 0..1" in capsys.readouterr().err
    monkeypatch.delenv("DRAPE_MODELS")
    assert cli.main(["search", "--text", "red", "--index", idx]) == 2  # offline profile: not this index's embedder
    assert "was built" in capsys.readouterr().err
