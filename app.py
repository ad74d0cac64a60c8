"""Drape web demo. `python app.py` serves the built-in catalogue (built on first start);
DRAPE_CATALOGUE / DRAPE_INDEX_DIR / DRAPE_BACKEND point it elsewhere (docs/app.md)."""
from demo import build
from pipeline import config

app = build(config.load())  # first start builds the catalogue and index, with progress bars
demo = app.blocks  # the name `gradio app.py` (reload mode) looks for

if __name__ == "__main__":
    app.launch()
