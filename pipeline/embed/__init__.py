"""Stage 5a: shape/style vectors from a pretrained CNN."""
from ..registry import Registry
from ..types import Embedder

EMBEDDERS: Registry[Embedder] = Registry("embedder")

from . import efficientnet  # noqa: E402,F401  (registers "efficientnet-lite0")
from . import fashionclip, inception  # noqa: E402,F401  (register "fashion-clip", "inception-resnet-v2"; heavy imports happen in their constructors)
