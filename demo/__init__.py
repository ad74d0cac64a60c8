"""The Gradio web demo over the search pipeline: `python app.py`.

`build(settings)` makes sure the catalogue and index exist (building them on
first start), then returns an `App` whose `launch` carries the serving policy:
bounded queue, upload limit, and a server that may read only the catalogue's
image folder and the example queries.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import gradio as gr

MAX_FILE_SIZE = "10mb"
UPLOAD_LIMIT_MB = 10
CACHE_SECONDS = 3600  # = the per-session query cache's time_to_live (layout.py)


@dataclass
class App:
    blocks: gr.Blocks
    handlers: Any
    allowed_paths: list[str] = field(default_factory=list)

    def launch(self, **kwargs: Any):
        from .layout import CSS, theme

        # 2 cores: one analysis at a time (it uses both), cheap re-ranks alongside; a short queue
        # tells a crowd "busy" quickly instead of making everyone wait minutes.
        self.blocks.queue(default_concurrency_limit=2, max_size=16)
        # Gradio keeps every upload and every image it returned on disk until a restart unless told
        # otherwise: hourly, drop files older than the session state that could still use them.
        self.blocks.delete_cache = self.blocks.delete_cache or (CACHE_SECONDS, CACHE_SECONDS)
        options: dict[str, Any] = dict(
            max_file_size=MAX_FILE_SIZE, allowed_paths=self.allowed_paths, theme=theme(), css=CSS,
            footer_links=["api"], state_session_capacity=200,
            server_name=os.environ.get("GRADIO_SERVER_NAME") or None,
            server_port=int(os.environ.get("PORT") or os.environ.get("GRADIO_SERVER_PORT") or 7860))
        options.update(kwargs)
        return self.blocks.launch(**options)


def build(settings, say: Callable[[str], None] = print, **bootstrap_kw: Any) -> App:
    from . import bootstrap, examples
    from .handlers import Handlers
    from .layout import build_blocks

    served = bootstrap.open_served(settings, say=say, **bootstrap_kw)
    found = examples.for_catalogue(served)
    handlers = Handlers(served, found, upload_limit_mb=UPLOAD_LIMIT_MB)
    handlers.warm_up()
    # Only what a page may show: catalogue images and the example queries. Never the index, the
    # models or the repository.
    roots = [served.catalogue.image_root] if served.catalogue.image_root else []
    roots += sorted({e.path.parent for e in found})
    allowed = [str(Path(r).resolve()) for r in roots]
    return App(build_blocks(handlers), handlers, allowed)
