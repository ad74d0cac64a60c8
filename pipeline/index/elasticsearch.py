"""The Elasticsearch index: same Protocol and same answers as the local index.

Connection comes from the environment (`ELASTICSEARCH_URL`, or `ELASTIC_CLOUD_ID`,
with `ELASTIC_API_KEY`; optional `ELASTICSEARCH_CA_CERTS` for a private CA).
TLS is always verified, credentials are never logged or put in a message.

The index sits behind an alias (`es_index`, default `drape-items`) that points
at one concrete index `<alias>-v<mapping version>-<timestamp>`; `copy_local_index`
(`python -m pipeline es-copy`) builds a new concrete index and swaps the alias
in one atomic `_aliases` call. What is sent is built in `es_mapping`.

Search is one request: approximate kNN on the combined [shape, colour] field
with the filters inside the knn clause (or, with ann="exact", every filtered
document), exact rescoring with the weighted formula in `script_score`, ties
by insertion order, and each hit's two cosines as script fields; the final
order is re-checked client-side in double precision, so the top-k equals the
local index's exact top-k (HNSW recall permitting, as for the local HNSW mode).
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets as _secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit

import numpy as np

from ..types import Hit, Item
from . import Filters, IndexError_, weighted_query
from . import es_mapping as M

log = logging.getLogger(__name__)
INSTALL_HINT = "pip install elasticsearch==9.5.1"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _lib():
    try:
        import elasticsearch
        from elasticsearch import helpers  # noqa: F401
    except ImportError:
        raise IndexError_(f"the elasticsearch backend needs the Elasticsearch client: {INSTALL_HINT}") from None
    return elasticsearch


class BulkError(IndexError_):
    """Some documents were not written; `indexed` were, `errors` lists (item id, reason) for the rest."""

    def __init__(self, message: str, indexed: int, errors: list[tuple[str, str]]):
        super().__init__(message)
        self.indexed, self.errors = indexed, errors


# --- connection -----------------------------------------------------------------

@dataclass(frozen=True)
class Connection:
    client: Any = field(repr=False)
    where: str  # for messages: the URL without credentials, or the Cloud deployment name
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def scrub(self, text: Any) -> str:
        text = str(text)
        for s in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(s, "<redacted>")
        return text


def _key_forms(api_key: str) -> list[str]:
    """Every spelling of an API key that could end up in a string."""
    forms = [api_key]
    if ":" in api_key:
        forms += api_key.split(":", 1)[1:] + [base64.b64encode(api_key.encode()).decode()]
    else:
        try:
            decoded = base64.b64decode(api_key, validate=True).decode()
            forms += [decoded] + decoded.split(":", 1)[1:]
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
    return [f for f in forms if len(f) >= 4]


def connect(environ: dict[str, str] | None = None, **client_options: Any) -> Connection:
    """A client from ELASTICSEARCH_URL or ELASTIC_CLOUD_ID (+ ELASTIC_API_KEY), certificates verified."""
    es = _lib()
    env = os.environ if environ is None else environ
    url = (env.get("ELASTICSEARCH_URL") or "").strip()
    cloud_id = (env.get("ELASTIC_CLOUD_ID") or "").strip()
    api_key = (env.get("ELASTIC_API_KEY") or "").strip()
    ca_certs = (env.get("ELASTICSEARCH_CA_CERTS") or "").strip()
    if not url and not cloud_id:
        raise IndexError_("the elasticsearch backend needs ELASTICSEARCH_URL (e.g. https://localhost:9200) or "
                          "ELASTIC_CLOUD_ID, plus ELASTIC_API_KEY; see docs/elasticsearch.md")
    secrets = _key_forms(api_key) if api_key else []
    options: dict[str, Any] = {"verify_certs": True, "request_timeout": 30, "max_retries": 3,
                               "retry_on_timeout": True}
    if api_key:
        options["api_key"] = tuple(api_key.split(":", 1)) if ":" in api_key else api_key
    hosts = None
    if url:
        try:
            parts = urlsplit(url)
            host, password = parts.hostname, parts.password
        except ValueError:
            raise IndexError_("ELASTICSEARCH_URL is not a valid URL; it should look like https://host:9200") from None
        if password:
            secrets += [password, unquote(password)]
        if parts.scheme not in ("http", "https") or not host:
            raise IndexError_("ELASTICSEARCH_URL should look like https://host:9200 (scheme http or https)")
        if parts.scheme == "http" and (api_key or password) and host not in _LOOPBACK:
            raise IndexError_(f"refusing to send credentials over plain http to {host}; use an https:// URL")
        port = f":{parts.port}" if parts.port else ""
        where = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
        hosts = [url]
    else:
        where = f"Elastic Cloud deployment {cloud_id.split(':', 1)[0]!r}"
        options["cloud_id"] = cloud_id
    if ca_certs:
        if not Path(ca_certs).is_file():
            raise IndexError_(f"ELASTICSEARCH_CA_CERTS={ca_certs} is not a readable file (a PEM CA bundle)")
        options["ca_certs"] = ca_certs
    options.update(client_options)
    conn = Connection(None, where, tuple(secrets))
    try:
        client = es.Elasticsearch(hosts, **options)
    except (ValueError, TypeError) as exc:
        raise IndexError_(f"cannot configure the Elasticsearch client for {where}: {conn.scrub(exc)}") from None
    return Connection(client, where, tuple(secrets))


def _reason(exc: Any) -> str:
    body = getattr(exc, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        cause = err.get("caused_by") or {}
        text = f"{err.get('type', 'error')}: {err.get('reason', '')}"
        return text + (f" ({cause.get('reason')})" if cause.get("reason") else "")
    return str(getattr(exc, "message", "") or exc)


def _missing(conn: Connection, name: str) -> IndexError_:
    return IndexError_(f"Elasticsearch index '{name}' does not exist at {conn.where}; copy a local index into it "
                       f"with: python -m pipeline es-copy --index DIR --es-index {name}  (or ingest with "
                       f"--backend elasticsearch --es-index {name})")


def _root(exc: BaseException) -> str:
    """The innermost cause of a transport error (the transport nests them: 'Connection error caused by ...')."""
    seen = 0
    while getattr(exc, "errors", None) and seen < 10:
        exc, seen = exc.errors[0], seen + 1
    return str(exc)


def _translate(exc: Exception, conn: Connection, doing: str, name: str) -> IndexError_:
    es = _lib()
    where = conn.where
    if isinstance(exc, es.AuthenticationException):
        msg = (f"Elasticsearch at {where} rejected the credentials (HTTP 401) while trying to {doing}: check "
               "ELASTIC_API_KEY (an active API key: the Base64 'encoded' value, or 'id:api_key'; create one in "
               "Kibana > Stack Management > API keys)")
    elif isinstance(exc, es.AuthorizationException):
        msg = (f"the API key for {where} may not {doing} '{name}' (HTTP 403: {_reason(exc)}); grant it the index "
               f"privileges read, write, view_index_metadata and manage on '{name}*'")
    elif isinstance(exc, es.NotFoundError) and "index_not_found" in _reason(exc):
        return _missing(conn, name)
    elif isinstance(exc, es.UnsupportedProductError):
        msg = f"the server at {where} is not Elasticsearch (no X-Elastic-Product header); check ELASTICSEARCH_URL"
    elif isinstance(exc, es.SSLError):
        msg = (f"TLS verification failed for {where} ({_root(exc)}); if the cluster uses a private CA, point "
               "ELASTICSEARCH_CA_CERTS at its PEM bundle (verification is never switched off)")
    elif isinstance(exc, es.ConnectionTimeout):
        msg = f"Elasticsearch at {where} did not answer in time while trying to {doing} '{name}'; check the cluster"
    elif isinstance(exc, es.ConnectionError):
        msg = (f"cannot reach Elasticsearch at {where} ({_root(exc)}); check ELASTICSEARCH_URL / ELASTIC_CLOUD_ID "
               "and that the cluster is running")
    elif isinstance(exc, es.ApiError) and exc.meta.status == 429:
        msg = (f"Elasticsearch at {where} is overloaded (HTTP 429) and kept rejecting the request to {doing} "
               f"'{name}' after retries; retry later or with a smaller batch")
    elif isinstance(exc, es.ApiError):
        msg = f"Elasticsearch refused to {doing} '{name}' (HTTP {exc.meta.status} {_reason(exc)})"
    else:
        msg = f"Elasticsearch request to {doing} '{name}' failed: {exc.__class__.__name__}: {exc}"
    return IndexError_(conn.scrub(msg))


# --- the index ----------------------------------------------------------------------

class ElasticsearchIndex:
    name = "elasticsearch"

    def __init__(self, path: Any = None, shape_dim: int | None = None, colour_dim: int | None = None,
                 create: bool = False, ann: str = "auto", ann_threshold: int = 100_000,
                 signature: dict[str, Any] | None = None, threads: int = 2, es_index: str | None = None, *,
                 connection: Connection | None = None, environ: dict[str, str] | None = None,
                 vector_index: str = "hnsw", chunk_size: int = 200, max_retries: int = 5,
                 initial_backoff: float = 1.0, max_backoff: float = 30.0, oversample: int = 4, **_: Any):
        try:
            self.index_name = M.check_index_name(es_index or "drape-items")
        except ValueError as exc:
            raise IndexError_(str(exc)) from None
        if ann not in ("auto", "exact", "hnsw"):
            raise IndexError_(f"ann must be auto, exact or hnsw, got {ann!r}")
        self.ann, self.oversample = ann, max(1, int(oversample))
        self.chunk_size, self.max_retries = chunk_size, max_retries
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self._conn = connection or connect(environ)
        self._owns_client = connection is None
        self._client = self._conn.client
        self._lock = threading.Lock()
        self._next_seq: int | None = None  # next insertion number; one writer at a time, like the local index
        try:
            self._open(create, shape_dim, colour_dim, signature, vector_index)
        except BaseException:
            self.close()
            raise

    def _open(self, create, shape_dim, colour_dim, signature, vector_index) -> None:
        found = self._read_mapping()
        if found is None:
            if not create:
                raise _missing(self._conn, self.index_name)
            if shape_dim is None or colour_dim is None:
                raise IndexError_("creating an index needs the vector sizes")
            concrete = _new_name(self.index_name)
            with self._call("create"):
                _create_index(self._conn.client, concrete, shape_dim, colour_dim, signature, vector_index,
                              alias=self.index_name)
            found = self._read_mapping()
            if found is None:
                raise IndexError_(f"created '{concrete}' behind '{self.index_name}' but cannot read it back")
        self.indices, self.meta = found
        self._check(found, signature, shape_dim, colour_dim)
        self.shape_dim, self.colour_dim = int(self.meta["shape_dim"]), int(self.meta["colour_dim"])

    def __repr__(self) -> str:
        return f"<ElasticsearchIndex {self.index_name!r} at {self._conn.where}>"

    # -- plumbing ----------------------------------------------------------------
    @contextlib.contextmanager
    def _call(self, doing: str) -> Iterator[None]:
        es = _lib()
        try:
            yield
        except IndexError_:
            raise
        except (es.ApiError, es.TransportError, es.UnsupportedProductError) as exc:
            raise _translate(exc, self._conn, doing, self.index_name) from None

    def _read_mapping(self) -> tuple[list[str], dict[str, Any]] | None:
        es = _lib()
        with self._call("open"):
            try:
                resp = self._client.indices.get_mapping(index=self.index_name)
            except es.NotFoundError as exc:
                if "index_not_found" not in _reason(exc):
                    raise
                return None
        body = dict(resp.body)
        if len(body) != 1:
            raise IndexError_(f"'{self.index_name}' points at {len(body)} indices ({', '.join(sorted(body))}); a drape "
                              "alias must point at exactly one (es-copy swaps it atomically)")
        concrete, spec = next(iter(body.items()))
        self._properties = (spec.get("mappings") or {}).get("properties") or {}
        return [concrete], (spec.get("mappings") or {}).get("_meta") or {}

    def _check(self, found, signature, shape_dim, colour_dim) -> None:
        (concrete,), meta = found
        where = f"'{self.index_name}'" + (f" (index '{concrete}')" if concrete != self.index_name else "")
        if meta.get("format") != M.FORMAT:
            raise IndexError_(f"Elasticsearch {where} was not created by drape (no drape mapping metadata); choose "
                              "another --es-index (DRAPE_ES_INDEX) or delete that index")
        version = int(meta.get("version", 0))
        if version > M.MAPPING_VERSION:
            raise IndexError_(f"Elasticsearch {where} has mapping v{version}, newer than this drape (v"
                              f"{M.MAPPING_VERSION}); upgrade drape")
        if version < M.MAPPING_VERSION:
            raise IndexError_(f"Elasticsearch {where} has the old mapping v{version}; rebuild it with: "
                              f"python -m pipeline es-copy --index DIR --es-index {self.index_name}")
        problems = []
        for fname, want in M.expected_fields(int(meta["shape_dim"]), int(meta["colour_dim"])).items():
            have = self._properties.get(fname) or {}
            for key, value in want.items():
                if have.get(key) != value:
                    problems.append(f"{fname}.{key} is {have.get(key)!r}, expected {value!r}")
        if problems:
            raise IndexError_(f"mapping mismatch in Elasticsearch {where}: {'; '.join(problems)}; rebuild it with: "
                              f"python -m pipeline es-copy --index DIR --es-index {self.index_name}")
        want = dict(signature or {}, **({"shape_dim": shape_dim} if shape_dim else {}),
                    **({"colour_dim": colour_dim} if colour_dim else {}))
        clash = {k: (meta.get(k), v) for k, v in want.items() if k in meta and meta[k] != v}
        if clash:
            detail = ", ".join(f"{k}: index has {a!r}, config wants {b!r}" for k, (a, b) in clash.items())
            raise IndexError_(f"Elasticsearch {where} was built with other settings ({detail}); copy a matching "
                              "index into a new --es-index or change the configuration")

    # -- writes ------------------------------------------------------------------
    def _max_seq(self) -> int:
        with self._call("read"):
            self._client.indices.refresh(index=self.index_name)
            resp = self._client.search(index=self.index_name, size=0, track_total_hits=False,
                                       aggs={"max_seq": {"max": {"field": "seq"}}})
        value = ((resp.body.get("aggregations") or {}).get("max_seq") or {}).get("value")
        return -1 if value is None else int(value)

    def _existing_seqs(self, dids: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(dids), 1000):
            with self._call("read"):
                resp = self._client.mget(index=self.index_name, ids=dids[i:i + 1000], source_includes=["seq"])
            for doc in resp.body.get("docs", []):
                if doc.get("found") and "seq" in (doc.get("_source") or {}):
                    out[doc["_id"]] = int(doc["_source"]["seq"])
        return out

    def _assign_seqs(self, dids: list[str]) -> list[int]:
        """Keep an existing document's position (an upsert does not move it, as in the local index)."""
        existing = self._existing_seqs(list(dict.fromkeys(dids)))
        with self._lock:
            if self._next_seq is None:
                self._next_seq = self._max_seq() + 1
            out = []
            for d in dids:
                if d not in existing:
                    existing[d] = self._next_seq
                    self._next_seq += 1
                out.append(existing[d])
            return out

    def _bulk(self, actions: list[dict[str, Any]], names: dict[str, str], doing: str) -> tuple[int, list]:
        """streaming_bulk: chunks, 429s retried per document with exponential backoff; per-item errors returned."""
        from elasticsearch import helpers

        done, errors = 0, []
        client = self._client.options(retry_on_status=(502, 503, 504))  # 429: the helper backs off instead
        try:
            with self._call(doing):
                for ok, info in helpers.streaming_bulk(
                        client, actions, chunk_size=self.chunk_size, max_chunk_bytes=20 * 1024 * 1024,
                        raise_on_error=False, raise_on_exception=True, max_retries=self.max_retries,
                        initial_backoff=self.initial_backoff, max_backoff=self.max_backoff, yield_ok=True):
                    op, res = next(iter(info.items()))
                    if ok:
                        done += op != "delete" or res.get("result") == "deleted"
                    elif not (op == "delete" and res.get("status") == 404):
                        err = res.get("error")
                        why = f"{err.get('type')}: {err.get('reason')}" if isinstance(err, dict) else str(err)
                        errors.append((names.get(res.get("_id"), str(res.get("_id"))),
                                       self._conn.scrub(f"HTTP {res.get('status')} {why}")[:400]))
        except IndexError_ as exc:
            if not done:
                raise
            raise BulkError(f"{exc} ({done} of {len(actions)} documents were written before the failure)",
                            done, errors) from None
        for name, why in errors[:20]:
            log.warning("elasticsearch: %s %s failed: %s", doing, name, why)
        return done, errors

    def _write(self, items: list[Item], shape: np.ndarray, colour: np.ndarray, seqs: list[int]) -> tuple[int, list]:
        names, actions = {}, []
        for i, it in enumerate(items):
            did = M.doc_id(it.id)
            names[did] = it.id
            actions.append({"_op_type": "index", "_index": self.index_name, "_id": did,
                            "_source": M.document(it, shape[i].tolist(), colour[i].tolist(), seqs[i])})
        return self._bulk(actions, names, "write documents to")

    def add(self, items: list[Item], shape: np.ndarray, colour: np.ndarray) -> int:
        """Upsert by id; returns how many were written. Raises BulkError (with .indexed, .errors)
        if any document was rejected after retries."""
        shape = np.asarray(shape, np.float32).reshape(len(items), self.shape_dim)
        colour = np.asarray(colour, np.float32).reshape(len(items), self.colour_dim)
        if not items:
            return 0
        seqs = self._assign_seqs([M.doc_id(it.id) for it in items])
        done, errors = self._write(items, shape, colour, seqs)
        if errors:
            shown = "; ".join(f"{n}: {w}" for n, w in errors[:5])
            raise BulkError(f"{len(errors)} of {len(items)} documents were not indexed into '{self.index_name}' "
                            f"({done} were): {shown}", done, errors)
        return done

    def delete(self, ids: list[str]) -> int:
        dids = list(dict.fromkeys(M.doc_id(i) for i in ids))
        if not dids:
            return 0
        names = {M.doc_id(i): i for i in ids}
        done, errors = self._bulk([{"_op_type": "delete", "_index": self.index_name, "_id": d} for d in dids],
                                  names, "delete documents from")
        if errors:
            raise BulkError(f"{len(errors)} deletions failed in '{self.index_name}': "
                            + "; ".join(f"{n}: {w}" for n, w in errors[:5]), done, errors)
        return done

    def flush(self) -> None:
        with self._call("refresh"):
            self._client.indices.refresh(index=self.index_name)

    # -- reads -------------------------------------------------------------------
    def count(self) -> int:
        with self._call("count documents in"):
            return int(self._client.count(index=self.index_name).body["count"])

    def _distinct(self, fname: str) -> Iterator[Any]:
        after = None
        while True:
            with self._call("read"):
                resp = self._client.search(index=self.index_name, **M.composite_body(fname, after, M.COMPOSITE_PAGE))
            agg = resp.body["aggregations"]["values"]
            for bucket in agg.get("buckets", []):
                yield bucket["key"]["v"]
            after = agg.get("after_key")
            if len(agg.get("buckets", [])) < M.COMPOSITE_PAGE or not after:
                return

    def hashes(self) -> set[str]:
        return set(self._distinct("content_hash"))

    def ids(self) -> set[str]:
        return set(self._distinct("id"))

    def facets(self, field: str) -> list[str]:
        values = set()
        for term in self._distinct("filters"):
            f, v = M.untag(term)
            if f == field:
                values.add(v)
        return sorted(values)

    def get(self, ids: list[str]) -> list[Item]:
        out = []
        for i in range(0, len(ids), 1000):
            with self._call("read"):
                resp = self._client.mget(index=self.index_name, ids=[M.doc_id(x) for x in ids[i:i + 1000]],
                                         source_includes=M.ITEM_FIELDS)
            out += [_item(d["_source"]) for d in resp.body.get("docs", []) if d.get("found")]
        return out

    def search(self, q_shape: np.ndarray, q_colour: np.ndarray, weight: float, k: int,
               filters: Filters | None = None, exact: bool | None = None) -> list[Hit]:
        qs, qc = np.asarray(q_shape, np.float32), np.asarray(q_colour, np.float32)
        q = weighted_query(qs, qc, weight)
        if k <= 0:
            return []
        use_exact = exact if exact is not None else self.ann == "exact"
        body = M.search_body(q.tolist(), qs.tolist(), qc.tolist(), weight, k, filters, use_exact, self.oversample)
        with self._call("search"):
            resp = self._client.search(index=self.index_name, **body)
        rows = []
        for h in resp.body["hits"]["hits"]:
            src, fields = h.get("_source") or {}, h.get("fields") or {}
            try:
                s, c = float(fields["shape_sim"][0]), float(fields["colour_sim"][0])
            except (KeyError, IndexError, TypeError):
                log.warning("elasticsearch: hit %s came back without its cosines; skipped", src.get("id"))
                continue
            rows.append((-(weight * s + (1.0 - weight) * c), int(src.get("seq", 0)), s, c, src))
        rows.sort(key=lambda r: (r[0], r[1]))  # exact order in double precision, ties by insertion order
        return [Hit(item=_item(src), score=-neg, shape=s, colour=c, rank=i + 1)
                for i, (neg, _, s, c, src) in enumerate(rows[:k])]

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "target": self._conn.where, "alias": self.index_name,
                "indices": list(self.indices), "items": self.count(),
                "mode": "exact (script_score)" if self.ann == "exact" else "knn + exact rescoring",
                **{k: v for k, v in self.meta.items() if k != "format"}}

    def drop(self) -> None:
        """Delete the concrete index behind the alias (tests and tools)."""
        with self._call("delete"):
            self._client.indices.delete(index=list(self.indices))

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None


