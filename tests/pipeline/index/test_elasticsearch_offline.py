"""The Elasticsearch backend without a cluster: the real client, a fake node.

Requests are pinned against es_recordings/*.json (the mapping, a bulk body,
the knn + rescoring search) and the handling of recorded responses is checked:
partial bulk failure, 429 then success, 401, 403, connection refused, TLS,
missing index, mapping mismatch. Regenerate a pinned request only on purpose:
DRAPE_RECORD=1 python -m pytest tests/pipeline/index/test_elasticsearch_offline.py
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("elasticsearch", reason="the Elasticsearch client is not installed")

import elastic_transport  # noqa: E402

from pipeline.index import INDEXES, IndexError_  # noqa: E402
from pipeline.index import es_mapping as M  # noqa: E402
from pipeline.index import elasticsearch as E  # noqa: E402
from pipeline.types import Item  # noqa: E402

from .es_fake import RECORDINGS, RESPONSES, FakeCluster  # noqa: E402

KEY_ID, KEY_SECRET = "fake-key-id", "s3cr3t-KEY-value-9f8e7d"
API_KEY = base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()  # the 'encoded' form Kibana shows
SECRET_FORMS = [API_KEY, KEY_SECRET]
DS, DC = 4, 2


def golden(name: str, actual):
    """Compare with es_recordings/<name>.json (write it when DRAPE_RECORD=1)."""
    path = RECORDINGS / f"{name}.json"
    if os.environ.get("DRAPE_RECORD"):
        path.write_text(json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    assert json.loads(path.read_text()) == json.loads(json.dumps(actual)), f"request changed: {name}"


@pytest.fixture
def cluster():
    return FakeCluster()


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr("elasticsearch.helpers.actions.time.sleep", slept.append)
    return slept


def open_es(cluster, create=True, es_index="drape-items", **kw):
    kw.setdefault("initial_backoff", 1.0)
    return INDEXES.create("elasticsearch", path=None, create=create, shape_dim=DS if create else None,
                          colour_dim=DC if create else None, es_index=es_index,
                          connection=cluster.connection(api_key=API_KEY), **kw)


def items(*ids, **attrs):
    return [Item(id=i, image=f"/img/{i}", title=f"T {i}", category="dress", attributes=dict(attrs),
                 content_hash=f"h-{i}") for i in ids]


def vecs(n):
    shape = np.tile(np.float32([0.5, 0.5, 0.5, 0.5]), (n, 1))
    colour = np.tile(np.float32([1.0, 0.0]), (n, 1))
    return shape, colour


def bulks(cluster):
    return [r for r in cluster.requests if r.path.endswith("/_bulk")]


# --- packaging and connection ---------------------------------------------------------

def test_package_imports_without_the_client_and_says_how_to_install():
    code = ("import sys; sys.modules['elasticsearch'] = None\n"
            "from pipeline.index import INDEXES, IndexError_\n"
            "import pipeline.index.elasticsearch\n"
            "assert 'elasticsearch' in INDEXES.names()\n"
            "try:\n    INDEXES.create('elasticsearch', es_index='x')\n"
            "except IndexError_ as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr
    assert "pip install elasticsearch==9.5.1" in out.stdout


def test_connection_needs_a_url_or_cloud_id():
    with pytest.raises(IndexError_, match="ELASTICSEARCH_URL .* or ELASTIC_CLOUD_ID"):
        E.connect({})


def test_connection_verifies_tls_and_hides_credentials(cluster):
    conn = E.connect({"ELASTICSEARCH_URL": "https://elastic:pa%24%24word@es.example.com:9243/"},
                     node_class=cluster.node_class())
    assert conn.where == "https://es.example.com:9243"
    assert "pa$$word" not in repr(conn) and "pa$$word" not in conn.where
    node = conn.client.transport.node_pool.all()[0]
    assert node.config.verify_certs is True
    assert "pa$$word" not in repr(conn.client)
    assert conn.scrub("failed: pa$$word and pa%24%24word") == "failed: <redacted> and <redacted>"


def test_cloud_id_connection_names_the_deployment(cluster):
    cloud_id = "drape-demo:" + base64.b64encode(b"europe-west1.gcp.cloud.es.io$abc123$def456").decode()
    conn = E.connect({"ELASTIC_CLOUD_ID": cloud_id, "ELASTIC_API_KEY": API_KEY}, node_class=cluster.node_class())
    assert conn.where == "Elastic Cloud deployment 'drape-demo'"
    node = conn.client.transport.node_pool.all()[0]
    assert node.scheme == "https" and node.host == "abc123.europe-west1.gcp.cloud.es.io"


@pytest.mark.parametrize("env, message", [
    ({"ELASTICSEARCH_URL": "http://es.example.com:9200", "ELASTIC_API_KEY": API_KEY}, "over plain http"),
    ({"ELASTICSEARCH_URL": "es.example.com:9200"}, "should look like https://host:9200"),
    ({"ELASTICSEARCH_URL": "https://es.example.com", "ELASTICSEARCH_CA_CERTS": "/no/such/ca.pem"}, "CA_CERTS"),
    ({"ELASTIC_CLOUD_ID": "not-a-cloud-id", "ELASTIC_API_KEY": API_KEY}, "cannot configure"),
])
def test_bad_connection_settings_are_explained(env, message):
    with pytest.raises(IndexError_, match=message) as err:
        E.connect(env)
    assert all(s not in str(err.value) for s in SECRET_FORMS)


def test_plain_http_to_localhost_is_allowed(cluster):
    conn = E.connect({"ELASTICSEARCH_URL": "http://localhost:9200", "ELASTIC_API_KEY": API_KEY},
                     node_class=cluster.node_class())
    assert conn.where == "http://localhost:9200"


# --- index creation and identity ----------------------------------------------------------

def test_create_sends_the_versioned_mapping_behind_an_alias(cluster):
    index = open_es(cluster, signature={"embedder": "efficientnet-lite0", "colour": "lab-hist"})
    (create,) = [r for r in cluster.requests if r.method == "PUT" and r.path != "/_bulk"]
    assert create.path.startswith("/drape-items-v1-")
    body = json.loads(json.dumps(create.body))
    assert body["mappings"]["_meta"].pop("created")
    golden("create_index", body)
    assert body["aliases"] == {"drape-items": {"is_write_index": True}}
    assert index.indices == [create.path[1:]]
    assert cluster.aliases == {"drape-items": {create.path[1:]: {"is_write_index": True}}}
    assert index.info()["alias"] == "drape-items" and index.info()["items"] == 0


def test_missing_index_says_how_to_build_one(cluster):
    with pytest.raises(IndexError_) as err:
        open_es(cluster, create=False, es_index="shop")
    assert "'shop' does not exist at https://es.test:9200" in str(err.value)
    assert "python -m pipeline es-copy --index DIR --es-index shop" in str(err.value)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("_meta"), "not created by drape"),
    (lambda m: m["_meta"].update(version=99), "newer than this drape"),
    (lambda m: m["properties"]["combined"].update(dims=7), "mapping mismatch .*combined.dims is 7, expected 6"),
    (lambda m: m["properties"]["seq"].update(type="keyword"), "mapping mismatch .*seq.type"),
])
def test_foreign_or_mismatched_index_is_refused(cluster, change, message):
    open_es(cluster).close()
    (concrete,) = cluster.indices
    change(cluster.indices[concrete].mappings)
    with pytest.raises(IndexError_, match=message):
        open_es(cluster, create=False)


def test_an_index_built_by_another_embedder_is_refused(cluster):
    open_es(cluster, signature={"embedder": "efficientnet-lite0"}).close()
    with pytest.raises(IndexError_, match="embedder: index has 'efficientnet-lite0', config wants 'clip'"):
        open_es(cluster, create=False, signature={"embedder": "clip"})


@pytest.mark.parametrize("name", ["Drape", "a,b", "shop*", "-x", "a/b", "_all"])
def test_index_names_that_would_reach_other_indices_are_refused(cluster, name):
    with pytest.raises(IndexError_, match="not a valid Elasticsearch index name"):
        open_es(cluster, es_index=name)
    assert cluster.requests == []


# --- ingest ---------------------------------------------------------------------------------

def test_bulk_body_is_pinned_and_ids_are_idempotent(cluster):
    index = open_es(cluster)
    long_id = "dress/" + "x" * 600 + ".jpg"
    batch = items("dress/abc.jpg", long_id, pattern=["striped", "dotted"], size=38, note="")
    assert index.add(batch, *vecs(2)) == 2
    (bulk,) = bulks(cluster)
    assert bulk.path == "/_bulk"  # ids travel in the body, never in the URL
    golden("bulk_index", bulk.body)
    assert bulk.body[2]["index"]["_id"].startswith("~sha256:") and bulk.body[3]["id"] == long_id
    index.flush()
    assert index.add(batch[::-1], *vecs(2)) == 2  # again, reversed: the same documents, the same positions
    index.flush()
    assert index.count() == 2 and index.ids() == {"dress/abc.jpg", long_id}
    second = bulks(cluster)[1].body
    assert [second[1]["seq"], second[3]["seq"]] == [1, 0]
    assert [it.id for it in index.get([long_id, "nope", "dress/abc.jpg"])] == [long_id, "dress/abc.jpg"]


def test_partial_bulk_failure_is_reported_per_item(cluster):
    index = open_es(cluster)
    cluster.item_hooks.append(lambda op, did, n: (400, RESPONSES["bulk_item_parse_error"])
                              if did == "dress/broken.jpg" else None)
    with pytest.raises(E.BulkError) as err:
        index.add(items("a", "dress/broken.jpg", "c"), *vecs(3))
    assert err.value.indexed == 2
    assert [name for name, _ in err.value.errors] == ["dress/broken.jpg"]
    assert "document_parsing_exception" in err.value.errors[0][1]
    assert "1 of 3 documents were not indexed" in str(err.value)
    index.flush()
    assert index.count() == err.value.indexed  # the count reported is the count indexed


def test_429_items_are_retried_with_backoff_then_succeed(cluster, no_sleep):
    index = open_es(cluster)
    cluster.item_hooks.append(lambda op, did, n: (429, RESPONSES["bulk_item_429"]) if did == "b" and n == 1 else None)
    assert index.add(items("a", "b", "c"), *vecs(3)) == 3
    first, retry = bulks(cluster)
    assert [line["index"]["_id"] for line in retry.body[::2]] == ["b"]  # only the rejected document again
    assert no_sleep == [1.0]
    index.flush()
    assert index.count() == 3


def test_a_rejected_bulk_request_is_retried_by_the_helper_not_hammered(cluster, no_sleep):
    index = open_es(cluster)
    calls = []

    def once_429(req):
        if req.path == "/_bulk":
            calls.append(1)
            if len(calls) == 1:
                return 429, RESPONSES["too_many_requests"]
    cluster.hooks.append(once_429)
    assert index.add(items("a", "b"), *vecs(2)) == 2
    assert len(calls) == 2 and no_sleep == [1.0]  # the transport did not retry 429 itself without waiting


def test_429_until_retries_run_out_is_a_per_item_error(cluster, no_sleep):
    index = open_es(cluster, max_retries=2)
    cluster.item_hooks.append(lambda op, did, n: (429, RESPONSES["bulk_item_429"]) if did == "b" else None)
    with pytest.raises(E.BulkError) as err:
        index.add(items("a", "b"), *vecs(2))
    assert err.value.indexed == 1 and err.value.errors[0][0] == "b"
    assert "HTTP 429 es_rejected_execution_exception" in err.value.errors[0][1]
    assert no_sleep == [1.0, 2.0]


def test_delete_counts_only_documents_that_existed(cluster):
    index = open_es(cluster)
    index.add(items("a", "b"), *vecs(2))
    assert index.delete(["a", "nope", "a"]) == 1
    index.flush()
    assert index.ids() == {"b"}


# --- failures a user can act on ------------------------------------------------------------------

def test_401_names_the_api_key_and_never_shows_it(cluster):
    cluster.hooks.append(lambda req: (401, RESPONSES["unauthorized"]))
    with pytest.raises(IndexError_) as err:
        open_es(cluster)
    text = str(err.value)
    assert "rejected the credentials (HTTP 401)" in text and "ELASTIC_API_KEY" in text
    assert all(s not in text for s in SECRET_FORMS)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert cluster.requests[0].headers["authorization"] == f"ApiKey {API_KEY}"


def test_403_names_the_privileges(cluster):
    cluster.hooks.append(lambda req: (403, RESPONSES["forbidden"]))
    with pytest.raises(IndexError_, match="HTTP 403.*view_index_metadata"):
        open_es(cluster)


def test_connection_refused_is_clear(cluster):
    def refuse(req):
        raise elastic_transport.ConnectionError("Connection refused", errors=(ConnectionRefusedError(
            111, "Failed to establish a new connection: [Errno 111] Connection refused"),))
    cluster.hooks.append(refuse)
    with pytest.raises(IndexError_, match=r"cannot reach Elasticsearch at https://es.test:9200 .*Connection refused"):
        open_es(cluster)
    assert len(cluster.requests) == 4  # the transport's own retries, then a clear message


def test_tls_failure_points_at_the_ca_setting(cluster):
    def bad_cert(req):
        raise elastic_transport.TlsError("TLS error", errors=(OSError(
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"),))
    cluster.hooks.append(bad_cert)
    with pytest.raises(IndexError_, match="TLS verification failed .*ELASTICSEARCH_CA_CERTS"):
        open_es(cluster)


def test_a_server_that_is_not_elasticsearch_is_named_as_such(cluster):
    del cluster.headers["x-elastic-product"]
    cluster.hooks.append(lambda req: (200, {"mappings": {}}))
    with pytest.raises(IndexError_, match="is not Elasticsearch .*check ELASTICSEARCH_URL"):
        open_es(cluster)


def test_a_failure_mid_ingest_reports_what_was_written(cluster, no_sleep):
    index = open_es(cluster, chunk_size=2)
    seen = []

    def second_chunk_401(req):
        if req.path == "/_bulk":
            seen.append(1)
            if len(seen) == 2:
                return 401, RESPONSES["unauthorized"]
    cluster.hooks.append(second_chunk_401)
    with pytest.raises(E.BulkError, match="HTTP 401.*2 of 3 documents were written") as err:
        index.add(items("a", "b", "c"), *vecs(3))
    assert err.value.indexed == 2


def test_secrets_never_reach_logs_reprs_or_messages(cluster, no_sleep):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("", "elasticsearch", "elastic_transport", "elastic_transport.node",
                                              "elastic_transport.transport", "pipeline")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        index = open_es(cluster)
        cluster.item_hooks.append(lambda op, did, n: (429, RESPONSES["bulk_item_429"]) if n == 1 else None)
        index.add(items("a", "b"), *vecs(2))
        index.flush()
        index.search(*[v[0] for v in vecs(1)], 0.5, 5)
        cluster.hooks.append(lambda req: (401, RESPONSES["unauthorized"]))
        with pytest.raises(IndexError_) as err:
            index.count()
        shown = [stream.getvalue(), repr(index), repr(index._conn), str(err.value),
                 repr(index._client), repr(index._client.transport.node_pool.all()[0].config)]
    finally:
        for lg, level in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
    assert "_bulk" in shown[0] and "ApiKey <hidden>" in shown[0]  # the logs did record the traffic
    for text in shown:
        assert all(s not in text for s in SECRET_FORMS), text[:500]


# --- search -------------------------------------------------------------------------------------

HOSTILE = ["dress' OR 1=1 --", '{"match_all":{}}', "*", "dress\x00", "params.w); return 9e9; //", "\\u0022]"]


def _walk(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, path + (i,))
    else:
        yield path, value


@pytest.mark.parametrize("exact", [False, True])
def test_search_request_is_pinned(cluster, exact):
    index = open_es(cluster, ann="exact" if exact else "auto")
    index.search(np.float32([0.5, 0.5, 0.5, 0.5]), np.float32([1.0, 0.0]), 0.75, 3,
                 filters={"category": ["dress", "skirt"], "pattern": ["striped"], "colour": []})
    (search,) = [r for r in cluster.requests if r.path.endswith("/_search")]
    assert search.path == "/drape-items/_search"  # through the alias
    golden("search_exact" if exact else "search_knn", search.body)


@pytest.mark.parametrize("exact", [False, True])
def test_filter_values_are_plain_terms_never_script_or_query_text(cluster, exact):
    index = open_es(cluster)
    index.add(items("a"), *vecs(1))
    index.flush()
    for value in HOSTILE:
        assert index.search(*[v[0] for v in vecs(1)], 0.5, 5, filters={value: [value]}, exact=exact) == []
    for req in [r for r in cluster.requests if r.path.endswith("/_search") and "query" in (r.body or {})]:
        for path, leaf in _walk(req.body):
            if path[-1] != "source" and isinstance(leaf, str) and any(h in leaf for h in HOSTILE):
                assert path[-3:-1] == ("terms", "filters"), path  # only ever a terms value
                field, value = json.loads(leaf)
                assert field == value and value in HOSTILE
        scripts = {leaf for path, leaf in _walk(req.body) if path[-1] == "source"}
        assert scripts == {M.SCORE_SCRIPT, M.DOT_SCRIPT}


def test_hits_are_ordered_exactly_with_ties_by_insertion_order(cluster):
    index = open_es(cluster)
    cluster.hooks.append(lambda req: (200, RESPONSES["search_ties"]) if req.path.endswith("/_search") else None)
    hits = index.search(*[v[0] for v in vecs(1)], 0.5, 3)
    # float32 _score ties (1.5) are resolved by the exact cosines; an exact tie (0.25) by seq
    assert [h.item.id for h in hits] == ["b", "a", "d"]
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].shape == 0.50000003 and hits[0].colour == 0.5
    assert hits[0].score == pytest.approx(0.5 * 0.50000003 + 0.25, abs=1e-12)  # no offset left in it
    assert hits[1].item.attributes == {"pattern": "striped"} and hits[1].item.title == "A"


def test_search_matches_the_local_index(cluster, tmp_path):
    rng = np.random.default_rng(3)
    n = 120
    shape = rng.normal(size=(n, DS)).astype(np.float32)
    shape /= np.linalg.norm(shape, axis=1, keepdims=True)
    colour = rng.random((n, DC)).astype(np.float32)
    colour /= np.linalg.norm(colour, axis=1, keepdims=True)
    shape[7], colour[7] = shape[3], colour[3]  # an exact tie: the earlier item ranks first
    batch = [Item(id=f"cat/{i}.jpg", image=f"/{i}", category=["dress", "skirt"][i % 2],
                  attributes={"pattern": ["a", "b", "c"][i % 3]}) for i in range(n)]
    local = INDEXES.create("local", path=tmp_path / "local", create=True, shape_dim=DS, colour_dim=DC, ann="exact")
    es = open_es(cluster)
    for i in range(0, n, 50):
        local.add(batch[i:i + 50], shape[i:i + 50], colour[i:i + 50])
        es.add(batch[i:i + 50], shape[i:i + 50], colour[i:i + 50])
    es.flush()
    for w in (0.0, 0.3, 1.0):
        for filters in (None, {"category": ["skirt"], "pattern": ["a", "c"]}):
            want = local.search(shape[3], colour[3], w, 15, filters)
            got = es.search(shape[3], colour[3], w, 15, filters)
            assert [h.item.id for h in got] == [h.item.id for h in want]
            for g, l in zip(got, want):
                assert (g.score, g.shape, g.colour) == pytest.approx((l.score, l.shape, l.colour), abs=1e-6)
    assert [h.item.id for h in es.search(shape[3], colour[3], 0.5, 2)] == ["cat/3.jpg", "cat/7.jpg"]
    assert es.facets("pattern") == local.facets("pattern") == ["a", "b", "c"]
    local.close()


# --- es-copy --------------------------------------------------------------------------------------

def _local(tmp_path, n=30, signature=None):
    rng = np.random.default_rng(5)
    shape = rng.normal(size=(n, DS)).astype(np.float32)
    shape /= np.linalg.norm(shape, axis=1, keepdims=True)
    colour = rng.random((n, DC)).astype(np.float32)
    colour /= np.linalg.norm(colour, axis=1, keepdims=True)
    local = INDEXES.create("local", path=tmp_path / "local", create=True, shape_dim=DS, colour_dim=DC, ann="exact",
                           signature=signature or {"embedder": "efficientnet-lite0", "colour": "lab-hist"})
    local.add([Item(id=f"d/{i}.jpg", image=f"/{i}", category="dress") for i in range(n)], shape, colour)
    local.close()
    return tmp_path / "local", shape, colour


def test_es_copy_builds_a_new_index_and_swaps_the_alias_atomically(cluster, tmp_path):
    source, shape, colour = _local(tmp_path)
    conn = cluster.connection(api_key=API_KEY)
    first = E.copy_local_index(source, "shop", connection=conn, batch=8)
    assert first.swapped and first.copied == first.total == 30 and first.replaced == []
    assert cluster.aliases == {"shop": {first.index: {"is_write_index": True}}}
    assert all(line["index"]["_index"] == first.index for r in bulks(cluster) for line in r.body[::2])
    assert len(bulks(cluster)) == 4  # 30 items in batches of 8
    cluster.requests.clear()
    second = E.copy_local_index(source, "shop", connection=conn)
    (swap,) = [r for r in cluster.requests if r.path == "/_aliases"]
    assert swap.body == {"actions": [{"remove": {"index": first.index, "alias": "shop"}},
                                     {"add": {"index": second.index, "alias": "shop", "is_write_index": True}}]}
    assert second.replaced == [first.index] and set(cluster.indices) == {second.index}
    es = INDEXES.create("elasticsearch", es_index="shop", connection=conn,
                        signature={"embedder": "efficientnet-lite0", "colour": "lab-hist"})
    local = INDEXES.create("local", path=source, ann="exact")
    for w in (0.2, 0.9):
        assert [h.item.id for h in es.search(shape[4], colour[4], w, 10)] == \
               [h.item.id for h in local.search(shape[4], colour[4], w, 10)]
    local.close()


def test_es_copy_failure_keeps_the_alias_and_drops_the_partial_copy(cluster, tmp_path, no_sleep):
    source, _, _ = _local(tmp_path)
    conn = cluster.connection(api_key=API_KEY)
    first = E.copy_local_index(source, "shop", connection=conn)
    cluster.item_hooks.append(
        lambda op, did, n: (400, RESPONSES["bulk_item_parse_error"]) if did == "d/3.jpg" else None)
    report = E.copy_local_index(source, "shop", connection=conn)
    assert not report.swapped and report.copied == 29 and report.failed[0][0] == "d/3.jpg"
    assert set(cluster.indices) == {first.index}
    assert cluster.aliases == {"shop": {first.index: {"is_write_index": True}}}
    assert "left unchanged" in report.summary()


def test_es_copy_refuses_to_swap_a_concrete_index(cluster, tmp_path):
    source, _, _ = _local(tmp_path)
    cluster.create("shop", {"mappings": {}})
    with pytest.raises(IndexError_, match="'shop' is a concrete Elasticsearch index, not an alias"):
        E.copy_local_index(source, "shop", connection=cluster.connection(api_key=API_KEY))


def test_cli_es_copy(cluster, tmp_path, monkeypatch, capsys):
    from pipeline import cli

    source, _, _ = _local(tmp_path)
    real_connect = E.connect
    env = {"ELASTICSEARCH_URL": "https://es.test:9200", "ELASTIC_API_KEY": API_KEY}
    monkeypatch.setattr(E, "connect", lambda environ=None: real_connect(env, node_class=cluster.node_class()))
    assert cli.main(["es-copy", "--index", str(source), "--es-index", "shop", "--vector-index", "int8_hnsw"]) == 0
    out = capsys.readouterr().out
    assert "30 of 30 items copied" in out and "alias 'shop' ->" in out
    (concrete,) = cluster.indices
    assert cluster.indices[concrete].mappings["properties"]["combined"]["index_options"]["type"] == "int8_hnsw"
    assert cli.main(["es-copy", "--index", str(tmp_path / "nothing"), "--es-index", "shop"]) == 2
    assert "does not exist" in capsys.readouterr().err
