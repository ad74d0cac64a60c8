"""Make occluded queries from a gallery: synthetic arms, hair and straps, with ground-truth masks.

For every gallery image (or a seeded sample of --limit of them) it writes
--per-item queries, each one occluder drawn across the garment and then
jittered (crop, scale, tilt, light, colour cast, JPEG):

    OUT/queries/<category>/<stem>_<k>.jpg   the query
    OUT/masks/<category>/<stem>_<k>.png     its occluder mask (255 = occluder), same size
    OUT/truth.csv                           query,item_id (query relative to OUT; item_id
                                            relative to --gallery, as the index names items)
    OUT/meta.jsonl                          one JSON line per query: occluder kind and
                                            parameters, jitter parameters

Every query has its own random stream, seeded by (--seed, item id, k), so
the same seed gives the same bytes, and --limit or a different gallery
order does not change the queries of the items that remain.
"""
from __future__ import annotations

import csv
import io
import json
import zlib
from pathlib import Path

KINDS = ("arm", "hair", "strap")


def configure(p) -> None:
    p.add_argument("--gallery", type=Path, required=True, help="folder of catalogue images (searched recursively)")
    p.add_argument("--out", type=Path, required=True, help="output folder (created; existing files overwritten)")
    p.add_argument("--per-item", type=int, default=1, help="queries per gallery image (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use a seeded sample of this many gallery images")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated occluder kinds (default {','.join(KINDS)})")
    p.add_argument("--no-jitter", action="store_true", help="draw occluders only, no photometric/geometric jitter")
    p.add_argument("--quality", type=int, default=92, help="JPEG quality of the written queries")


def _items(gallery: Path, limit: int | None, seed: int) -> list[Path]:
    import numpy as np

    from pipeline.imageio import is_image_path

    files = sorted(p for p in gallery.rglob("*") if p.is_file() and is_image_path(p))
    if limit is not None and limit < len(files):
        pick = np.random.default_rng([seed, 0x5EED]).choice(len(files), size=max(0, limit), replace=False)
        files = [files[i] for i in sorted(pick)]
    return files


def _jpeg_bytes(image, quality: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _png_bytes(mask) -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def run(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from pipeline.imageio import ImageError, load_image
    from pipeline.synthetic.occluders import DRAW, occlude

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in DRAW]
    if not kinds or bad:
        raise SystemExit(f"--kinds: unknown {bad or '(none given)'}; valid: {', '.join(sorted(DRAW))}")
    if args.per_item < 1:
        raise SystemExit("--per-item must be at least 1")
    gallery = args.gallery
    if not gallery.is_dir():
        raise SystemExit(f"--gallery {gallery}: not a folder")
    items = _items(gallery, args.limit, args.seed)
    if not items:
        raise SystemExit(f"--gallery {gallery}: no images found")
    out = args.out
    truth = io.StringIO(newline="")
    writer = csv.writer(truth, lineterminator="\n")
    writer.writerow(["query", "item_id"])
    meta_lines: list[str] = []
    skipped = 0
    for path in tqdm(items, desc="occlude", unit="item", disable=None):
        item_id = path.relative_to(gallery).as_posix()
        try:
            image = load_image(path)
        except ImageError as exc:
            skipped += 1
            tqdm.write(f"skipped {item_id}: {exc}")
            continue
        stem = item_id.rsplit(".", 1)[0]
        key = zlib.crc32(item_id.encode("utf-8"))
        for k in range(args.per_item):
            rng = np.random.default_rng([args.seed, key, k])
            kind = kinds[(key + k) % len(kinds)]  # balanced kinds per item, independent of order
            query, mask, meta = occlude(image, rng, kinds=(kind,), jitter=not args.no_jitter)
            q_rel, m_rel = f"queries/{stem}_{k}.jpg", f"masks/{stem}_{k}.png"
            for rel, data in ((q_rel, _jpeg_bytes(query, args.quality)), (m_rel, _png_bytes(mask))):
                dest = out / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            writer.writerow([q_rel, item_id])
            meta_lines.append(json.dumps({"query": q_rel, "item_id": item_id, "mask": m_rel,
                                          "size": [int(query.shape[1]), int(query.shape[0])], **meta},
                                         sort_keys=True))
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth.csv").write_text(truth.getvalue(), encoding="utf-8")
    (out / "meta.jsonl").write_text("".join(line + "\n" for line in meta_lines), encoding="utf-8")
    print(f"{len(meta_lines)} queries from {len(items) - skipped} items in {out}"
          + (f" ({skipped} unreadable items skipped)" if skipped else ""))
    return 0