def _new_name(alias: str) -> str:
    return f"{alias}-v{M.MAPPING_VERSION}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{_secrets.token_hex(2)}"


def _create_index(client: Any, concrete: str, shape_dim: int, colour_dim: int, signature: dict[str, Any] | None,
                  vector_index: str, alias: str | None) -> None:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        body = M.mapping(shape_dim, colour_dim, M.index_meta(shape_dim, colour_dim, signature, vector_index, created),
                         vector_index)
    except ValueError as exc:
        raise IndexError_(str(exc)) from None
    kwargs: dict[str, Any] = {"index": concrete, "mappings": body}
    if alias:
        kwargs["aliases"] = {alias: {"is_write_index": True}}
    client.indices.create(**kwargs)
    log.info("created Elasticsearch index %s%s", concrete, f" behind alias {alias}" if alias else "")


def _item(src: dict[str, Any]) -> Item:
    return Item(id=src.get("id", ""), image=src.get("image", ""), title=src.get("title") or "",
                url=src.get("url") or "", category=src.get("category") or "",
                attributes=src.get("attributes") or {}, content_hash=src.get("content_hash") or "")


# --- es-copy: local index -> a fresh Elasticsearch index, then an atomic alias swap -------------

@dataclass
class CopyReport:
    alias: str
    index: str = ""
    total: int = 0
    copied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    swapped: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"{self.copied} of {self.total} items copied into '{self.index}' ({self.seconds:.1f} s), "
                 f"{len(self.failed)} failed"]
        lines += [f"  failed: {n}: {w}" for n, w in self.failed[:20]]
        if self.swapped:
            lines.append(f"alias '{self.alias}' -> '{self.index}'" + (
                f" (was {', '.join(self.replaced)})" if self.replaced else " (new)"))
        else:
            lines.append(f"alias '{self.alias}' left unchanged; the incomplete copy was deleted")
        return "\n".join(lines)


