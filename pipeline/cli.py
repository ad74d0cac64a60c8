"""`python -m pipeline ingest|search|info`: the command-line contract.

Exit codes: 0 success, 1 the work failed (e.g. nothing could be indexed),
2 bad input (arguments, configuration, image, catalogue or index).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import typing
from typing import Any

from . import config as config_mod
from .imageio import ImageError
from .registry import UnknownBackend


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML or YAML settings file (also DRAPE_CONFIG)")
    p.add_argument("--index", dest="index_dir", help="index directory (local backend)")
    p.add_argument("--backend", help="index backend: local or elasticsearch")
    p.add_argument("--es-index", dest="es_index", help="Elasticsearch index alias (elasticsearch backend)")
    p.add_argument("--profile", choices=typing.get_args(config_mod.Settings.model_fields["profile"].annotation),
                   help="backend set for the stages not named below (docs/models.md)")
    p.add_argument("--parser", help="parser backend")
    p.add_argument("--inpainter", help="inpainting backend")
    p.add_argument("--embedder", help="shape/style embedder backend")
    p.add_argument("--threads", type=int, help="CPU threads for the models")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m pipeline", description="Occlusion-robust fashion image search.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index a folder of images or a catalogue CSV")
    p.add_argument("source", help="folder (category = first sub-folder) or CSV (image,title,url,category,...)")
    p.add_argument("--limit", type=int, help="index at most N items")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--workers", type=int)
    p.add_argument("--attributes", help="attribute predictors stored with each item: auto, none, or e.g. probe:NAME,colour-names")
    _common(p)

    p = sub.add_parser("search", help="search the index with a photo, a text, or both")
    p.add_argument("image", nargs="?", help="query photo (optional with --text)")
    p.add_argument("--text", help='text query, e.g. "red floral midi dress" (needs a text-capable embedder: '
                   "--profile online)")
    p.add_argument("--text-weight", type=float, default=0.5, dest="text_weight",
                   help="photo + text: share of the text in the shape vector, 0..1 (default 0.5)")
    p.add_argument("--top-k", type=int, dest="top_k")
    p.add_argument("--weight", type=float, help="w in w·shape + (1−w)·colour, 0..1")
    p.add_argument("--no-restore", dest="restore", action="store_const", const=False,
                   help="skip occluder removal and restoration")
    p.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                   help="restrict candidates, e.g. category=dress (repeatable; same field = OR)")
    p.add_argument("--alpha", type=float, help="rerank: weight of the similarity rank in β·overlap − α·rank (>= 0)")
    p.add_argument("--beta", type=float, help="rerank: weight of the attribute overlap (>= 0); α = β = 0 disables")
    p.add_argument("--rerank-depth", type=int, dest="rerank_depth", help="rerank the top N candidates")
    p.add_argument("--normalised", dest="rerank_normalised", action="store_const", const=True,
                   help="rerank with β·overlap/|Q| − α·rank/N (the default)")
    p.add_argument("--raw", dest="rerank_normalised", action="store_const", const=False,
                   help="rerank with raw counts: β·overlap − α·rank, the paper's form")
    p.add_argument("--attributes", help="query attribute predictors: auto, none, or e.g. probe:NAME,colour-names")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    _common(p)

    p = sub.add_parser("info", help="describe an index")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("es-copy", help="copy a local index into Elasticsearch (new index, then an atomic alias swap)")
    p.add_argument("--config", help="TOML or YAML settings file (also DRAPE_CONFIG)")
    p.add_argument("--index", dest="index_dir", help="the local index directory to copy")
    p.add_argument("--es-index", dest="es_index", help="the Elasticsearch alias to point at the copy")
    p.add_argument("--vector-index", default="hnsw", choices=["hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw"],
                   help="HNSW vector storage: float32 (default) or quantised")
    p.add_argument("--keep-old", action="store_true", help="keep the index the alias pointed at before")
    return ap


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values:
        field, sep, value = v.partition("=")
        if not sep or not field.strip() or not value.strip():
            raise ValueError(f"--filter expects FIELD=VALUE, got {v!r}")
        out.setdefault(field.strip(), []).append(value.strip())
    return out


def settings_from(args: argparse.Namespace) -> config_mod.Settings:
    keys = set(config_mod.FIELDS)
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if k in keys}
    return config_mod.load(args.config, overrides)


def _engine(settings, create: bool):
    from .engine import Engine
    from .index import open_index

    engine = Engine(settings)
    engine.index = open_index(settings, engine.signature(), create=create)
    return engine


def cmd_ingest(args, settings) -> int:
    from .ingest import ingest

    engine = _engine(settings, create=True)
    report = ingest(engine, engine.index, args.source, limit=args.limit)
    print(report.summary())
    where = settings.index_dir if settings.backend == "local" else f"{settings.backend}:{settings.es_index}"
    print(f"index: {where} ({engine.index.count()} items)")
    return 1 if report.total and not report.indexed and not report.skipped else 0


def cmd_search(args, settings) -> int:
    if not args.image and not args.text:
        raise ValueError("search needs a photo, --text, or both")
    if not 0.0 <= args.text_weight <= 1.0:
        raise ValueError(f"--text-weight must be within 0..1, got {args.text_weight}")
    engine = _engine(settings, create=False)
    filters = parse_filters(args.filter)
    if args.text:
        result = engine.search_text(args.text, image=args.image, text_weight=args.text_weight, filters=filters)
    else:
        result = engine.search(args.image, filters=filters)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    a = result.analysis
    if a is None:  # text alone: no photo analysed
        print(f"{len(result.hits)} results for the text {args.text!r} (shape space only)")
    else:
        print(f"{len(result.hits)} results  (w={result.weight:.2f}, occluded {a.region.occluded_fraction:.1%} of the "
              f"garment, restore={a.restoration.backend}" + (f", text weight {args.text_weight:g}" if args.text else "")
              + ")")
    attrs = {k: v for k, v in a.attributes.items() if not k.startswith("_")} if a is not None else {}
    if attrs:
        conf = a.attributes.get("_confidence", {})
        print("query attributes: " + ", ".join(f"{k}={v} ({conf.get(k, 0):.2f})" for k, v in attrs.items()))
    reranked = any("rerank_score" in h.extra for h in result.hits)
    if reranked:
        form = "β·overlap/|Q| − α·rank/N" if settings.rerank_normalised else "β·overlap − α·rank"
        print(f"reranked by {form} with α={settings.alpha:g}, β={settings.beta:g} over the top {settings.rerank_depth}")
    print(f"{'rank':>4}  {'score':>7}  {'shape':>7}  {'colour':>7}" + ("  sim  rerank  matched" if reranked else "") + "  id")
    for i, h in enumerate(result.hits, 1):
        more = (f"  {h.rank:>3}  {h.extra['rerank_score']:6.2f}  {','.join(h.extra['matched'].values()) or '-'}"
                if reranked else "")
        print(f"{(i if reranked else h.rank):>4}  {h.score:7.4f}  {h.shape:7.4f}  {h.colour:7.4f}{more}  {h.item.id}")
    print("timings (ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in result.timings.items()))
    return 0


def cmd_info(args, settings) -> int:
    from .index import INDEXES

    index = INDEXES.create(settings.backend, path=settings.index_dir, es_index=settings.es_index)
    info = index.info()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for k, v in info.items():
            print(f"{k:>12}: {v}")
    return 0


def cmd_es_copy(args, settings) -> int:
    from .index.elasticsearch import copy_local_index

    report = copy_local_index(settings.index_dir, settings.es_index, vector_index=args.vector_index,
                              keep_old=args.keep_old)
    print(report.summary())
    return 0 if report.swapped else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .index import IndexError_
    from .ingest import SourceError

    try:
        settings = settings_from(args)
        return {"ingest": cmd_ingest, "search": cmd_search, "info": cmd_info,
                "es-copy": cmd_es_copy}[args.command](args, settings)
    except (config_mod.ConfigError, UnknownBackend, ImageError, IndexError_, SourceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: committed batches are kept; re-run to resume", file=sys.stderr)
        return 130
