"""Stage 1+2: garment regions and human parsing, one pass per image."""
from ..registry import Registry
from ..types import Parser

PARSERS: Registry[Parser] = Registry("parser")

from . import classical  # noqa: E402,F401  (registers "classical")
from . import detectron2, segformer  # noqa: E402,F401  (register "segformer", "detectron2"; heavy imports happen in their constructors)