def _alias_targets(conn: Connection, alias: str) -> list[str]:
    es = _lib()
    try:
        resp = conn.client.indices.get_alias(index=alias)
    except es.NotFoundError:
        return []
    except (es.ApiError, es.TransportError) as exc:
        raise _translate(exc, conn, "read the alias", alias) from None
    if alias in resp.body:
        raise IndexError_(f"'{alias}' is a concrete Elasticsearch index, not an alias, so it cannot be swapped "
                          "atomically; copy into another --es-index, or delete that index first")
    return sorted(resp.body)


def copy_local_index(source: str | os.PathLike, es_index: str, *, connection: Connection | None = None,
                     environ: dict[str, str] | None = None, vector_index: str = "hnsw", batch: int = 500,
                     keep_old: bool = False, progress: Callable[[int, int], None] | None = None,
                     **index_options: Any) -> CopyReport:
    """Copy a local index into a new concrete index (same order, so the same tie-breaks), check
    the count, then point the alias at it in one atomic call and delete the previous index."""
    from . import INDEXES

    t0 = time.perf_counter()
    try:
        alias = M.check_index_name(es_index)
    except ValueError as exc:
        raise IndexError_(str(exc)) from None
    local = INDEXES.create("local", path=source, ann="exact")
    conn = connection or connect(environ)
    report, created = None, False
    try:
        old = _alias_targets(conn, alias)
        manifest = local.manifest
        signature = {k: v for k, v in manifest.items() if k not in ("format", "version", "created")}
        report = CopyReport(alias=alias, index=_new_name(alias))
        try:
            _create_index(conn.client, report.index, int(manifest["shape_dim"]), int(manifest["colour_dim"]),
                          signature, vector_index, alias=None)
        except (_lib().ApiError, _lib().TransportError) as exc:
            raise _translate(exc, conn, "create", report.index) from None
        created = True
        dest = ElasticsearchIndex(es_index=report.index, connection=conn, signature=signature, **index_options)
        snap = local.snapshot()
        report.total = len(snap.ids)
        for start in range(0, report.total, batch):
            ids = snap.ids[start:start + batch]
            got = {it.id: it for it in local.get(ids)}
            keep = [i for i, iid in enumerate(ids) if iid in got]
            pos = np.asarray(keep, np.int64) + start
            done, errors = dest._write([got[ids[i]] for i in keep], snap.shape_part(pos), snap.colour_part(pos),
                                       [int(p) for p in pos])
            report.copied += done
            report.failed += errors
            if progress:
                progress(start + len(ids), report.total)
        dest.flush()
        indexed = dest.count()
        if indexed != report.copied:
            report.failed.append(("(count)", f"Elasticsearch holds {indexed} documents but acknowledged "
                                             f"{report.copied}"))
        if report.failed:
            report.seconds = time.perf_counter() - t0
            return report  # the finally clause deletes the incomplete copy; the alias is untouched
        actions = [{"remove": {"index": o, "alias": alias}} for o in old]
        actions.append({"add": {"index": report.index, "alias": alias, "is_write_index": True}})
        with dest._call("point the alias at"):
            conn.client.indices.update_aliases(actions=actions)
        report.swapped, report.replaced = True, old
        if old and not keep_old:
            with dest._call("delete the previous index behind"):
                conn.client.indices.delete(index=old)
        report.seconds = time.perf_counter() - t0
        return report
    finally:
        if created and not report.swapped:  # never leave a half-copied index behind
            try:
                conn.client.indices.delete(index=report.index)
            except Exception as exc:  # report the original problem, not this one
                log.warning("could not delete the incomplete copy %s: %s", report.index, conn.scrub(exc))
        local.close()
        if connection is None and conn.client is not None:
            conn.client.close()
