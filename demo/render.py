"""Pipeline objects → what the page shows: galleries, tables, stage images, one-line summaries.

Pure functions of numpy arrays and dataclasses, so the handlers stay thin and
all of this is unit-testable without a server.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import imageio
from pipeline.labels import LABELS, PALETTE
from pipeline.types import Analysis, Hit, SearchResult

THUMB = 320
GARMENT_TINT = (40, 160, 90)
OCCLUDER_TINT = (230, 40, 60)


def inside(path: Path, roots: list[Path]) -> bool:
    try:
        rp = path.resolve()
    except (OSError, ValueError):  # ValueError: a NUL byte in a client-supplied path
        return False
    return any(rp == r or r in rp.parents for r in roots)


def placeholder(text_colour: int = 200, size: tuple[int, int] = (THUMB, THUMB)) -> np.ndarray:
    img = np.full((size[1], size[0], 3), 240, np.uint8)
    img[::16] = text_colour  # a faint grid reads as "no picture" without any text to translate
    img[:, ::16] = text_colour
    return img


def result_image(image: str, roots: list[Path]) -> str | np.ndarray:
    """The catalogue file itself when it lies under a served root; else a thumbnail made here.

    Gradio only serves files under allowed_paths; an item stored elsewhere
    (a CSV with absolute paths, a prebuilt index) is read by us and sent as
    pixels, so the page never needs a broader allowed path.
    """
    p = Path(image)
    if p.is_file() and inside(p, roots):
        return str(p)
    try:
        return imageio.fit(imageio.load_image(p), THUMB)
    except imageio.ImageError:
        return placeholder()


def shown_rank(h: Hit) -> int:
    """Position in the list as shown: after an attribute rerank, Hit.rank stays the similarity rank."""
    return int(h.extra.get("position", h.rank))


def _cell(v):
    if isinstance(v, float):
        return round(v, 3)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_cell(x)}" for k, x in v.items()) or "—"
    if isinstance(v, (list, tuple, set)):
        return ", ".join(str(x) for x in v) or "—"
    return v


def gallery(hits: list[Hit], roots: list[Path], tag: str = "",
            titles: bool = True) -> list[tuple[str | np.ndarray, str]]:
    # Score first: captions are truncated on narrow tiles and the score is what people compare.
    return [(result_image(h.item.image, roots),
             f"{tag}#{shown_rank(h)} · {h.score:.3f}" + (f" · {h.item.title or h.item.id}" if titles else ""))
            for h in hits]


# rerank.core's breakdown, folded into three readable columns; the raw terms stay in the JSON.
RERANK_KEYS = ("rerank_score", "rank_term", "overlap_term", "overlap", "matched", "similarity_rank", "position")
BASE_COLUMNS = ["#", "Item", "Category", "Shape", "Colour", "Total"]
RERANK_COLUMNS = ["Rerank: overlap − rank = score", "Matched attributes", "Similarity #"]


def extra_columns(hits: list[Hit]) -> list[str]:
    """Whatever else a reranker puts in Hit.extra becomes a column of its own."""
    cols: list[str] = []
    for h in hits:
        cols += [k for k in h.extra if k not in cols and k not in RERANK_KEYS]
    return cols


def column_widths(reranking: bool) -> list[str]:
    """Widths for the table the current settings produce (Item gets the room titles need)."""
    if reranking:
        # Matched attributes get the most room: five of them in a narrow cell make rows tower.
        return ["4%", "16%", "9%", "8%", "8%", "8%", "15%", "25%", "7%"]
    return ["6%", "36%", "14%", "10%", "10%", "10%", "14%"]


def _rerank_cells(h: Hit) -> list:
    x = h.extra
    if "rerank_score" not in x:
        return ["—"]  # the slot for β·overlap − α·rank once a reranker runs (Settings.alpha/beta)
    terms = f"{x.get('overlap_term', 0):.2f} − {abs(x.get('rank_term', 0)):.2f} = {x['rerank_score']:.2f}"
    return [terms, _cell(x.get("matched", {})), x.get("similarity_rank", h.rank)]


def breakdown(result: SearchResult) -> pd.DataFrame:
    extras = extra_columns(result.hits)
    reranked = any("rerank_score" in h.extra for h in result.hits)
    names = BASE_COLUMNS + (RERANK_COLUMNS if reranked else ["Rerank"]) + [k.replace("_", " ") for k in extras]
    rows = []
    for h in result.hits:
        base = [shown_rank(h), h.item.title or h.item.id, h.item.category or "—",
                round(h.shape, 3), round(h.colour, 3), round(h.score, 3)]
        rows.append(base + _rerank_cells(h) + [_cell(h.extra.get(k, "")) for k in extras])
    return pd.DataFrame(rows, columns=names)


def tint(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], dim: float = 0.35) -> np.ndarray:
    """Mask shown in place: tinted inside, the rest faded, so you see what it covers."""
    out = image.astype(np.float32)
    m = mask.astype(bool)
    out[~m] = out[~m] * (1 - dim) + 255 * dim
    out[m] = out[m] * 0.45 + np.asarray(colour, np.float32) * 0.55
    return out.round().astype(np.uint8)


def parsing_view(analysis: Analysis) -> np.ndarray:
    colours = analysis.parsing.render().astype(np.float32)
    background = analysis.parsing.label_map == 0
    out = analysis.image.astype(np.float32) * 0.35 + colours * 0.65
    out[background] = analysis.image[background] * 0.3 + 255 * 0.7
    return out.round().astype(np.uint8)


def parsing_legend(analysis: Analysis) -> str:
    ids, counts = np.unique(analysis.parsing.label_map, return_counts=True)
    total = counts.sum() or 1
    parts = []
    for i, c in sorted(zip(ids.tolist(), counts.tolist()), key=lambda t: -t[1]):
        if i == 0 or not 0 <= i < len(LABELS):
            continue
        r, g, b = PALETTE[i]
        parts.append(f'<span class="swatch" style="background:rgb({r},{g},{b})"></span>{LABELS[i]} {c / total:.0%}')
    return " &nbsp; ".join(parts) or "no parts found"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def stages(analysis: Analysis) -> list[tuple[np.ndarray, str]]:
    """Captions stay short (tiles truncate them); the full timings are in the table below."""
    t = analysis.timings
    reg, res = analysis.region, analysis.restoration
    label = "" if reg.garment_label in ("garment", "") else f" ({reg.garment_label})"
    restored = (f"5 · restored · {res.backend} · {_ms(t.get('restore', 0))}" if res.backend != "off"
                else "5 · restoration off")
    return [
        (analysis.image, f"0 · input · {_ms(t.get('decode', 0) + t.get('resize', 0))}"),
        (tint(analysis.image, reg.product, GARMENT_TINT), f"1 · garment{label} · {_ms(t.get('region', 0))}"),
        (parsing_view(analysis), f"2 · parsing · {_ms(t.get('parse', 0))}"),
        (tint(analysis.image, reg.occluder, OCCLUDER_TINT),
         f"3 · occluders · {reg.occluded_fraction:.0%} of garment"),
        (res.removed, "4 · occluders removed"),
        (res.restored, restored),
        (analysis.crop, f"6 · embedder input · {_ms(t.get('crop', 0) + t.get('embed', 0))}"),
    ]


STAGE_NAMES = {"decode": "decode upload", "resize": "resize", "parse": "human parsing",
               "region": "garment + occluder masks", "restore": "remove + restore", "crop": "crop garment",
               "embed": "shape features (CNN)", "colour": "colour histogram", "search": "index search"}


def timings(result_timings: dict[str, float]) -> pd.DataFrame:
    total = sum(result_timings.values()) or 1e-9
    longest = max(result_timings.values(), default=0) or 1e-9
    rows = [{"Stage": STAGE_NAMES.get(k, k), "ms": round(v * 1000, 1), "Share": f"{v / total:.0%}",
             "": "█" * max(1, round(12 * v / longest)) if v > 0 else ""} for k, v in result_timings.items()]
    rows.append({"Stage": "total", "ms": round(total * 1000, 1), "Share": "100%", "": ""})
    return pd.DataFrame(rows)


def query_attributes(attributes: dict | None) -> str:
    """The query's predicted attributes with confidences: what the rerank can match on."""
    attributes = attributes or {}
    conf = attributes.get("_confidence", {}) or {}
    parts = [f"{k} **{_cell(v)}**" + (f" ({conf[k]:.0%})" if isinstance(conf.get(k), (int, float)) else "")
             for k, v in attributes.items() if not k.startswith("_")]
    if not parts:
        return "Query attributes: none predicted confidently, so the rerank keeps the similarity order."
    return "Query attributes (confidence): " + " · ".join(parts)


