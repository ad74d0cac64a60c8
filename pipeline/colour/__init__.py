"""Stage 5b: colour vectors from garment pixels only."""
from ..registry import Registry
from ..types import ColourFeaturizer

COLOURS: Registry[ColourFeaturizer] = Registry("colour")

from . import lab  # noqa: E402,F401  (registers "lab-hist")
