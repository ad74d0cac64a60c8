"""Attribute vocabulary, attribute predictors and the attribute reranker (DESIGN.md §2).

For callers that already hold an analysis and its similarity hits (the
evaluation CLI, the app):

    hits = engine.rank(analysis, top_k=engine.settings.rerank_depth, alpha=0, beta=0).hits
    reranked = rerank.apply(engine, analysis, hits, alpha=2, beta=2, top_k=10)

`Engine.rank(..., alpha=, beta=)` does the same in one call.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from pipeline.types import Analysis, Hit

from .core import matched, query_size, rerank
from .vocab import Vocabulary, VocabularyError, load as load_vocabulary

__all__ = ["apply", "rerank", "matched", "query_size", "Vocabulary", "VocabularyError", "load_vocabulary"]


def apply(engine: Any, analysis: Analysis, hits: Sequence[Hit], alpha: float | None = None,
          beta: float | None = None, normalised: bool | None = None, top_k: int | None = None,
          fields: Iterable[str] | None = None) -> list[Hit]:
    """Rerank `hits` (similarity order, e.g. the top rerank_depth) for `analysis`'s attributes.

    alpha/beta/normalised default to engine.settings (alpha, beta, rerank_normalised). The query's
    attributes are analysis.attributes; if the analysis has none yet and the engine has an attribute
    predictor, they are predicted now and stored on the analysis. fields restricts which attributes
    count (default: all the query has). Returns at most top_k hits with the breakdown in hit.extra.
    """
    s = engine.settings
    alpha = s.alpha if alpha is None else float(alpha)
    beta = s.beta if beta is None else float(beta)
    normalised = s.rerank_normalised if normalised is None else bool(normalised)
    if not analysis.attributes and getattr(engine, "attributer", None) is not None:
        analysis.attributes = engine.attributer.describe([analysis.features])[0]
    return rerank(hits, analysis.attributes, alpha, beta, normalised=normalised, top_k=top_k, fields=fields)
