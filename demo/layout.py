"""The page: four tabs over one query. Wiring only; the work is in handlers.

Event choices: the query image's `.change` runs the search (uploads, examples
and shared links all land there); sliders re-rank on `.release` and filter dropdowns on
`.input`, so a drag costs one index lookup and programmatic updates (a shared
link being applied) never fire a stray re-rank; the restoration box uses
`.input` for the same reason. New inputs go after the old ones and have
defaults, so API calls written for the older signature keep working. Every public action has an api_name; duplicates are private.
"""
from __future__ import annotations

import gradio as gr

from . import render
from .handlers import Handlers
from .state import FILTER_FIELDS, MAX_AB, MAX_K, QueryCache

TITLE = "Drape · occlusion-robust fashion search"
PITCH = ("Shop photos are worn: arms, hands, hair and straps hide part of the garment, and a plain image search "
         "matches the arm as much as the dress. Drape finds the occluding pixels <em>inside</em> the garment, removes "
         "them, restores what was underneath, then ranks by <code>w·shape + (1−w)·colour</code> and lifts the "
         "results that share the query's attributes (category, colour, pattern, cut).")
RERANK_HELP = ("**Attribute rerank** · score = β·overlap/|Q| − α·rank/N, higher is better: *overlap/|Q|* is the "
               "share of the query's attributes an item matches, *rank/N* its place in the similarity list. "
               "More β = matching attributes count more; more α = trust the similarity order more; "
               "α = β = 0 turns the rerank off.")
CSS = """
#hero h1 {font-size: 1.7rem; margin: 0 0 .25rem 0; letter-spacing: -.01em; display: flex; align-items: center}
#hero .mark {display: inline-grid; place-items: center; width: 1.6em; height: 1.6em; margin-right: .5em;
             border-radius: 8px; background: var(--color-accent); color: white; font-size: .8em}
#hero p {margin: 0; max-width: 62rem; color: var(--body-text-color-subdued); line-height: 1.45}
#about {font-size: .9rem; padding: .45rem .75rem; border-radius: var(--radius-lg);
        background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary)}
#summary {min-height: 3.2rem}
.swatch {display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .3em;
         vertical-align: -.05em; border: 1px solid rgba(0,0,0,.25)}
#legend {font-size: .85rem}
footer {display: none !important}
"""
API_SNIPPET = '''```python
from gradio_client import Client, handle_file

client = Client("http://127.0.0.1:7860/")      # or "user/space" on Hugging Face
summary, gallery, table, stages, legend, timings, results = client.predict(
    handle_file("worn-dress.jpg"), 0.5, 10, True, api_name="/search")   # photo, w, top-k, restore
print(results["results"][0])   # {"id": …, "score": …, "shape": …, "colour": …, "matched": {…}, "rerank_score": …}
client.predict(0.8, 10, True, api_name="/rerank")   # new w on the cached query: no model runs
# α, β, then filters (category, colour, pattern); left out = the defaults and no filter
client.predict(0.8, 10, True, 0.25, 2.0, ["dress"], [], [], api_name="/rerank")
```'''


def theme() -> gr.themes.Base:
    soft = gr.themes.Soft(primary_hue="rose", secondary_hue="slate", neutral_hue="slate",
                          radius_size="md",
                          # System fonts only: a Google Fonts fetch stalls the page on offline machines.
                          font=["Inter", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])
    # Accent colour for actions only; labels stay quiet so the photos carry the page.
    return soft.set(block_label_text_color="*neutral_600", block_label_background_fill="*neutral_100",
                    block_title_text_color="*neutral_700", block_label_text_color_dark="*neutral_300",
                    block_label_background_fill_dark="*neutral_800", block_title_text_color_dark="*neutral_200",
                    button_primary_background_fill="*primary_500", button_primary_background_fill_hover="*primary_600",
                    button_primary_text_color="white")


