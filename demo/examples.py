"""Example "worn" queries: catalogue items with an arm, a hand, hair or a strap across them.

An example is only convincing if its clean original is in the catalogue being
served (the right answer is then known), so examples are made from the served
catalogue itself. The built-in catalogue's are shipped in assets/examples/
(`python -m demo.examples` rewrites them); any other catalogue gets its own at
first start, next to its index.

    python -m demo.examples [--out assets/examples] [-n 6]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "examples"
MANIFEST = "examples.json"
KINDS = ("arm", "hair", "strap", "arm", "hair", "arm")  # arms first: the commonest occluder in shop photos


@dataclass
class Example:
    path: Path
    label: str  # what a person sees under the thumbnail
    source_id: str  # the clean catalogue item this was made from
    source_hash: str = ""  # its content hash: proves the served catalogue still holds that exact item


def load(folder: Path, catalogue_key: str | None = None) -> list[Example]:
    """Examples listed in folder/examples.json (for `catalogue_key`, if given) whose files exist."""
    try:
        meta = json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return []
    if catalogue_key and meta.get("catalogue") != catalogue_key:
        return []
    out = [Example(folder / e["file"], e["label"], e["source_id"], e.get("source_hash", ""))
           for e in meta.get("examples", [])]
    return [e for e in out if e.path.is_file()]


def _pick(records: list, n: int, rng: np.random.Generator) -> list:
    """One item per category in turn, so the examples show the catalogue's range."""
    by_cat: dict[str, list] = {}
    for r in records:
        by_cat.setdefault(r.item.category or "", []).append(r)
    cats = sorted(by_cat)
    rng.shuffle(cats)
    picked: list = []
    while len(picked) < n and any(by_cat.values()):
        for c in cats:
            if by_cat[c] and len(picked) < n:
                picked.append(by_cat[c].pop(int(rng.integers(len(by_cat[c])))))
    return picked


def make(source: Path, out: Path, catalogue_key: str, n: int = 6, seed: int = 7, max_side: int = 512) -> list[Example]:
    """Occlude n catalogue items and write them (JPEG, ~30 KB each) plus a manifest to `out`."""
    from PIL import Image

    from pipeline import imageio
    from pipeline.ingest import scan
    from pipeline.synthetic.occluders import occlude

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    entries, examples = [], []
    for i, rec in enumerate(_pick(scan(source), n * 2, rng)):
        if len(examples) == n:
            break
        try:
            data = rec.path.read_bytes()
            img = imageio.fit(imageio.decode(data, rec.path.name), max_side)
        except (OSError, imageio.ImageError):
            continue  # a broken catalogue file is ingest's problem, not a reason to fail here
        kind = KINDS[len(examples) % len(KINDS)]
        worn, _, _ = occlude(img, np.random.default_rng([seed, i]), kinds=(kind,))
        name = f"worn-{len(examples) + 1:02d}-{kind}.jpg"
        Image.fromarray(worn).save(out / name, quality=86, optimize=True)
        label = f"{(rec.item.title or rec.item.category or rec.item.id)[:40]} + {'hand' if kind == 'arm' else kind}"
        digest = imageio.content_hash(data)
        entries.append({"file": name, "label": label, "source_id": rec.item.id, "source_hash": digest,
                        "occluder": kind})
        examples.append(Example(out / name, label, rec.item.id, digest))
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"catalogue": catalogue_key, "examples": entries}, indent=2))
    tmp.replace(out / MANIFEST)
    return examples


def for_catalogue(served, n: int = 6) -> list[Example]:
    """Shipped examples for the built-in catalogue; otherwise made once per catalogue."""
    cat = served.catalogue
    if cat.builtin:
        shipped = load(SHIPPED, cat.key)
        if shipped and _still_in(served.index, shipped):
            return shipped
    if cat.source is None:
        return []  # a bare index: no clean originals to occlude
    folder = served.state_dir / "examples"
    found = load(folder, cat.key)
    return found or make(cat.source, folder, cat.key, n=n, max_side=served.engine.settings.max_side)


def _still_in(index, examples: list[Example]) -> bool:
    """The shipped files match this catalogue only if its generator still renders the same items."""
    items = {it.id: it.content_hash for it in index.get([e.source_id for e in examples])}
    return all(items.get(e.source_id) == e.source_hash for e in examples)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m demo.examples", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=SHIPPED)
    ap.add_argument("-n", type=int, default=6)
    args = ap.parse_args(argv)
    from pipeline import config

    from .bootstrap import open_served

    served = open_served(config.load())  # the examples must come from the catalogue the app serves
    made = make(served.catalogue.source, args.out, served.catalogue.key, n=args.n)
    for e in made:
        print(f"{e.path}  ({e.label}; from {e.source_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
