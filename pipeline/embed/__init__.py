"""Stage 5a: shape/style vectors from a pretrained CNN."""
from ..registry import Registry
from ..types import Embedder

EMBEDDERS: Registry[Embedder] = Registry("embedder")

from . import efficientnet  # noqa: E402,F401  (registers "efficientnet-lite0")
