"""Vocabulary, colour names (synthetic swatches and shared photos), zero-shot with a stand-in text tower, chains."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.colour.lab import LabHistogram
from pipeline.types import Features
from rerank.predictors import CONFIDENCE, PREDICTORS, Attributer, Prediction, build, values_only
from rerank.predictors.colour_names import ColourNames
from rerank.predictors.zero_shot import ZeroShot
from rerank.vocab import VocabularyError, load, parse

VOCAB = load()
PALETTE = VOCAB["colour"].extra["palette"]


def test_vocabulary_file_is_versioned_and_complete():
    assert VOCAB.version >= 1
    assert {"category", "colour", "pattern", "sleeve", "length", "neckline"} <= set(VOCAB.names())
    assert set(PALETTE) == set(VOCAB["colour"].values)
    assert VOCAB["pattern"].values == ("solid", "striped", "checked", "dotted", "floral", "print")
    for attr in VOCAB.attributes.values():
        assert 0 < attr.threshold < 1 and all(0 < t < 1 for t in attr.thresholds.values())
        assert set(attr.text) <= set(attr.values)
        assert all(v in attr.values or v == "" for v in attr.synonyms.values())


def test_normalise_and_thresholds():
    assert VOCAB.normalise("colour", " Gray ") == "grey"
    assert VOCAB.normalise("pattern", "Plaid") == "checked"
    assert VOCAB.normalise("category", "T_Shirt") == "t-shirt" == VOCAB.normalise("category", "tee")
    assert VOCAB.normalise("colour", "chartreuse") is None and VOCAB.normalise("nope", "x") is None
    assert VOCAB["category"].threshold_for("zero-shot") != VOCAB["category"].threshold_for("probe")


def test_bad_vocabulary_is_refused():
    with pytest.raises(VocabularyError):
        parse({"format": "other", "attributes": {}})
    with pytest.raises(VocabularyError, match="two or more"):
        parse({"format": "drape-attributes", "attributes": {"x": {"values": ["a"]}}})


def swatch(rgb, h=48, w=64) -> np.ndarray:
    """A shaded patch of one colour: a garment's folds darken it by up to a third."""
    shade = np.linspace(0.72, 1.0, w)[None, :, None]
    return np.clip(np.asarray(rgb, np.float32)[None, None] * shade, 0, 255).astype(np.uint8).repeat(h, 0)


@pytest.mark.parametrize("name", list(PALETTE))
def test_colour_names_from_histogram_of_a_solid_swatch(name):
    hist = LabHistogram().histogram(swatch(PALETTE[name]), None)
    pred = ColourNames(PALETTE).predict([Features(np.zeros(4, np.float32), hist)])[0]["colour"]
    assert pred.value == name and pred.confidence >= VOCAB["colour"].threshold


def test_colour_names_from_pixels_parts_what_the_histogram_cannot():
    cn = ColourNames(PALETTE)
    assert cn.from_pixels(swatch(PALETTE["beige"]), None).value == "beige"
    assert cn.from_pixels(swatch(PALETTE["white"], w=8).repeat(4, 1), None).value == "white"
    half = np.concatenate([swatch(PALETTE["red"]), swatch(PALETTE["blue"])], 1)
    mask = np.zeros(half.shape[:2], bool)
    mask[:, :64] = True
    assert cn.from_pixels(half, mask) == cn.from_pixels(swatch(PALETTE["red"]), None)
    assert cn.from_pixels(half, None).confidence < 0.6  # two colours split the vote


def test_colour_names_on_shared_photos(shared_data):
    """Real photos through the stored-histogram path: valid names, sane confidences, deterministic."""
    import cv2

    from pipeline.imageio import load_image

    cn, lab = ColourNames(PALETTE), LabHistogram()
    paths = sorted((shared_data / "test" / "shoes").glob("*.jpg"))[:3] + sorted((shared_data / "test" / "dress").glob("*.jpg"))[:3]
    feats = []
    for p in paths:
        img = load_image(p)
        # The garment is whatever is not the near-white studio background.
        mask = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) < 235
        feats.append(Features(np.zeros(4, np.float32), lab.histogram(img, mask)))
    preds = cn.predict(feats)
    assert preds == cn.predict(feats)
    for pred in preds:
        assert pred["colour"].value in VOCAB["colour"].values and 0 < pred["colour"].confidence <= 1


