"""Readers for evaluation protocols: a query set is (query image, relevant item ids).

- `truth_csv`: `query,item_id` rows (several rows per query = several relevant
  items); query paths relative to the CSV's folder. `python -m bench occlude`
  writes this layout.
- `inshop`: DeepFashion In-shop `list_eval_partition.txt` (image_name item_id
  evaluation_status): the gallery is every `gallery` image, and a query's
  relevant items are the gallery images of the same item_id.
- `folder_pairs`: queries/<item_id-path> mirrored on the gallery: a query at
  queries/dress/a.jpg is relevant to gallery item dress/a.jpg.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass
class QuerySet:
    queries: list[tuple[Path, set[str]]]  # (image path, relevant gallery ids)
    gallery_csv: Path | None = None  # a catalogue CSV to ingest, when the protocol defines the gallery


def _resolve(q: str, roots: list[Path]) -> Path:
    if Path(q).is_absolute():
        return Path(q)
    for root in roots:
        if (root / q).exists():
            return root / q
    return roots[0] / q  # reported as unreadable by the evaluation, not here


def truth_csv(path: str | Path, roots: list[Path] | None = None) -> QuerySet:
    """Query paths resolve against the CSV's folder, then any extra `roots`."""
    path = Path(path)
    roots = roots or [path.parent]
    rel: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"query", "item_id"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected columns query,item_id; found {reader.fieldnames}")
        for row in reader:
            rel.setdefault(row["query"], set()).add(row["item_id"])
    return QuerySet([(_resolve(q, roots), ids) for q, ids in rel.items()])


def inshop(root: str | Path, out_csv: str | Path | None = None) -> QuerySet:
    """DeepFashion In-shop: root holds list_eval_partition.txt and the img/ folder."""
    root = Path(root)
    listing = root / "list_eval_partition.txt"
    if not listing.is_file():
        listing = root / "Eval" / "list_eval_partition.txt"
    lines = listing.read_text().splitlines()
    rows = [ln.split() for ln in lines[2:] if ln.strip()]  # line 1: count; line 2: header
    gallery: dict[str, list[str]] = {}
    queries: list[tuple[str, str]] = []
    for image, item, status in rows:
        if status == "gallery":
            gallery.setdefault(item, []).append(image)
        elif status == "query":
            queries.append((image, item))
    out_csv = Path(out_csv or root / "drape_gallery.csv")
    with out_csv.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "image", "title", "category", "item_id"])
        for item, images in sorted(gallery.items()):
            for image in images:
                parts = Path(image).parts
                category = parts[2] if len(parts) > 3 else ""
                w.writerow([image, str(root / image), f"{category} {item}", category, item])
    qs = [(root / image, set(gallery.get(item, []))) for image, item in queries]
    return QuerySet([q for q in qs if q[1]], out_csv)


def folder_pairs(queries: str | Path) -> QuerySet:
    from pipeline.imageio import is_image_path

    root = Path(queries)
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_image_path(p))
    return QuerySet([(p, {p.relative_to(root).as_posix()}) for p in files])