def filter_note(filters: dict[str, list[str]]) -> str:
    return "; ".join(f"{k} = {' or '.join(v)}" for k, v in filters.items())


def summary(result: SearchResult, cached: bool, rerank: str = "", filters: str = "") -> str:
    a = result.analysis
    how = "re-ranked the cached analysis (no model ran)" if cached else f"analysed in {a.total_seconds * 1000:.0f} ms"
    occl = a.region.occluded_fraction
    restore = a.restoration.backend
    if occl <= 0:
        found = "no occluder found on the garment"
    else:
        found = f"occluders cover **{occl:.1%}** of the garment"
    found += f"; restored with `{restore}`" if restore != "off" else "; restoration **off** (photo searched as is)"
    if rerank:
        found += f"; then {rerank}" if "rerank" in result.timings else f"; {rerank}"
    if filters:
        found += f"; only {filters}"
    return (f"**{len(result.hits)} results** · w = {result.weight:.2f} · {how}, "
            f"searched in {result.timings.get('search', 0) * 1000:.1f} ms  \n{found}")


def rank_table(a: SearchResult, b: SearchResult, label_a: str, label_b: str) -> pd.DataFrame:
    """Every item in either list with its rank in both: what moved, and by how much."""
    ra = {h.item.id: shown_rank(h) for h in a.hits}
    rb = {h.item.id: shown_rank(h) for h in b.hits}
    items = {h.item.id: h.item for h in [*b.hits, *a.hits]}
    order = list(ra) + [i for i in rb if i not in ra]
    rows = []
    for iid in order:
        x, y = ra.get(iid), rb.get(iid)
        if x and y:
            move = "=" if x == y else (f"▲ {x - y}" if y < x else f"▼ {y - x}")
        else:
            move = "new in B" if y else "only in A"
        rows.append({"Item": items[iid].title or iid, f"Rank A ({label_a})": x or "—",
                     f"Rank B ({label_b})": y or "—", "A → B": move})
    return pd.DataFrame(rows)
