"""The canonical part vocabulary every parser maps its own labels into.

It is the union of LIP (20 labels, the patent's parser) and ATR (18 labels,
the SegFormer clothes model), plus two labels only the classical parser
emits: `garment` (a garment whose type it cannot tell) and `skin` (skin it
cannot assign to a body part).
"""
from __future__ import annotations

LABELS: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress",
    "coat", "socks", "pants", "jumpsuits", "scarf", "skirt", "face", "left-arm",
    "right-arm", "left-leg", "right-leg", "left-shoe", "right-shoe", "belt", "bag",
    "garment", "skin",
)
INDEX = {name: i for i, name in enumerate(LABELS)}

# What the patent removes from a garment before embedding it (11 LIP labels),
# plus bags (ATR has them; they cross garments often) and unassigned skin.
OCCLUDERS: frozenset[str] = frozenset({
    "hat", "hair", "glove", "sunglasses", "scarf", "left-arm", "right-arm",
    "left-leg", "right-leg", "left-shoe", "right-shoe", "bag", "skin",
})
GARMENTS: frozenset[str] = frozenset({
    "upper-clothes", "dress", "coat", "pants", "jumpsuits", "skirt", "garment",
})

# Source label sets, in the order the models emit them.
LIP = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress",
    "coat", "socks", "pants", "jumpsuits", "scarf", "skirt", "face", "left-arm",
    "right-arm", "left-leg", "right-leg", "left-shoe", "right-shoe",
)
ATR = (
    "background", "hat", "hair", "sunglasses", "upper-clothes", "skirt", "pants",
    "dress", "belt", "left-shoe", "right-shoe", "face", "left-leg", "right-leg",
    "left-arm", "right-arm", "bag", "scarf",
)

# A fixed palette so every parser's label map renders the same way in the UI.
PALETTE = (
    (0, 0, 0), (128, 0, 0), (254, 0, 0), (0, 85, 0), (169, 0, 51), (254, 85, 0),
    (0, 0, 85), (0, 119, 220), (85, 85, 0), (0, 85, 85), (85, 51, 0), (52, 86, 128),
    (0, 128, 0), (0, 0, 254), (51, 169, 220), (0, 254, 254), (85, 254, 169),
    (169, 254, 85), (254, 254, 0), (254, 169, 0), (120, 60, 160), (200, 120, 200),
    (60, 180, 75), (255, 200, 160),
)
assert len(PALETTE) == len(LABELS)


def remap(source: tuple[str, ...]) -> list[int]:
    """Lookup table from a model's label ids to canonical ids."""
    return [INDEX[name] for name in source]
