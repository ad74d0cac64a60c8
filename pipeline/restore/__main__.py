"""`python -m pipeline.restore train SOURCE --out DIR`: train the learned ("learned") inpainter."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train",):
        print(__doc__.strip() + "\n\ncommands: train (python -m pipeline.restore train --help)", file=sys.stderr)
        return 2
    from .learned.train import main as train

    return train(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