class StandInText:
    """A text tower that puts each known phrase on its own axis (and the rest on the last one)."""

    def __init__(self, phrases: list[str], dim: int = 64):
        self.axis = {p: i for i, p in enumerate(phrases)}
        self.dim, self.calls = dim, 0

    def embed_text(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, t in enumerate(texts):
            out[row, self.axis.get(t, self.dim - 1)] = 1.0
        return out


def prompt(attr: str, value: str) -> str:
    return VOCAB.prompt.format(VOCAB[attr].text[value])


def test_zero_shot_picks_the_nearest_prompt_with_softmax_confidence():
    phrases = [prompt("pattern", v) for v in VOCAB["pattern"].values] + [prompt("sleeve", v) for v in VOCAB["sleeve"].values]
    text = StandInText(phrases)
    zs = ZeroShot(text, VOCAB, ["pattern", "sleeve"])
    assert text.calls == 1  # prompts are embedded once, up front
    img = np.zeros(64, np.float32)
    img[text.axis[prompt("pattern", "floral")]] = 0.6
    img[text.axis[prompt("sleeve", "long")]] = 0.3
    pred = zs.predict([Features(img, np.zeros(8, np.float32))])[0]
    assert pred["pattern"].value == "floral" and pred["sleeve"].value == "long"
    cos = 0.6 / np.linalg.norm(img)  # softmax over [cos, 0, 0, 0, 0, 0] at CLIP's scale
    assert pred["pattern"].confidence == pytest.approx(1 / (1 + 5 * np.exp(-100 * cos)), rel=1e-4)
    with pytest.raises(ValueError, match="same embedder"):
        zs.predict([Features(np.ones(32, np.float32), np.zeros(8, np.float32))])


class Fixed:
    """A predictor that always says the same thing."""

    def __init__(self, name, preds):
        self.name, self.preds, self.attributes = name, preds, tuple(preds)

    def predict(self, features):
        return [dict(self.preds) for _ in features]


def test_chain_keeps_the_first_confident_prediction():
    chain = Attributer([Fixed("probe", {"category": Prediction("dress", 0.3), "pattern": Prediction("floral", 0.9)}),
                        Fixed("zero-shot", {"category": Prediction("skirt", 0.45), "pattern": Prediction("solid", 0.99),
                                            "unknown": Prediction("x", 1.0)})], VOCAB)
    d = chain.describe([Features(np.zeros(2), np.zeros(2))])[0]
    # probe's dress (0.3) is below category's 0.5; zero-shot's skirt clears zero-shot's 0.4.
    assert values_only(d) == {"pattern": "floral", "category": "skirt"}
    assert d[CONFIDENCE] == {"pattern": 0.9, "category": 0.45}


def test_build_specs(tmp_path):
    class E:  # the parts of an Engine the factories read
        class settings:
            colour, embedder, home = "lab-hist", "stand-in", tmp_path
        embedder = StandInText([])
        colour = LabHistogram()

    assert build("none", E) is None
    assert build("colour-names", E).names == ["colour-names"]
    assert build("auto", E).names == ["colour-names", "zero-shot"]  # no probes saved; the stand-in has text
    with pytest.raises(ValueError, match="probe:PATH"):
        build("probe", E)
    with pytest.raises(ValueError, match="no probe at"):
        build("probe:missing", E)
    with pytest.raises(ValueError, match="unknown attribute predictor"):
        build("colour-names,nope", E)
    assert {"colour-names", "probe", "zero-shot"} <= set(PREDICTORS.names())
