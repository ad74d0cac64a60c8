"""What a generated product is: category, colour, pattern and cut, and its title.

The colour names are a fixed palette of basic names so the catalogue's
`colour` column can be checked against a nearest-named-colour classifier;
each item's actual RGB is jittered around its anchor (never so far that a
different anchor becomes nearer), so two "red" items are not identical.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CATEGORIES: tuple[str, ...] = (
    "t-shirt", "longsleeve", "shirt", "dress", "skirt", "pants", "shorts", "hat",
)
PATTERNS: tuple[str, ...] = ("solid", "striped", "checked", "dotted", "floral", "print")
_PATTERN_P = np.array([0.25, 0.15, 0.14, 0.13, 0.15, 0.18])

COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (30, 30, 32), "white": (238, 238, 234), "grey": (135, 135, 138),
    "red": (182, 32, 42), "orange": (232, 118, 40), "yellow": (236, 200, 62),
    "green": (58, 122, 72), "blue": (55, 105, 188), "navy": (32, 42, 82),
    "purple": (108, 60, 138), "pink": (232, 140, 172), "brown": (112, 74, 48),
    "beige": (214, 194, 162),
}
COLOUR_NAMES = tuple(COLOURS)
# Garments are not evenly coloured in real shops: neutrals dominate.
_COLOUR_P = np.array([10, 7, 8, 7, 4, 4, 6, 8, 8, 4, 5, 5, 6], float)
_COLOUR_P /= _COLOUR_P.sum()

# Per category: (sleeve options, length options, neckline options, styles, poses).
CUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "t-shirt": (("short",), ("",), ("round", "v-neck"), ("regular", "boxy", "fitted"), ("flat", "ghost")),
    "longsleeve": (("long",), ("",), ("round", "v-neck"), ("tee", "sweater"), ("flat", "ghost")),
    "shirt": (("short", "long"), ("",), ("collar",), ("classic", "pocket"), ("flat", "ghost")),
    "dress": (("sleeveless", "short", "long"), ("mini", "midi", "maxi"), ("round", "v-neck"),
              ("a-line", "shift", "fit-flare"), ("flat", "ghost")),
    "skirt": (("",), ("mini", "midi", "maxi"), ("",), ("a-line", "pencil", "pleated", "skater"), ("flat", "ghost")),
    "pants": (("",), ("full", "cropped"), ("",), ("straight", "slim", "wide"), ("flat", "ghost")),
    "shorts": (("",), ("mini", "knee"), ("",), ("5-pocket", "drawstring"), ("flat",)),
    "hat": (("",), ("",), ("",), ("cap", "beanie", "bucket"), ("product",)),
}
_NOUN = {"t-shirt": "t-shirt", "longsleeve": "long-sleeve top", "shirt": "shirt", "dress": "dress",
         "skirt": "skirt", "pants": "trousers", "shorts": "shorts", "hat": "hat"}
_STYLE_NOUN = {"sweater": "sweater", "cap": "cap", "beanie": "beanie", "bucket": "bucket hat"}
_PATTERN_WORD = {"solid": "", "striped": "striped", "checked": "checked", "dotted": "polka-dot",
                 "floral": "floral", "print": "print"}


@dataclass(frozen=True)
class ProductSpec:
    category: str
    colour: str
    rgb: tuple[int, int, int]
    pattern: str = "solid"
    sleeve: str = ""
    length: str = ""
    neckline: str = ""
    secondary: str = ""  # colour name of the pattern's second colour
    secondary_rgb: tuple[int, int, int] = (255, 255, 255)
    style: str = ""  # silhouette variant within the category (not a CSV column)
    pose: str = "flat"  # flat | ghost (invisible mannequin) | product (hats)

    @property
    def title(self) -> str:
        words = [self.colour.capitalize()]
        if self.pattern == "print":
            words.append("graphic" if self.category in ("t-shirt", "longsleeve") else "print")
        elif _PATTERN_WORD[self.pattern]:
            words.append(_PATTERN_WORD[self.pattern])
        if self.neckline == "v-neck":
            words.append("V-neck")
        if self.category == "dress" and self.sleeve in ("sleeveless", "long"):
            words.append("long-sleeve" if self.sleeve == "long" else "sleeveless")
        if self.category == "shirt":
            words.append(f"{self.sleeve}-sleeve")
        if self.length and self.category in ("dress", "skirt"):
            words.append(self.length)
        if self.category == "skirt" and self.style in ("pleated", "pencil"):
            words.append(self.style)
        if self.length == "cropped":
            words.append("cropped")
        if self.category == "shorts":
            words += ["knee-length" if self.length == "knee" else "", "drawstring" if self.style == "drawstring" else ""]
        noun = _STYLE_NOUN.get(self.style, _NOUN[self.category])
        if self.category == "pants" and self.style == "wide":
            noun = "wide-leg trousers"
        return " ".join(w for w in words + [noun] if w)


def _lab(rgb) -> np.ndarray:
    px = np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255.0
    return cv2.cvtColor(px, cv2.COLOR_RGB2Lab).reshape(3)


_ANCHOR_LAB = np.stack([_lab(c) for c in COLOURS.values()])


def nearest_colour(rgb) -> str:
    d = np.linalg.norm(_ANCHOR_LAB - _lab(rgb), axis=1)
    return COLOUR_NAMES[int(np.argmin(d))]


def jitter_colour(name: str, rng: np.random.Generator) -> tuple[int, int, int]:
    """A shade of `name` that is still nearest to its own anchor."""
    base = _lab(COLOURS[name])
    sd = [5.0, 1.2, 1.2] if name in ("black", "white", "grey") else [5.0, 4.0, 4.0]  # neutrals stay neutral
    for _ in range(8):
        lab = base + rng.normal(0, sd)
        px = cv2.cvtColor(lab.reshape(1, 1, 3).astype(np.float32), cv2.COLOR_Lab2RGB).reshape(3)
        rgb = tuple(int(v) for v in np.clip(np.round(px * 255), 0, 255))
        if nearest_colour(rgb) == name:
            return rgb
    return COLOURS[name]


def _secondary(main: str, rng: np.random.Generator) -> str:
    """A second colour that reads as a pattern on `main`: far enough in Lab."""
    common = ["white", "navy", "black", "red", "beige", "yellow", "pink", "blue", "green"]
    m = _lab(COLOURS[main])
    ok = [c for c in COLOUR_NAMES if c != main and np.linalg.norm(_lab(COLOURS[c]) - m) > 35]
    weights = np.array([3.0 if c in common else 1.0 for c in ok])
    return ok[int(rng.choice(len(ok), p=weights / weights.sum()))]


def random_spec(rng: np.random.Generator, category: str | None = None) -> ProductSpec:
    category = category or CATEGORIES[int(rng.integers(len(CATEGORIES)))]
    sleeves, lengths, necks, styles, poses = CUTS[category]
    colour = COLOUR_NAMES[int(rng.choice(len(COLOUR_NAMES), p=_COLOUR_P))]
    pattern = PATTERNS[int(rng.choice(len(PATTERNS), p=_PATTERN_P / _PATTERN_P.sum()))]
    secondary = _secondary(colour, rng)

    def pick(options):
        return options[int(rng.integers(len(options)))]

    style = pick(styles)
    if category == "hat" and style == "beanie" and pattern == "floral":
        pattern = "striped"  # knitted florals read as noise at this scale
    return ProductSpec(
        category=category, colour=colour, rgb=jitter_colour(colour, rng), pattern=pattern,
        sleeve=pick(sleeves), length=pick(lengths), neckline=pick(necks),
        secondary=secondary, secondary_rgb=jitter_colour(secondary, rng),
        style=style, pose=pick(poses),
    )


def spec_key(spec: ProductSpec) -> tuple:
    """What makes two items look like different products (RGB jitter aside)."""
    return (spec.category, spec.colour, spec.pattern, spec.sleeve, spec.length, spec.neckline,
            spec.secondary if spec.pattern != "solid" else "", spec.style)
