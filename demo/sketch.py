"""The Sketch tab: draw a garment (black outline, colour paint) and find it.

The outline is matched against the catalogue's edge maps (the sketch index,
pipeline.sketch), the paint against the garments' colour histograms, with
the same w as photo search; a trained colouriser, when configured, turns the
drawing into a photo-like image that is searched too and shown. Without a
sketch index the tab still works on colour alone and says how to add shapes.

`sketch_tab(handlers)` is the only hook: layout.py calls it inside its Tabs.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import numpy as np

from pipeline.sketch import canvas as sketch_canvas
from pipeline.sketch.examples import load as load_examples
from pipeline.sketch.search import SketchError, SketchQuery, SketchSearch
from pipeline.types import SearchResult

from . import render

log = logging.getLogger("drape.demo")
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
PALETTE = ["#000000", "#c8102e", "#f28c28", "#f2d13b", "#2e8b57", "#1f4e9c", "#6a3d9a", "#f4a6c0",
           "#8b5a2b", "#9e9e9e", "#1c2541", "#f5f0e1"]
HOW = ("Draw the outline with the **black pen** (thin), then paint the garment's colours with a **thick brush** "
       "(any colour, black or navy too). Colour counts only where you paint; `w` weighs outline against colour.")


class SketchView:
    def __init__(self, engine: Any, roots: list[Path], notices: list[str] | None = None):
        self.engine, self.roots = engine, roots
        self.notices = notices if notices is not None else []
        self.search: SketchSearch | None = None
        self.problem = ""
        self.reopen()
        if getattr(engine.settings, "sketch", False) and self._missing():
            self._build()

    def _missing(self) -> bool:
        photo = getattr(self.engine, "index", None)
        have = self.search.index.count() if self.search is not None else 0
        return photo is not None and hasattr(photo, "ids") and have < photo.count()

    def _build(self) -> None:
        """`sketch = true` and vectors missing (an index built before): add them now, resumably."""
        from pipeline.sketch.build import add_sketch_vectors

        try:
            print(add_sketch_vectors(self.engine, self.engine.index).summary())
        except Exception:
            log.exception("building sketch vectors failed; the Sketch tab searches colour only")
        self.reopen()

    def reopen(self) -> None:
        """(Re)open the sketch index: one built while the app runs is picked up at the next search."""
        try:
            self.search = SketchSearch.open(self.engine, self.notices)
            if not self.search.index.count():
                raise ValueError("the sketch index is empty")
        except Exception as exc:  # no sketch index: colour-only search on the photo index, said plainly
            self.search = None
            where = getattr(self.engine.settings, "index_dir", "DIR")
            self.problem = (f"Shapes are off: this catalogue has no sketch vectors ({str(exc).splitlines()[0]}). "
                            f"Searching by colour only. Add them with `python -m pipeline.sketch index --index "
                            f"{where}` (or start with `DRAPE_SKETCH=1`).")
        else:
            self.problem = ""

    @classmethod
    def from_handlers(cls, h: Any) -> "SketchView":
        return cls(h.engine, list(getattr(h, "roots", [])), getattr(h.engine, "notices", None))

    # -- actions ---------------------------------------------------------------------
    def analyse(self, value: Any) -> SketchQuery:
        if self.search is None:
            self.reopen()
        if self.search is not None:
            return self.search.analyse(value)
        drawing = sketch_canvas.read(value)
        if drawing is None or not drawing.has_colour:
            raise SketchError("Without sketch vectors only colour can be searched: paint the garment's colours.")
        colour = self.engine.colour.histogram(drawing.colour_pixels(), None)
        return SketchQuery(drawing, drawing.image, np.zeros(0, np.float32), colour)

    def rank(self, q: SketchQuery, weight: float, top_k: int) -> SearchResult:
        top_k = int(min(max(int(top_k), 1), 50))
        if self.search is not None:
            return self.search.rank(q, weight, top_k)
        shape = np.zeros(self.engine.index.shape_dim if hasattr(self.engine.index, "shape_dim")
                         else len(self.engine.index.shape[0]), np.float32)
        hits = self.engine.index.search(shape, q.colour, 0.0, top_k)
        return SearchResult(hits, dict(q.timings), 0.0, None)

    def run(self, value: Any, weight: float, top_k: int, state: Any = None):
        try:
            q = self.analyse(value)
        except SketchError as exc:
            raise gr.Error(str(exc)) from None
        except Exception:
            log.exception("sketch analysis failed")
            raise gr.Error("Could not read that drawing; try clearing the canvas and drawing again.") from None
        return (*self._show(q, weight, top_k), q)

    def rerank(self, weight: float, top_k: int, state: Any = None):
        if not isinstance(state, SketchQuery):
            raise gr.Error("No sketch yet: draw one and press Search (call /sketch, then /sketch_rerank).")
        return self._show(state, weight, top_k)

    def _show(self, q: SketchQuery, weight: float, top_k: int):
        result = self.rank(q, weight, top_k)
        return (self.summary(q, result), render.gallery(result.hits, self.roots), render.breakdown(result),
                self.seen(q), result.to_dict())

    def summary(self, q: SketchQuery, result: SearchResult) -> str:
        ms = sum(q.timings.values()) * 1000
        parts = [f"**{len(result.hits)} results** · w = {result.weight:.2f} · read and embedded in {ms:.0f} ms"]
        if not q.has_colour:
            parts.append("no paint found, so colour is ignored (w = 1): paint with a thick brush to use colour")
        if q.colourised is not None:
            parts.append("also searched as the colourised photo (shown on the right)")
        text = " · ".join(parts)
        return text + (f"  \n{self.problem}" if self.problem else "")

    def seen(self, q: SketchQuery) -> list[tuple[np.ndarray, str]]:
        """What the search used: the line picture, the paint's colours, the colourised photo."""
        out = []
        if q.shape.size:
            out.append((q.picture, "outline the shape model saw"))
        if q.has_colour:
            out.append((swatches(q.drawing), "painted colours (share of paint)"))
        if q.colourised is not None:
            out.append((q.colourised, "colourised sketch"))
        return out

    # -- page ---------------------------------------------------------------------------
    def tab(self) -> None:
        d = getattr(self.engine, "settings", None)
        with gr.Tab("Sketch", id="sketch"):
            gr.Markdown(HOW)
            if self.problem:
                gr.Markdown(self.problem, elem_id="sketch_problem")
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=320):
                    pad = gr.ImageEditor(label="Your sketch", type="numpy", image_mode="RGBA",
                                         sources=("upload", "clipboard"), canvas_size=(512, 512), fixed_canvas=True,
                                         brush=gr.Brush(colors=PALETTE, default_color="#000000", default_size=3,
                                                        color_mode="defaults"),
                                         eraser=gr.Eraser(default_size=12), layers=False, transforms=(),
                                         height=560, elem_id="sketchpad")
                    examples = load_examples(EXAMPLES)
                    if examples:
                        gr.Examples([[str(p)] for p, _ in examples], inputs=[pad], label="Example sketches",
                                    elem_id="sketch_examples")
                    weight = gr.Slider(0, 1, value=getattr(d, "weight", 0.5), step=0.05,
                                       label="Outline ↔ colour weight  w", info="re-ranks instantly")
                    top_k = gr.Slider(1, 50, value=min(getattr(d, "top_k", 10), 50), step=1, label="Results")
                    go = gr.Button("Search with this sketch", variant="primary", elem_id="sketch_go")
                with gr.Column(scale=7):
                    summary = gr.Markdown("Draw, then press *Search with this sketch*.", elem_id="sketch_summary")
                    gallery = gr.Gallery(label="Results", columns=5, height="fit-content", object_fit="contain",
                                         elem_id="sketch_results")
                    seen = gr.Gallery(label="What the search used", columns=3, height="fit-content",
                                      object_fit="contain", elem_id="sketch_seen")
                    table = gr.Dataframe(label="Score breakdown · total = w·outline + (1−w)·colour",
                                         interactive=False, wrap=True, elem_id="sketch_breakdown")
                    with gr.Accordion("Raw results (what the API returns)", open=False):
                        raw = gr.JSON(label="API results (JSON)")
            state = gr.State(None, time_to_live=3600)
            out = [summary, gallery, table, seen, raw]
            go.click(self.run, [pad, weight, top_k, state], out + [state], api_name="sketch",
                     concurrency_id="models", concurrency_limit=1)
            for slider in (weight, top_k):
                slider.release(self.rerank, [weight, top_k, state], out,
                               # explicit names: an unnamed event would take "rerank" from the Search tab
                               api_name="sketch_rerank" if slider is weight else "sketch_top_k",
                               api_visibility="public" if slider is weight else "private",
                               show_progress="minimal", concurrency_limit=4)


def swatches(drawing, side: int = 224, height: int = 56, top: int = 6) -> np.ndarray:
    """The painted colours as a strip, each as wide as its share of the paint."""
    px = drawing.colour_pixels().reshape(-1, 3)
    strip = np.full((height, side, 3), 255, np.uint8)
    if not len(px):
        return strip
    q = (px // 32).astype(np.int32)
    keys, inverse, counts = np.unique(q[:, 0] * 64 + q[:, 1] * 8 + q[:, 2], return_inverse=True, return_counts=True)
    order = np.argsort(-counts)[:top]
    x = 0
    total = counts[order].sum()
    for i in order:
        w = int(round(side * counts[i] / total))
        strip[:, x:x + w] = np.median(px[inverse.ravel() == i], axis=0).astype(np.uint8)
        x += w
    return cv2.copyMakeBorder(strip[:, :side], 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=(200, 200, 200))


def sketch_tab(h: Any) -> SketchView:
    """Build the Sketch tab inside the current gr.Tabs (layout.py's one hook)."""
    view = SketchView.from_handlers(h)
    view.tab()
    return view
