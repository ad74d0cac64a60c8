"""Stage 4: restore the pixels the occluder mask removed."""
from ..registry import Registry
from ..types import Inpainter

INPAINTERS: Registry[Inpainter] = Registry("inpainter")

from . import opencv  # noqa: E402,F401  (registers "telea", "ns", "fsr")
from . import lama  # noqa: E402,F401  (registers "lama"; onnxruntime loads in its constructor)
from . import learned  # noqa: E402,F401  (registers "learned"; torch loads in its constructor)