def build_blocks(h: Handlers) -> gr.Blocks:
    d = h.defaults
    reranking = h.engine.settings.alpha > 0 or h.engine.settings.beta > 0
    with gr.Blocks(title=TITLE, analytics_enabled=False) as blocks:  # offline-first: no phoning home
        # One query per tab session; dropped after an idle hour so a busy server's memory stays bounded.
        cache = gr.State(QueryCache(), time_to_live=3600)
        gr.HTML(f"<div id='hero'><h1><span class='mark'>D</span>{TITLE}</h1><p>{PITCH}</p></div>")
        gr.Markdown(h.about_line(), elem_id="about")

        with gr.Tabs():
            with gr.Tab("Search", id="search"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=4, min_width=300):
                        query = gr.Image(label="Query photo", type="filepath", sources=["upload", "clipboard"],
                                         height=330, elem_id="query")
                        if h.examples:
                            ex = list(h.examples.values())
                            gr.Examples([[str(e.path)] for e in ex], inputs=[query],
                                        label="Worn examples: a hand, hair or a strap across the garment",
                                        examples_per_page=6, elem_id="examples")
                        weight = gr.Slider(0, 1, value=d.weight, step=0.05, label="Shape ↔ colour weight  w",
                                           info="0 = colour only · 1 = shape only · re-ranks instantly")
                        top_k = gr.Slider(1, MAX_K, value=d.top_k, step=1, label="Results (top-k)")
                        restore = gr.Checkbox(value=d.restore, label="Remove and restore occluders",
                                              info="Off = search the photo as it is (the baseline)")
                        with gr.Group(elem_id="rerank"):
                            gr.Markdown(RERANK_HELP, elem_id="rerank_help")
                            with gr.Row():
                                beta = gr.Slider(0, MAX_AB, value=d.beta, step=0.05, min_width=140,
                                                 label="β · reward matching attributes")
                                alpha = gr.Slider(0, MAX_AB, value=d.alpha, step=0.05, min_width=140,
                                                  label="α · trust the similarity order")
                        # Always all three (hidden when the catalogue has no values): the API keeps one signature.
                        filters = [gr.Dropdown(choices=h.facets.get(f, []), value=[], multiselect=True,
                                               label=f"Only {f}", visible=f in h.facets, elem_id=f"filter_{f}",
                                               info="empty = all · filters the catalogue before ranking"
                                               if f == "category" else None)
                                   for f in FILTER_FIELDS]
                    with gr.Column(scale=8):
                        summary = gr.Markdown("Pick an example or upload a photo to search.", elem_id="summary",
                                              label="summary")
                        # "auto" caps a gallery at 55vh with a scrollbar; fit-content shows every result.
                        gallery = gr.Gallery(label="Results", columns=5, height="fit-content", object_fit="contain",
                                             allow_preview=True, elem_id="results")
                        table = gr.Dataframe(label="Score breakdown · total = w·shape + (1−w)·colour "
                                                   "(cosines, higher is closer) · then the attribute rerank: "
                                                   "β·overlap/|Q| − α·rank/N",
                                             interactive=False, wrap=True, elem_id="breakdown",
                                             max_height=900, column_widths=render.column_widths(reranking))
                        with gr.Accordion("Raw results (what the API returns)", open=False):
                            raw = gr.JSON(label="API results (JSON)")

            with gr.Tab("Pipeline stages", id="stages"):
                gr.Markdown("How the last query was seen, stage by stage. Click an image to enlarge it.")
                stages = gr.Gallery(label="Stages", columns=4, height="fit-content", object_fit="contain",
                                    elem_id="stages")
                legend = gr.HTML(elem_id="legend", label="parsing legend")
                timings = gr.Dataframe(label="Time per stage", interactive=False, elem_id="timings")

            with gr.Tab("Compare", id="compare"):
                gr.Markdown("The same query under two settings. By default A searches the photo as it is and B "
                            "removes and restores the occluders first, which is the patent's claim in one view.")
                with gr.Row():
                    with gr.Column(variant="panel"):
                        a_weight = gr.Slider(0, 1, value=d.a_weight, step=0.05, label="A · weight w")
                        a_restore = gr.Checkbox(value=d.a_restore, label="A · remove and restore occluders")
                    with gr.Column(variant="panel"):
                        b_weight = gr.Slider(0, 1, value=d.b_weight, step=0.05, label="B · weight w")
                        b_restore = gr.Checkbox(value=d.b_restore, label="B · remove and restore occluders")
                compare_btn = gr.Button("Compare A and B", variant="primary")
                note = gr.Markdown(label="comparison")
                with gr.Row():
                    gallery_a = gr.Gallery(label="A", columns=4, height="fit-content", object_fit="contain",
                                           elem_id="gallery_a")
                    gallery_b = gr.Gallery(label="B", columns=4, height="fit-content", object_fit="contain",
                                           elem_id="gallery_b")
                ranks = gr.Dataframe(label="Rank of each item in A and B", interactive=False, elem_id="ranks")

            from .sketch import sketch_tab  # draw a garment, find it (docs/sketch.md)

            sketch_tab(h)

            with gr.Tab("Share & API", id="share"):
                link = gr.Textbox(label="Link to these settings", buttons=["copy"], interactive=False,
                                  info="Opens the app with the same weight, top-k, restoration, α, β, filters, "
                                       "compare settings and example query (uploaded photos are never put in a link).")
                preset = gr.Textbox(label="Preset (JSON)", buttons=["copy"], interactive=False)
                share_btn = gr.Button("Update link")
                with gr.Row():
                    pasted = gr.Textbox(label="Paste a link or preset", scale=4,
                                        placeholder="https://…/?w=0.8&k=12   or   {\"w\": 0.8, \"restore\": 0}")
                    apply_btn = gr.Button("Apply", scale=1)
                gr.Markdown("**API.** Every action above is an endpoint (`/search`, `/rerank`, `/compare`, "
                            "`/share`, `/apply_preset`, `/catalogue`); see *Use via API* in the footer.\n\n"
                            + API_SNIPPET)
                about_json = gr.JSON(label="Catalogue", value=h.about(), open=False)

        view_inputs = [weight, top_k, restore, a_weight, a_restore, b_weight, b_restore, alpha, beta, *filters]
        ranking = [weight, top_k, restore, alpha, beta, *filters]  # what /search and /rerank read
        search_out = [summary, gallery, table, stages, legend, timings, raw, cache]
        rerank_out = [summary, gallery, table, raw]
        # Public endpoints claim their names first; Gradio would otherwise give "share" to a private duplicate.
        share_btn.click(h.share, view_inputs + [cache], [link, preset], api_name="share")
        apply_btn.click(h.apply_preset, [pasted], view_inputs + [query], api_name="apply_preset")
        # /catalogue is an endpoint only: API users ask what is served before they search it.
        gr.Button(visible=False).click(h.about, None, about_json, api_name="catalogue")
        share_kw = dict(fn=h.share, inputs=view_inputs + [cache], outputs=[link, preset], api_visibility="private")
        # Search on image changes; preprocess=False hands our decoder the raw upload (see handlers).
        (query.change(h.search, [query, *ranking, cache], search_out, api_name="search",
                      preprocess=False, concurrency_id="models", concurrency_limit=1)
         .then(**share_kw))
        (restore.input(h.search, [query, *ranking, cache], search_out, preprocess=False,
                       concurrency_id="models", concurrency_limit=1, api_visibility="private").then(**share_kw))
        rerank_kw = dict(fn=h.rerank, inputs=ranking + [cache], outputs=rerank_out, show_progress="minimal",
                         concurrency_limit=4)
        weight.release(**rerank_kw, api_name="rerank").then(**share_kw)
        for slider in (top_k, alpha, beta):
            slider.release(**rerank_kw, api_visibility="private").then(**share_kw)
        for dropdown in filters:
            dropdown.input(**rerank_kw, api_visibility="private").then(**share_kw)
        (compare_btn.click(h.compare, [query, top_k, a_weight, a_restore, b_weight, b_restore, cache],
                           [gallery_a, gallery_b, ranks, note, cache], api_name="compare", preprocess=False,
                           concurrency_id="models", concurrency_limit=1).then(**share_kw))
        blocks.load(h.on_load, None, view_inputs + [query], api_visibility="private")
    return blocks
