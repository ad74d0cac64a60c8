"""Train the learned ("learned") inpainter.

    python -m pipeline.restore train SOURCE --out DIR    stages 1-2 (texture map, layered generator)
    python -m pipeline.restore refine SOURCE --out DIR   stage 3 (full-resolution refiner), on top of them
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "refine"):
        print(__doc__.strip() + "\n\ncommands: train, refine (python -m pipeline.restore train --help)",
              file=sys.stderr)
        return 2
    if argv[0] == "refine":
        from .learned.refine import main as refine

        return refine(argv[1:])
    from .learned.train import main as train

    return train(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
