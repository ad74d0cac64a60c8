"""A restorer trained self-supervised on clean catalogue photos (seed 004).

model.py: stage 1 (colour map) and stage 2 (foreground/background layers +
alpha); losses.py; data.py: pairs from the occlusion synthesis; train.py:
`python -m pipeline.restore train`; backend.py: the "learned" inpainter.
Importing this registers the backend; torch loads only when one is built.
"""
from . import backend  # noqa: F401
