"""Hub backends with tiny random-initialised models of the real architectures.

The hub is unreachable here, so each model is built from a tiny config, saved
with save_pretrained (or onnx.helper), and loaded through the same code path
a hub id takes: a local folder, and a fake HF cache entry under a hub-style
id in offline mode (hf_hub_download / from_pretrained with local_files_only).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.labels import ATR, INDEX, OCCLUDERS

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime")

LAMA_SIZE = 512


def _tiny_segformer(folder: Path) -> Path:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    torch.manual_seed(0)
    names = {i: n.title() for i, n in enumerate(ATR)}  # the model card spells them "Upper-clothes"
    cfg = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[4, 2], hidden_sizes=[8, 16],
                          patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                          decoder_hidden_size=16, id2label=names, label2id={v: k for k, v in names.items()})
    SegformerForSemanticSegmentation(cfg).eval().save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(
        {"size": {"height": 64, "width": 64}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}))
    return folder


def _tiny_clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    torch.manual_seed(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {c: i for i, c in enumerate(letters)}
    vocab.update({c + "</w>": len(letters) + i for i, c in enumerate(letters)})
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    n = len(vocab)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=n, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=24, bos_token_id=n - 2, eos_token_id=n - 1, pad_token_id=n - 1),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=8)
    CLIPModel(cfg).eval().save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({"crop_size": {"height": 32, "width": 32}}))
    return folder


def tiny_lama(path: Path, scale: float = 255.0, size: int = LAMA_SIZE) -> Path:
    """LaMa's interface (inputs image, mask; output N×3×512×512) around a trivial fill: grey in the hole."""
    import onnx
    from onnx import TensorProto, helper

    def io(name, c):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", c, size, size])

    consts = [helper.make_tensor(n, TensorProto.FLOAT, [], [v]) for n, v in (("one", 1.0), ("half", 0.5), ("scale", scale))]
    nodes = [helper.make_node("Sub", ["one", "mask"], ["keep"]), helper.make_node("Mul", ["image", "keep"], ["kept"]),
             helper.make_node("Mul", ["mask", "half"], ["fill"]), helper.make_node("Add", ["kept", "fill"], ["mix"]),
             helper.make_node("Mul", ["mix", "scale"], ["output"])]
    graph = helper.make_graph(nodes, "tiny-lama", [io("image", 3), io("mask", 1)], [io("output", 3)], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-models")
    return {"segformer": _tiny_segformer(root / "segformer"), "clip": _tiny_clip(root / "clip"),
            "lama": tiny_lama(root / "lama" / "lama_fp32.onnx").parent, "root": root}


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    """An empty HF cache in offline mode: what a machine with no network and no downloads sees."""
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hf"


def cache_as(cache: Path, repo_id: str, folder: Path) -> str:
    """Put `folder` into the HF cache as `repo_id`@main, the layout hf_hub_download writes."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    entry = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, entry / "snapshots" / commit)
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(commit)
    return repo_id


def picture(h=96, w=72, seed=0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


# --- SegFormer ---------------------------------------------------------------------

def test_atr_names_map_to_canonical_labels():
    from pipeline.parse.segformer import label_table

    table, notes = label_table({str(i): n.title() for i, n in enumerate(ATR)})
    assert [int(t) for t in table] == [INDEX[n] for n in ATR] and not notes
    generic, notes = label_table({i: f"LABEL_{i}" for i in range(len(ATR))})
    assert np.array_equal(generic, table) and "ATR order" in notes[0]
    odd, notes = label_table({0: "Background", 1: "Upperclothes", 2: "Cape"})
    assert list(odd) == [INDEX["background"], INDEX["upper-clothes"], INDEX["background"]] and "Cape" not in notes[0]


def test_segformer_shapes_and_onnx_matches_torch(tiny, tmp_path):
    from pipeline.parse.segformer import SegformerParser

    onnx_parser = SegformerParser(tiny["segformer"], cache_dir=tmp_path)
    assert onnx_parser.runtime == "onnx" and list(tmp_path.glob("segformer-*.onnx"))
    img = picture(100, 80)
    parsing = onnx_parser.parse(img)
    assert parsing.label_map.shape == (100, 80) and parsing.label_map.dtype == np.int16
    assert set(np.unique(parsing.label_map)) <= {INDEX[n] for n in ATR}
    areas = [g.area for g in parsing.garments]
    assert areas == sorted(areas, reverse=True)
    torch_parser = SegformerParser(tiny["segformer"], runtime="torch")
    x = onnx_parser.preprocess(img)
    assert x.shape == (1, 3, 64, 64)
    np.testing.assert_allclose(onnx_parser._run(x), torch_parser._run(x), atol=1e-4)


def test_segformer_one_garment_per_label_largest_first(tiny, tmp_path):
    """Crafted logits: a dress, a smaller top, an arm across the dress, a speck of pants."""
    from pipeline.parse.segformer import SegformerParser

    parser = SegformerParser(tiny["segformer"], cache_dir=tmp_path, min_area=0.01)
    a = {n: i for i, n in enumerate(ATR)}
    ids = np.full((16, 16), a["background"])
    ids[6:16, 2:14] = a["dress"]
    ids[0:6, 4:12] = a["upper-clothes"]
    ids[9:11, 0:16] = a["left-arm"]
    ids[0, 0] = a["pants"]  # a speck: below min_area, no garment
    logits = np.eye(len(ATR), dtype=np.float32)[ids].transpose(2, 0, 1)[None] * 10
    parser._run = lambda x: logits
    parsing = parser.parse(picture(64, 64))
    assert [g.label for g in parsing.garments] == ["dress", "upper-clothes"]
    assert parsing.garments[0].score > 0.9
    assert parsing.occluders[38:42].all() and "left-arm" in OCCLUDERS
    assert parsing.label_map[60, 32] == INDEX["dress"] and parsing.label_map[4, 32] == INDEX["upper-clothes"]


def test_segformer_hub_id_from_the_hf_cache_offline(tiny, hf_cache, tmp_path):
    from pipeline.parse.segformer import SegformerParser

    repo = cache_as(hf_cache, "drape-test/segformer-tiny", tiny["segformer"])
    parser = SegformerParser(repo, runtime="torch")  # from_pretrained(repo_id, local_files_only=True)
    assert parser.parse(picture()).label_map.shape == (96, 72)
    assert SegformerParser(repo, cache_dir=tmp_path).runtime == "onnx"


# --- FashionCLIP ---------------------------------------------------------------------

def test_fashionclip_image_and_text_unit_rows_onnx_matches_torch(tiny, tmp_path):
    from pipeline.embed.fashionclip import FashionCLIP

    e = FashionCLIP(tiny["clip"], cache_dir=tmp_path)
    assert e.runtime == "onnx" and e.dim == 8 and e.size == 32
    imgs = [picture(50, 40, s) for s in range(3)]
    v = e.embed(imgs)
    texts = ["red floral midi dress", "hat", "a long description " * 6]  # the last one is truncated
    t = e.embed_text(texts)
    assert v.shape == (3, 8) and t.shape == (3, 8) and e.embed([]).shape == (0, 8)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(e.embed_text("hat")[0], t[1], atol=1e-5)  # padding does not change a text
    ref = FashionCLIP(tiny["clip"], runtime="torch")
    np.testing.assert_allclose(ref.embed(imgs), v, atol=1e-4)
    np.testing.assert_allclose(ref.embed_text(texts), t, atol=1e-4)


def test_fashionclip_hub_id_from_the_hf_cache_offline(tiny, hf_cache, tmp_path):
    from pipeline.embed.fashionclip import FashionCLIP

    repo = cache_as(hf_cache, "drape-test/fashion-clip-tiny", tiny["clip"])
    e = FashionCLIP(repo, cache_dir=tmp_path)
    assert e.embed_text(["blue jeans"]).shape == (1, 8)  # the tokenizer comes from the cache too


# --- LaMa --------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [255.0, 1.0])
def test_lama_changes_only_masked_pixels(tiny, tmp_path, scale):
    from pipeline.restore.lama import LaMa

    folder = tiny["lama"] if scale == 255.0 else tiny_lama(tmp_path / "unit" / "lama_fp32.onnx", scale).parent
    lama = LaMa(folder)
    assert lama.size == LAMA_SIZE and lama.layout == "image+mask"
    img = picture(300, 200)
    mask = np.zeros((300, 200), bool)
    mask[100:140, 50:120] = True
    out = lama.inpaint(img, mask)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], img[~mask])
    assert abs(float(np.median(out[mask])) - 128) <= 2  # the stand-in fills grey, whatever its output scale
    assert lama.inpaint(img, np.zeros_like(mask)) is img


def test_lama_single_four_channel_input_export(tmp_path):
    """Some exports take one N×4×H×W input (masked RGB + mask) and return [0, 1]."""
    import onnx
    from onnx import TensorProto, helper

    from pipeline.restore.lama import LaMa

    def io(name, c):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, c, LAMA_SIZE, LAMA_SIZE])

    consts = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("s0", 0), ("s3", 3), ("s4", 4), ("ax", 1))]
    consts.append(helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]))
    nodes = [helper.make_node("Slice", ["input", "s0", "s3", "ax"], ["rgb"]),
             helper.make_node("Slice", ["input", "s3", "s4", "ax"], ["hole"]),
             helper.make_node("Mul", ["hole", "half"], ["fill"]), helper.make_node("Add", ["rgb", "fill"], ["output"])]
    graph = helper.make_graph(nodes, "rgbm", [io("input", 4)], [io("output", 3)], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(tmp_path / "lama.onnx"))
    lama = LaMa(tmp_path / "lama.onnx")  # a file path works as well as a folder or a hub id
    assert lama.layout == "rgbm"
    img, mask = picture(512, 512), np.zeros((512, 512), bool)
    mask[10:60, 400:500] = True
    out = lama.inpaint(img, mask)
    assert np.array_equal(out[~mask], img[~mask]) and abs(float(np.median(out[mask])) - 128) <= 1


def test_lama_context_box_is_square_at_model_size_when_it_fits():
    from pipeline.restore.lama import context_box

    mask = np.zeros((1000, 800), bool)
    mask[500:520, 700:790] = True
    y0, y1, x0, x1 = context_box(mask, 512)
    assert (y1 - y0, x1 - x0) == (512, 512) and x1 == 800 and y0 <= 500 and y1 >= 520


# --- InceptionResNetV2 (the paper) ------------------------------------------------------------

def test_inception_offline_without_cached_weights_is_unavailable(monkeypatch, tmp_path):
    from pipeline.embed.inception import InceptionResNetV2
    from pipeline.hub import HubUnavailable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(HubUnavailable, match="offline"):
        InceptionResNetV2()


@pytest.mark.slow  # TensorFlow import + graph build: 15–40 s on 2 shared cores
def test_inception_random_weights_1536_unit_rows():
    try:
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
    except Exception as exc:  # a broken install raises more than ImportError
        pytest.skip(f"tensorflow unavailable: {exc}")
    from pipeline.embed.inception import InceptionResNetV2

    e = InceptionResNetV2(model="none", size=75)  # the smallest input Keras allows: same graph, less compute
    v = e.embed([picture(80, 60, 1), picture(40, 90, 2)])
    assert v.shape == (2, 1536)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)


# --- detectron2 ----------------------------------------------------------------------------------

def test_detectron2_masks_become_visible_garments_and_parts_stay():
    from pipeline.parse.detectron2 import merge
    from pipeline.types import Garment, Parsing

    lm = np.zeros((20, 20), np.int16)
    lm[5:15, 5:15] = INDEX["garment"]
    lm[8:10, 0:20] = INDEX["skin"]  # an arm across
    parts = Parsing(lm, [Garment("garment", lm == INDEX["garment"])])
    dress = np.zeros((20, 20), bool)
    dress[5:15, 5:15] = True  # DeepFashion2: shape-based, the arm is inside
    top = np.zeros((20, 20), bool)
    top[5:7, 6:9] = True
    label_map, garments = merge(parts, np.stack([dress, top, dress]), np.array([11, 0, 8]), np.array([0.9, 0.8, 0.1]))
    assert [g.label for g in garments] == ["dress", "upper-clothes"]  # the 0.1 skirt is dropped
    assert not garments[0].mask[8:10].any() and garments[0].area == 100 - 20
    assert (label_map[8:10] == INDEX["skin"]).all() and label_map[6, 7] == INDEX["upper-clothes"]


def test_detectron2_missing_gives_the_install_hint():
    import importlib.util

    from pipeline.parse.detectron2 import Detectron2Parser

    if importlib.util.find_spec("detectron2") is not None:
        pytest.skip("detectron2 is installed")
    with pytest.raises(ImportError, match="facebookresearch/detectron2"):
        Detectron2Parser(config="c.yaml", weights="w.pth")


def test_detectron2_runs_when_installed_and_configured():
    import os

    pytest.importorskip("detectron2")
    if not (os.environ.get("DRAPE_DETECTRON2_CONFIG") and os.environ.get("DRAPE_DETECTRON2_WEIGHTS")):
        pytest.skip("set DRAPE_DETECTRON2_CONFIG and DRAPE_DETECTRON2_WEIGHTS to a DeepFashion2 Mask R-CNN")
    from pipeline.parse.detectron2 import Detectron2Parser

    parsing = Detectron2Parser().parse(picture(256, 192))
    assert parsing.label_map.shape == (256, 192)
