"""Retrieval metrics over ranked id lists.

hit@K (seed 001, eq. 1): the fraction of queries with at least one relevant
item in the top K. recall@K: the mean over queries of the fraction of their
relevant items found in the top K. mAP: the mean over queries of average
precision, AP = (1/|R|)·Σ_k P@k·rel(k), over the ranked list as returned
(relevant items not returned count as misses).
"""
from __future__ import annotations

from typing import Iterable, Sequence


def hit_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return 1.0 if any(r in relevant for r in ranked[:k]) else 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def average_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for i, r in enumerate(ranked, start=1):
        if r in relevant:
            found += 1
            total += found / i
    return total / len(relevant)


def first_rank(ranked: Sequence[str], relevant: set[str]) -> int | None:
    for i, r in enumerate(ranked, start=1):
        if r in relevant:
            return i
    return None


def summarise(runs: Iterable[tuple[Sequence[str], set[str]]], ks: Sequence[int]) -> dict[str, float]:
    """{hit@K, recall@K for each K, mAP, queries} over (ranked ids, relevant ids) pairs."""
    runs = list(runs)
    n = len(runs)
    out: dict[str, float] = {"queries": n}
    if not n:
        return out
    for k in ks:
        out[f"hit@{k}"] = sum(hit_at(r, rel, k) for r, rel in runs) / n
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at(r, rel, k) for r, rel in runs) / n
    out["mAP"] = sum(average_precision(r, rel) for r, rel in runs) / n
    return out
