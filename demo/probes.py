"""The built-in catalogue's attribute probe: trained once from its own index, used only with it.

Queries need category, pattern, sleeve, length and neckline predictions for
the attribute rerank to have anything to match; colour names come from the
histogram without training. The catalogue CSV has those labels and the index
already holds every item's vectors, so training reads no image (seconds).

The probe lives in the catalogue's own folder, not in <home>/probes, and the
engine names it explicitly ("probe:<path>,colour-names", ...): "auto" would
also pick up probes trained on other catalogues with the same embedder.
Its header records the index folder and item count; a mismatch retrains.
"""
from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

log = logging.getLogger("drape.demo")
ATTRIBUTES = ("category", "pattern", "sleeve", "length", "neckline")


def probe_path(state_dir: Path, index_dir: Path) -> Path:
    # Keyed by the index folder (itself keyed by the vector settings): a probe fits one kind of vector.
    return state_dir / "probes" / f"{Path(index_dir).name}.npz"


def current(path: Path, index_dir: Path, items: int) -> bool:
    """Does the probe at `path` belong to this index as it is now?"""
    from rerank.predictors.probe import Probe, ProbeError

    if not path.exists():
        return False
    try:
        header = Probe.load(path).header
    except ProbeError:
        return False
    return header.get("index") == Path(index_dir).name and header.get("items") == items


def train(engine: Any, path: Path, index_dir: Path) -> Path:
    """Train from the stored vectors and catalogue labels of engine.index; write `path`."""
    from pipeline.types import Features
    from rerank.__main__ import labels_of
    from rerank.predictors.probe import train as train_probe
    from rerank.vocab import load

    index = engine.index
    ids = sorted(index.ids())
    items = index.get(ids)
    shape, colour = index.vectors(ids)
    vocab = load()
    labels = labels_of([SimpleNamespace(item=it) for it in items], vocab, list(ATTRIBUTES))
    feats = [Features(s, c) for s, c in zip(shape, colour)]
    probe = train_probe(feats, labels, vocab, engine.signature(), source=str(index_dir))
    probe.header.update(index=Path(index_dir).name, items=len(ids))
    return probe.save(path)


def spec(engine: Any, path: Path) -> str:
    """Settings.attributes for this probe: "auto"'s chain, with this probe instead of <home>/probes."""
    from rerank.predictors import PREDICTORS

    chain = [f"probe:{path}", "colour-names"]
    if "texture" in PREDICTORS:
        chain.append("texture")
    if callable(getattr(engine.embedder, "embed_text", None)):
        chain.append("zero-shot")
    return ",".join(chain)


def attach(engine: Any, state_dir: Path, say: Callable[[str], None], lock: Callable[[], Any]) -> Path | None:
    """Make sure the catalogue's probe exists and is current, and point the engine at it.

    Leaves an explicitly configured Settings.attributes alone. Any failure keeps the engine as it
    was (colour names still work): a missing probe must never stop the app from serving.
    """
    settings = engine.settings
    if "attributes" in settings.model_fields_set or settings.backend != "local" or not hasattr(engine.index,
                                                                                               "vectors"):
        return None
    index_dir = Path(settings.index_dir)
    path = probe_path(state_dir, index_dir)
    if "," in str(path):  # the spec is comma-separated; such a home cannot be named in it
        log.warning("not using the attribute probe: its path %s contains a comma", path)
        return None
    items = engine.index.count()
    try:
        if not current(path, index_dir, items):
            with lock():
                if not current(path, index_dir, items):  # another process may have trained it meanwhile
                    say(f"Training the attribute probe ({', '.join(ATTRIBUTES)}) on {items} stored items…")
                    train(engine, path, index_dir)
    except Exception:
        log.warning("attribute probe training failed; serving with colour names only", exc_info=True)
        return None
    engine.settings = settings.model_copy(update={"attributes": spec(engine, path)})
    # The attributer is built lazily and cached; ingest may already have built it with "auto".
    engine._backends.pop("attributer", None)
    return path
