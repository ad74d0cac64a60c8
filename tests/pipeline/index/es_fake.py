"""An in-memory stand-in for an Elasticsearch cluster, behind the real client.

`FakeCluster.node_class()` is an `elastic_transport` node class: the real
`Elasticsearch` client, its serializers, retries and helpers run end to end and
only the HTTP exchange is replaced. Every request is recorded (method, path,
query, decoded body, headers). Responses have the shapes a 9.x cluster sends
(error bodies come from es_recordings/responses.json); `hooks` can answer or
fail any request first, `item_hooks` can fail single bulk items.

It implements just what the drape backend uses, strictly: a query, script or
field it does not know is a 400, like a real cluster would answer a typo. It
evaluates the two drape scripts by recognising their exact source (it is not
a Painless interpreter), and its knn is exact; the real cluster's behaviour is
checked only by the live suite (ELASTICSEARCH_URL).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders

try:
    from elastic_transport._node import NodeApiResponse
except ImportError:  # only .meta and .body are read by the transport
    from collections import namedtuple

    NodeApiResponse = namedtuple("NodeApiResponse", "meta body")  # type: ignore[misc]

from pipeline.index import es_mapping as M

RECORDINGS = Path(__file__).parent / "es_recordings"
RESPONSES = json.loads((RECORDINGS / "responses.json").read_text())
HEADERS = {"x-elastic-product": "Elasticsearch", "content-type": "application/vnd.elasticsearch+json;compatible-with=9"}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]


class Reply(Exception):
    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.status, self.body = status, body


def _error(status: int, etype: str, reason: str, **extra: Any) -> Reply:
    err = {"type": etype, "reason": reason, **extra}
    return Reply(status, {"error": {"root_cause": [err], **err}, "status": status})


def not_found(name: str) -> Reply:
    body = copy.deepcopy(RESPONSES["index_not_found"])
    text = json.dumps(body).replace("drape-items", name)
    return Reply(404, json.loads(text))


@dataclass
class _Index:
    mappings: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # realtime (get/mget)
    visible: dict[str, dict[str, Any]] = field(default_factory=dict)  # as of the last refresh (search/count)
    versions: dict[str, int] = field(default_factory=dict)


class FakeCluster:
    def __init__(self) -> None:
        self.indices: dict[str, _Index] = {}
        self.aliases: dict[str, dict[str, dict[str, Any]]] = {}  # alias -> {index: options}
        self.requests: list[Request] = []
        self.hooks: list[Callable[[Request], Any]] = []  # return None to pass, a (status, body), or raise
        self.item_hooks: list[Callable[[str, str, int], Any]] = []  # (op, _id, attempt) -> None | (status, error)
        self._attempts: dict[tuple[str, str], int] = {}
        self.headers = dict(HEADERS)  # drop x-elastic-product to play a server that is not Elasticsearch

    # -- wiring ------------------------------------------------------------------
    def node_class(self) -> type[BaseNode]:
        cluster = self

        class FakeNode(BaseNode):
            _CLIENT_META_HTTP_CLIENT = ("fake", "1")

            def perform_request(self, method, target, body=None, headers=None, request_timeout=None):
                merged = self.headers.copy()
                merged.update(headers or {})
                try:
                    resp = cluster.exchange(method, target, body, merged, self.config)
                except Exception as exc:
                    self._log_request(method, target, merged, body, exception=exc)  # as the real nodes do
                    raise
                self._log_request(method, target, merged, body, meta=resp.meta, response=resp.body)
                return resp

        return FakeNode

    def connection(self, api_key: str = "fake-key-id:fake-key-secret", **options: Any):
        from pipeline.index.elasticsearch import connect

        env = {"ELASTICSEARCH_URL": "https://es.test:9200", "ELASTIC_API_KEY": api_key}
        options.setdefault("retry_backoff_base", 0.0)
        return connect(env, node_class=self.node_class(), **options)

    def exchange(self, method: str, target: str, body: bytes | None, headers, config) -> NodeApiResponse:
        url = urlsplit(target)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        hdrs = {k.lower(): v for k, v in dict(headers or {}).items()}
        decoded: Any = None
        if body:
            text = body.decode("utf-8")
            if "ndjson" in hdrs.get("content-type", ""):
                decoded = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                decoded = json.loads(text)
        req = Request(method, unquote(url.path), params, decoded, hdrs)
        self.requests.append(req)
        try:
            for hook in list(self.hooks):
                answer = hook(req)
                if answer is not None:
                    raise Reply(*answer)
            status, payload = 200, self.route(req)
        except Reply as r:
            status, payload = r.status, r.body
        meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(self.headers), duration=0.0,
                               node=config)
        data = b"" if method == "HEAD" else json.dumps(payload).encode()
        return NodeApiResponse(meta, data)

    # -- names -----------------------------------------------------------------------
    def resolve(self, name: str) -> list[str]:
        out = []
        for part in name.split(","):
            if part in self.indices:
                out.append(part)
            elif part in self.aliases:
                out += sorted(self.aliases[part])
            else:
                raise not_found(part)
        return out

    def write_index(self, name: str) -> str:
        if name in self.indices:
            return name
        targets = self.aliases.get(name)
        if not targets:
            raise not_found(name)
        writers = [i for i, o in targets.items() if o.get("is_write_index")] or list(targets)
        if len(writers) != 1:
            raise _error(400, "illegal_argument_exception", f"no write index is defined for alias [{name}]")
        return writers[0]

    # -- routing -----------------------------------------------------------------------
    def route(self, req: Request) -> Any:
        parts = [p for p in req.path.split("/") if p]
        m = req.method
        if parts == ["_aliases"] and m == "POST":
            return self.update_aliases(req.body)
        if parts and parts[-1] == "_bulk":
            return self.bulk(req.body, parts[0] if len(parts) == 2 else None)
        if len(parts) == 1 and m == "PUT":
            return self.create(parts[0], req.body or {})
        if len(parts) == 1 and m == "DELETE":
            for name in self.resolve(parts[0]):
                self.indices.pop(name)
                for targets in self.aliases.values():
                    targets.pop(name, None)
            self.aliases = {a: t for a, t in self.aliases.items() if t}
            return {"acknowledged": True}
        if len(parts) == 2:
            name, api = parts
            if api == "_mapping" and m == "GET":
                return {i: {"mappings": self.indices[i].mappings} for i in self.resolve(name)}
            if api == "_alias" and m == "GET":
                return {i: {"aliases": {a: o for a, t in self.aliases.items() for j, o in t.items() if j == i}}
                        for i in self.resolve(name)}
            if api == "_refresh":
                for i in self.resolve(name):
                    self.indices[i].visible = copy.deepcopy(self.indices[i].docs)
                return {"_shards": {"total": 1, "successful": 1, "failed": 0}}
            if api == "_count":
                return {"count": sum(len(self.indices[i].visible) for i in self.resolve(name)),
                        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
            if api == "_mget":
                return self.mget(name, req.body, req.params)
            if api == "_search":
                return self.search(name, req.body or {})
        raise _error(400, "illegal_argument_exception", f"fake cluster: unsupported {m} {req.path}")

    # -- admin -----------------------------------------------------------------------
    def create(self, name: str, body: dict[str, Any]) -> Any:
        if name in self.indices or name in self.aliases:
            raise _error(400, "resource_already_exists_exception", f"index [{name}] already exists", index=name)
        self.indices[name] = _Index(mappings=copy.deepcopy(body.get("mappings") or {}))
        for alias, opts in (body.get("aliases") or {}).items():
            if alias in self.indices:
                raise _error(400, "invalid_alias_name_exception", "an index exists with the same name as the alias")
            self.aliases.setdefault(alias, {})[name] = dict(opts)
        return {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def update_aliases(self, body: dict[str, Any]) -> Any:
        aliases = copy.deepcopy(self.aliases)
        for action in body["actions"]:
            (kind, spec), = action.items()
            if spec["index"] not in self.indices:
                raise not_found(spec["index"])
            if kind == "add":
                aliases.setdefault(spec["alias"], {})[spec["index"]] = {
                    k: v for k, v in spec.items() if k not in ("index", "alias")}
            elif kind == "remove":
                if spec["index"] not in aliases.get(spec["alias"], {}):
                    raise _error(404, "aliases_not_found_exception", f"aliases [{spec['alias']}] missing")
                del aliases[spec["alias"]][spec["index"]]
            else:
                raise _error(400, "parsing_exception", f"unknown alias action [{kind}]")
        self.aliases = {a: t for a, t in aliases.items() if t}  # all or nothing
        return {"acknowledged": True, "errors": False}

    # -- documents ---------------------------------------------------------------------
    def _validate(self, idx: _Index, src: dict[str, Any]) -> None:
        props = idx.mappings.get("properties", {})
        for key, value in src.items():
            if key not in props:
                raise _error(400, "strict_dynamic_mapping_exception",
                             f"[1:2] mapping set to strict, dynamic introduction of [{key}] within [_doc] "
                             "is not allowed")
            if props[key].get("type") == "dense_vector" and len(value) != props[key]["dims"]:
                raise _error(400, "document_parsing_exception",
                             f"[1:2] failed to parse field [{key}] of type [dense_vector]",
                             caused_by={"type": "illegal_argument_exception",
                                        "reason": f"The [dense_vector] field [{key}] has a different number of "
                                                  f"dimensions [{len(value)}] than defined in the mapping "
                                                  f"[{props[key]['dims']}]"})

    def bulk(self, lines: list[dict[str, Any]], default_index: str | None) -> Any:
        items, i = [], 0
        while i < len(lines):
            (op, meta), = lines[i].items()
            i += 1
            src = None
            if op in ("index", "create"):
                src, i = lines[i], i + 1
            elif op != "delete":
                raise _error(400, "illegal_argument_exception", f"fake cluster: bulk op {op}")
            did = meta["_id"]
            key = (op, did)
            self._attempts[key] = self._attempts.get(key, 0) + 1
            result: dict[str, Any] = {"_index": meta.get("_index") or default_index, "_id": did}
            try:
                for hook in self.item_hooks:
                    failure = hook(op, did, self._attempts[key])
                    if failure is not None:
                        raise Reply(*failure)
                name = self.write_index(meta.get("_index") or default_index)
                idx = self.indices[name]
                result["_index"] = name
                if op == "delete":
                    if did in idx.docs:
                        del idx.docs[did]
                        result.update(result="deleted", status=200)
                    else:
                        result.update(result="not_found", status=404)
                else:
                    self._validate(idx, src)
                    existed = did in idx.docs
                    idx.docs[did] = copy.deepcopy(src)
                    idx.versions[did] = idx.versions.get(did, 0) + 1
                    result.update(_version=idx.versions[did], result="updated" if existed else "created",
                                  status=200 if existed else 201,
                                  _shards={"total": 2, "successful": 1, "failed": 0})
            except Reply as r:
                err = r.body.get("error", r.body)  # a whole error response, or an item error as hooks give it
                err = {k: v for k, v in err.items() if k != "root_cause"}
                result.update(status=r.status, error=err)
            items.append({op: result})
        return {"errors": any(next(iter(x.values()))["status"] >= 300 for x in items), "took": 1, "items": items}

    def _source(self, idx: _Index, src: dict[str, Any], includes: list[str] | None) -> dict[str, Any]:
        excluded = set((idx.mappings.get("_source") or {}).get("excludes", []))
        out = {k: copy.deepcopy(v) for k, v in src.items() if k not in excluded}
        return {k: v for k, v in out.items() if k in includes} if includes is not None else out

    def mget(self, name: str, body: dict[str, Any], params: dict[str, str]) -> Any:
        (index,) = self.resolve(name)
        idx = self.indices[index]
        includes = params["_source_includes"].split(",") if "_source_includes" in params else None
        docs = []
        for did in body["ids"]:
            if did in idx.docs:
                docs.append({"_index": index, "_id": did, "_version": idx.versions[did], "found": True,
                             "_source": self._source(idx, idx.docs[did], includes)})
            else:
                docs.append({"_index": index, "_id": did, "found": False})
        return {"docs": docs}

    # -- search ----------------------------------------------------------------------------
    def _match(self, query: dict[str, Any], docs: dict[str, dict[str, Any]]) -> dict[str, float]:
        (kind, spec), = query.items()
        if kind == "match_all":
            return {d: 1.0 for d in docs}
        if kind == "terms":
            (fname, values), = spec.items()
            want = set(values)
            return {d: 1.0 for d, src in docs.items()
                    if want & set(src.get(fname) if isinstance(src.get(fname), list) else [src.get(fname)])}
        if kind == "bool":
            unknown = set(spec) - {"filter"}
            if unknown:
                raise _error(400, "parsing_exception", f"fake cluster: bool {sorted(unknown)}")
            out = {d: 0.0 for d in docs}
            for clause in spec.get("filter", []):
                keep = self._match(clause, docs)
                out = {d: s for d, s in out.items() if d in keep}
            return out
        if kind == "knn":
            if not spec["k"] <= spec["num_candidates"] <= 10_000:
                raise _error(400, "illegal_argument_exception", "[num_candidates] must be >= k and <= 10000")
            cand = docs
            for clause in spec.get("filter", []):
                keep = self._match(clause, cand)
                cand = {d: s for d, s in cand.items() if d in keep}
            q = np.asarray(spec["query_vector"], np.float32)
            scored = {d: float(np.asarray(src[spec["field"]], np.float32) @ q) for d, src in cand.items()}
            top = sorted(scored, key=lambda d: -scored[d])[: spec["k"]]  # exact: a perfect-recall HNSW
            return {d: scored[d] for d in top}
        if kind == "script_score":
            script = spec["script"]
            if script["source"] != M.SCORE_SCRIPT:
                raise _error(400, "script_exception", "fake cluster: unknown score script")
            p = script["params"]
            inner = self._match(spec["query"], docs)
            out = {}
            for d in inner:
                s = _dot(docs[d]["shape"], p["qs"])
                c = _dot(docs[d]["colour"], p["qc"])
                value = max(0.0, p["w"] * s + (1.0 - p["w"]) * c + p["offset"])
                out[d] = float(np.float32(value))  # Lucene scores are float32
            return out
        raise _error(400, "parsing_exception", f"unknown query [{kind}]")

    def search(self, name: str, body: dict[str, Any]) -> Any:
        known = {"size", "query", "sort", "_source", "script_fields", "track_total_hits", "aggs"}
        if set(body) - known:
            raise _error(400, "parsing_exception", f"fake cluster: search keys {sorted(set(body) - known)}")
        indices = self.resolve(name)
        docs = {d: src for i in indices for d, src in self.indices[i].visible.items()}
        result: dict[str, Any] = {"took": 1, "timed_out": False, "hits": {"max_score": None, "hits": []}}
        if "aggs" in body:
            result["aggregations"] = {n: self._agg(spec, docs) for n, spec in body["aggs"].items()}
        scores = self._match(body.get("query", {"match_all": {}}), docs)
        sort = body.get("sort")
        if sort is not None and sort != [{"_score": {"order": "desc"}}, {"seq": {"order": "asc"}}]:
            raise _error(400, "parsing_exception", f"fake cluster: sort {sort}")
        order = sorted(scores, key=lambda d: (-scores[d], docs[d]["seq"]))[: body.get("size", 10)]
        includes = (body.get("_source") or {}).get("includes")
        idx_of = {d: i for i in indices for d in self.indices[i].visible}
        for d in order:
            hit = {"_index": idx_of[d], "_id": d, "_score": scores[d],
                   "_source": self._source(self.indices[idx_of[d]], docs[d], includes),
                   "sort": [scores[d], docs[d]["seq"]]}
            fields = {}
            for fname, spec in (body.get("script_fields") or {}).items():
                if spec["script"]["source"] != M.DOT_SCRIPT:
                    raise _error(400, "script_exception", "fake cluster: unknown field script")
                p = spec["script"]["params"]
                fields[fname] = [_dot(docs[d][p["field"]], p["q"])]
            if fields:
                hit["fields"] = fields
            result["hits"]["hits"].append(hit)
        return result

    def _agg(self, spec: dict[str, Any], docs: dict[str, dict[str, Any]]) -> Any:
        (kind, body), = spec.items()
        if kind == "max":
            values = [src[body["field"]] for src in docs.values() if body["field"] in src]
            return {"value": float(max(values)) if values else None}
        if kind == "composite":
            (src_name, terms), = body["sources"][0].items()
            fname = terms["terms"]["field"]
            values = set()
            for src in docs.values():
                v = src.get(fname)
                values.update(v if isinstance(v, list) else [v] if v is not None else [])
            ordered = sorted(values)
            if body.get("after"):
                ordered = [v for v in ordered if v > body["after"][src_name]]
            page = ordered[: body["size"]]
            out: dict[str, Any] = {"buckets": [{"key": {src_name: v}, "doc_count": 1} for v in page]}
            if page:
                out["after_key"] = {src_name: page[-1]}
            return out
        raise _error(400, "parsing_exception", f"unknown aggregation [{kind}]")


def _dot(vector: list[float], query: list[float]) -> float:
    """What the scripts compute: float32 vector values times the query, summed in double."""
    if len(vector) != len(query):
        raise _error(400, "script_exception", "dimensions differ")
    return float(np.asarray(vector, np.float32).astype(np.float64) @ np.asarray(query, np.float64))
