"""The app's actions. Each is a plain method a test can call; Gradio only wires them.

Image inputs arrive unprocessed (the event has preprocess=False) so every
upload goes through pipeline.imageio, which refuses non-images, truncated
files and decompression bombs with a reason a person can act on; Gradio's own
decoder would fail with a generic "Error". Anything the pipeline raises for
bad input becomes a gr.Error and the server carries on. Unprocessed also
means unchecked: a crafted API call can name any server path, so a path is
read only if it lies in Gradio's upload folder (where uploads and examples
land) or among the example files.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import gradio as gr
from gradio import utils as gr_utils

from pipeline.imageio import MAX_BYTES, ImageError
from pipeline.types import Analysis, SearchResult

from . import render
from .bootstrap import Served
from .examples import Example
from .state import (FILTER_FIELDS, MAX_AB, MAX_K, QueryCache, View, content_key, filter_values, parse_preset,
                    preset_json)

log = logging.getLogger("drape.demo")
HINT = "Try a JPEG, PNG or WebP photo of a garment (up to {mb} MB)."
EMPTY_SEARCH = ("Pick an example or upload a photo to search.", [], render.breakdown(SearchResult([], {}, 0.5)),
                [], "", render.timings({}), {})


class Handlers:
    def __init__(self, served: Served, examples: list[Example] | None = None, upload_limit_mb: int = 10,
                 upload_roots: list[Path] | None = None):
        self.served = served
        self.engine = served.engine
        self.examples = {e.path.name: e for e in (examples or [])}
        self._example_keys: dict[str, str] = {}
        for e in self.examples.values():
            try:
                self._example_keys[content_key(e.path.read_bytes())] = e.path.name
            except OSError:
                pass
        root = served.catalogue.image_root
        self.roots = [Path(root).resolve()] if root else []
        self.defaults = View.from_settings(self.engine.settings)
        self.facets = facets(self.engine.index)
        self.upload_limit_mb = min(upload_limit_mb, MAX_BYTES // 2**20)
        self.upload_roots = [Path(r).resolve() for r in (upload_roots or [gr_utils.get_upload_folder()])]
        self.upload_roots += sorted({e.path.parent.resolve() for e in self.examples.values()})

    # -- inputs ------------------------------------------------------------------
    def _read(self, image: Any) -> tuple[bytes, str]:
        """Upload payload (Gradio FileData dict), a path, or raw bytes → (bytes, display name)."""
        hint = HINT.format(mb=self.upload_limit_mb)
        if image is None:
            raise gr.Error("No photo yet: pick an example or upload a photo of a garment.")
        if isinstance(image, (bytes, bytearray)):
            return bytes(image), "upload"
        if isinstance(image, dict):
            path, name = image.get("path"), image.get("orig_name") or "upload"
        else:
            path = image
            name = Path(str(image)).name
        if not path or not isinstance(path, (str, os.PathLike)):  # raw API payloads can carry anything
            raise gr.Error(f"The upload did not arrive. {hint}")
        if not render.inside(Path(path), self.upload_roots):
            log.warning("refused to read %s: not an upload", path)
            raise gr.Error(f"The upload did not arrive. {hint}")
        try:
            p = Path(path)
            if p.stat().st_size > self.upload_limit_mb * 2**20:
                raise gr.Error(f"{name} is {p.stat().st_size / 2**20:.1f} MB; the limit is {self.upload_limit_mb} MB.")
            return p.read_bytes(), name
        except OSError:
            raise gr.Error(f"The uploaded file could not be read. {hint}") from None

    def _analyse(self, image: Any, restore: bool, cache: QueryCache | None) -> tuple[Analysis, QueryCache, bool]:
        data, name = self._read(image)
        key = content_key(data)
        cache = cache if isinstance(cache, QueryCache) else QueryCache()
        hit = cache.get(key, restore)
        if hit is not None:
            return hit, cache, True
        try:
            analysis = self.engine.analyse(data, restore=bool(restore))
        except ImageError as exc:
            raise gr.Error(f"{name}: {str(exc).split(': ', 1)[-1]}. {HINT.format(mb=self.upload_limit_mb)}") from None
        except Exception:
            log.exception("analysis failed for %s", name)
            raise gr.Error(f"Could not analyse {name}; the photo may be unusual. Try another one.") from None
        return analysis, cache.put(key, self._example_keys.get(key, name), restore, analysis), False

    def filters(self, category: Any = None, colour: Any = None, pattern: Any = None) -> dict[str, list[str]]:
        """Dropdown values → Engine.rank's filters. Values the index does not have are dropped:
        a stale link must not silently empty the results."""
        out = {}
        for field, raw in zip(FILTER_FIELDS, (category, colour, pattern)):
            known = set(self.facets.get(field, ()))
            values = [v for v in filter_values(raw) if v in known]
            if values:
                out[field] = values
        return out

    def _ab(self, alpha: Any, beta: Any) -> tuple[float, float]:
        # None (an API call that leaves them out, or Compare) means the app's defaults, not Settings':
        # the two agree unless Settings asks for more than the sliders can show.
        return (self.defaults.alpha if alpha is None else _number(alpha, "α", 0.0, MAX_AB),
                self.defaults.beta if beta is None else _number(beta, "β", 0.0, MAX_AB))

    def _rank(self, analysis: Analysis, weight: float, top_k: int, alpha: Any = None, beta: Any = None,
              filters: dict[str, list[str]] | None = None) -> SearchResult:
        weight, top_k = _number(weight, "weight w", 0.0, 1.0), int(_number(top_k, "top-k", 1, MAX_K))
        alpha, beta = self._ab(alpha, beta)
        return self.engine.rank(analysis, weight, top_k, filters or None, alpha=alpha, beta=beta)

    # -- actions -------------------------------------------------------------------
    def search(self, image: Any, weight: float, top_k: int, restore: bool, alpha: float | None = None,
               beta: float | None = None, category: Any = None, colour: Any = None, pattern: Any = None,
               cache: QueryCache | None = None):
        """Photo → results, breakdown, stages, timings, JSON (and the updated session cache)."""
        if image is None:
            return (*EMPTY_SEARCH, cache)
        analysis, cache, cached = self._analyse(image, bool(restore), cache)
        chosen = self.filters(category, colour, pattern)
        result = self._rank(analysis, weight, top_k, alpha, beta, chosen)
        return (*self._results(result, cached, self._ab(alpha, beta), chosen), render.stages(analysis), render.parsing_legend(analysis),
                render.timings(result.timings), result.to_dict(), cache)

    def _results(self, result: SearchResult, cached: bool, ab: tuple[float, float], chosen: dict[str, list[str]]):
        alpha, beta = ab
        if alpha > 0 or beta > 0:
            how = f"re-ranked by attributes (α {alpha:g}, β {beta:g})"
        else:
            how = "attribute rerank off (α = β = 0): similarity order"
        text = render.summary(result, cached, how, render.filter_note(chosen))
        return (text + "  \n" + render.query_attributes(result.analysis.attributes),
                render.gallery(result.hits, self.roots), render.breakdown(result))

    def rerank(self, weight: float, top_k: int, restore: bool, alpha: float | None = None,
               beta: float | None = None, category: Any = None, colour: Any = None, pattern: Any = None,
               cache: QueryCache | None = None):
        """New weight, top-k, α, β or filters on the cached analysis: no model runs."""
        analysis = cache.latest(restore) if isinstance(cache, QueryCache) else None
        if analysis is None:
            raise gr.Error("No query yet: search with a photo first (call /search, then /rerank).")
        chosen = self.filters(category, colour, pattern)
        result = self._rank(analysis, weight, top_k, alpha, beta, chosen)
        return (*self._results(result, True, self._ab(alpha, beta), chosen), result.to_dict())

    def compare(self, image: Any, top_k: int, a_weight: float, a_restore: bool, b_weight: float, b_restore: bool,
                cache: QueryCache | None = None):
        """The same query under two settings, side by side, with each item's rank in both."""
        if image is None:
            raise gr.Error("No photo yet: pick an example or upload one on the Search tab, then compare.")
        an_a, cache, _ = self._analyse(image, bool(a_restore), cache)
        an_b, cache, _ = self._analyse(image, bool(b_restore), cache)
        ra, rb = self._rank(an_a, a_weight, top_k), self._rank(an_b, b_weight, top_k)
        la = f"w {ra.weight:.2f}, restore {'on' if a_restore else 'off'}"
        lb = f"w {rb.weight:.2f}, restore {'on' if b_restore else 'off'}"
        both = {h.item.id for h in ra.hits} & {h.item.id for h in rb.hits}
        note = f"**A** ({la}) vs **B** ({lb}): {len(both)} of {len(ra.hits)} items in both lists."
        if a_restore != b_restore:
            hidden = (an_b if b_restore else an_a).region.occluded_fraction
            note += f" Restoration replaced {hidden:.1%} of the garment's pixels before searching."
        return (render.gallery(ra.hits, self.roots, "A", titles=False),
                render.gallery(rb.hits, self.roots, "B", titles=False),
                render.rank_table(ra, rb, la, lb), note, cache)

    # -- shareable settings ----------------------------------------------------------
    def view_of(self, weight, top_k, restore, a_weight, a_restore, b_weight, b_restore, alpha=None, beta=None,
                category=None, colour=None, pattern=None, cache: QueryCache | None = None) -> View:
        example = cache.name if isinstance(cache, QueryCache) and cache.name in self.examples else ""
        w, aw, bw = (round(_number(v, "weight w", 0.0, 1.0), 3) for v in (weight, a_weight, b_weight))
        d = self.defaults
        a, b = (dflt if v is None else round(_number(v, name, 0.0, MAX_AB), 3)
                for v, dflt, name in ((alpha, d.alpha, "α"), (beta, d.beta, "β")))
        chosen = self.filters(category, colour, pattern)
        return View(w, int(_number(top_k, "top-k", 1, MAX_K)), bool(restore), aw, bool(a_restore), bw,
                    bool(b_restore), example, a, b, *(tuple(chosen.get(f, ())) for f in FILTER_FIELDS))

    def share(self, weight, top_k, restore, a_weight, a_restore, b_weight, b_restore, alpha=None, beta=None,
              category=None, colour=None, pattern=None, cache: QueryCache | None = None,
              request: gr.Request | None = None):
        """A link that reopens the app with these settings (and the example, if one is loaded)."""
        view = self.view_of(weight, top_k, restore, a_weight, a_restore, b_weight, b_restore, alpha, beta,
                            category, colour, pattern, cache)
        query = view.to_query(self.defaults)
        return (f"{_page_url(request)}{'?' + query if query else ''}", preset_json(view))

    def restore_view(self, params: dict[str, str], warn: bool = True):
        """Settings from URL parameters or a pasted preset → control values (example image last)."""
        view, problems = self.defaults.apply(params)
        for field in FILTER_FIELDS:
            unknown = [v for v in getattr(view, field) if v not in self.facets.get(field, ())]
            if unknown:
                problems.append(f"{field}: {', '.join(unknown)} not in this catalogue")
        if problems and warn:
            gr.Warning("Ignored settings: " + "; ".join(problems))
        example = self.examples.get(view.example)
        image = str(example.path) if example else gr.update()
        chosen = self.filters(view.category, view.colour, view.pattern)
        return (view.weight, view.top_k, view.restore, view.a_weight, view.a_restore, view.b_weight,
                view.b_restore, view.alpha, view.beta, *(chosen.get(f, []) for f in FILTER_FIELDS), image)

    def on_load(self, request: gr.Request | None = None):
        params = dict(request.query_params) if request is not None and request.query_params else {}
        return self.restore_view(params)

    def apply_preset(self, text: str):
        try:
            params = parse_preset(text)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        if not params:
            raise gr.Error("Paste a shared link, its ?w=…&k=… part, or a JSON preset.")
        return self.restore_view(params)

    # -- catalogue ------------------------------------------------------------------
    def about(self) -> dict[str, Any]:
        s, cat = self.served, self.served.catalogue
        info = {"catalogue": cat.name, "items": s.items, "categories": s.categories, "about": cat.about,
                "backend": self.engine.settings.backend, "parser": self.engine.settings.parser,
                "inpainter": self.engine.settings.inpainter, "embedder": self.engine.settings.embedder,
                "colour": self.engine.settings.colour}
        return info

    def about_line(self) -> str:
        s, cat = self.served, self.served.catalogue
        cats = ", ".join(s.categories[:10]) + (" …" if len(s.categories) > 10 else "")
        return (f"**About this catalogue:** {cat.name} · {s.items:,} items" + (f" ({cats})" if cats else "")
                + f" · {cat.about}.")

    def warm_up(self) -> None:
        """Run every model once so the first visitor does not pay for loading them."""
        first = next(iter(self.examples.values()), None)
        if first is not None:
            try:
                self.engine.search(str(first.path), top_k=1)
            except Exception:
                log.warning("warm-up query failed", exc_info=True)


def facets(index: Any) -> dict[str, list[str]]:
    """Filter choices per field, read once at startup; a field with no values gets no dropdown."""
    out: dict[str, list[str]] = {}
    for field in FILTER_FIELDS:
        try:
            values = [str(v) for v in index.facets(field) if str(v).strip()]
        except Exception:  # a backend without facets still serves, just without filters
            log.warning("no %s facet from the index", field, exc_info=True)
            values = []
        if values:
            out[field] = values
    return out


def _number(value: Any, name: str, lo: float, hi: float) -> float:
    """A control's value as the API delivers it (raw JSON where preprocess=False): any finite
    number is clamped into range; anything else is a clear error, not a bare 500."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        v = math.nan
    if not math.isfinite(v):
        raise gr.Error(f"{name} must be a number from {lo:g} to {hi:g}, got {str(value)[:40]!r}.")
    return min(max(v, lo), hi)


def _page_url(request: gr.Request | None) -> str:
    """The page's own address as the browser sees it (proxies included), without its query."""
    if request is None:
        return ""
    try:
        referer = dict(request.headers).get("referer", "")
    except Exception:
        referer = ""
    if not referer:
        return ""
    parts = urlsplit(referer)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
