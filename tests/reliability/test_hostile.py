"""Hostile requests against the launched app (127.0.0.1 only) and the indexes' filter paths.

- file routes: traversal and file-access attempts, encoded every way, never return a file
  outside the catalogue and the examples (tests/demo/test_app.py checks a few plain paths);
- SSRF: the app has no URL input of its own; Gradio's file inputs and /file= route accept
  URLs, so loopback, private and link-local targets are tried against a sentinel server on
  127.0.0.1 that must never be contacted, and a URL string given as the photo is refused;
- oversized uploads without a Content-Length; raw API values that are not numbers;
- filter values carrying query-DSL or SQL metacharacters: the local index answers exactly the
  reference semantics (`pipeline.index.matches`), Elasticsearch sends them only as terms values;
- secrets (ELASTIC_API_KEY, a password in ELASTICSEARCH_URL) never reach a page, an API
  answer, an error or a log line.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.index import INDEXES, IndexError_, matches
from pipeline.types import Item

from .conftest import SECRET_ENV, SECRET_FORMS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# What each forbidden file would show if served (passwd, environ, the index, app.py, config.py, a shell rc).
LEAK_MARKERS = ["root:x:0:0", "PATH=", "SQLite format 3", '"format": "drape-local"', "from demo import build",
                "class ConfigError", "alias ", *SECRET_FORMS]


# --- a sentinel: any request that reaches it is an SSRF --------------------------------------------------

@pytest.fixture(scope="module")
def sentinel():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(b"\x89PNG\r\n\x1a\n")

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30, follow_redirects=False)


def _leaks(text: str) -> list[str]:
    return [m for m in LEAK_MARKERS if m in text]


@functools.lru_cache(maxsize=4)
def _info(url: str) -> dict:
    return httpx.get(url + "gradio_api/info", timeout=30).json()


def _call(live, api: str, first: list) -> str:
    """POST /gradio_api/call/<api> with `first` as the leading inputs (the rest at their API defaults,
    so the call stays valid as the app grows inputs) and return the event stream's text."""
    params = _info(live.url)["named_endpoints"][f"/{api}"]["parameters"]
    data = [p.get("parameter_default") if p.get("parameter_has_default") else None for p in params]
    data[:len(first)] = first
    r = httpx.post(live.url + f"gradio_api/call/{api}", json={"data": data}, timeout=30)
    if r.status_code != 200:
        return f"HTTP {r.status_code} {r.text}"
    return httpx.get(live.url + f"gradio_api/call/{api}/{r.json()['event_id']}", timeout=120).text


# --- file routes ---------------------------------------------------------------------------------------------

def _targets(live) -> list[str]:
    cat = live.catalogue
    index_dir = live.app.handlers.engine.settings.index_dir
    home = live.settings.home
    return [
        "/etc/passwd", "/proc/self/environ", "/proc/self/cmdline", str(ROOT / "app.py"),
        str(ROOT / "pipeline" / "config.py"),
        str(index_dir / "items.sqlite"), str(index_dir / "manifest.json"), str(home),
        f"{cat}/../../../../../../etc/passwd", f"{cat}/dress/../../../../../../../proc/self/environ",
        f"{cat}/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", f"{cat}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"{cat}/..\\..\\..\\..\\etc\\passwd", f"{cat}/dress/x.jpg%00/../../../../../etc/passwd",
        f"{cat}/%252e%252e/%252e%252e/etc/passwd", f"{cat}/../{cat.name}-secret", "~/.bashrc", "file:///etc/passwd",
        f"{cat}//../..//../../etc/passwd", "....//....//....//etc/passwd",
    ]


@pytest.mark.parametrize("prefix", ["gradio_api/file=", "file=", "gradio_api/file/", "file/"])
def test_file_routes_serve_nothing_outside_the_catalogue(live_app, prefix):
    image = sorted((live_app.catalogue / "dress").glob("*.jpg"))[0]
    if prefix.startswith("gradio_api"):
        ok = _get(live_app.url + prefix + str(image))
        assert ok.status_code == 200 and ok.content[:2] == b"\xff\xd8"  # the route works for what it may serve
    for target in _targets(live_app):
        spellings = (target, quote(target, safe="/"), quote(target, safe="")) if prefix == "gradio_api/file=" \
            else (target,)
        for spelled in spellings:
            r = _get(live_app.url + prefix + spelled)
            assert r.status_code != 200 or not _leaks(r.text), (prefix, spelled, r.status_code, _leaks(r.text))
            assert r.status_code in (200, 400, 403, 404, 405, 422), (spelled, r.status_code)


# --- SSRF ---------------------------------------------------------------------------------------------

def _private_urls(port: int) -> list[str]:
    return [f"http://127.0.0.1:{port}/x.png", f"http://localhost:{port}/x.png", f"http://[::1]:{port}/x.png",
            f"http://2130706433:{port}/x.png", f"http://0x7f000001:{port}/x.png", f"http://127.1:{port}/x.png",
            f"http://0.0.0.0:{port}/x.png", f"http://user@127.0.0.1:{port}/x.png",
            "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x.png", "http://192.168.0.1/x.png",
            "gopher://127.0.0.1:6379/_INFO", f"ftp://127.0.0.1:{port}/x.png"]


def test_the_file_route_never_fetches_private_urls(live_app, sentinel):
    port, hits = sentinel
    for url in _private_urls(port):
        r = _get(live_app.url + "gradio_api/file=" + url)
        assert r.status_code in (403, 404), (url, r.status_code)
    assert hits == []


def _uploaded(live, path: Path) -> dict:
    up = httpx.post(live.url + "gradio_api/upload", files={"files": (path.name, path.read_bytes())}, timeout=30)
    return {"path": up.json()[0], "meta": {"_type": "gradio.FileData"}}


def test_image_inputs_never_fetch_private_urls(live_app, sentinel):
    port, hits = sentinel
    control = _call(live_app, "search", [_uploaded(live_app, sorted(live_app.catalogue.rglob("*.jpg"))[0]), 0.5, 3,
                                         True])
    assert "event: complete" in control, control[-300:]  # the same call with a real upload is answered
    for url in [u for u in _private_urls(port) if "127.0.0.1" in u or "169.254" in u or "[::1]" in u][:5]:
        for payload in ({"path": url, "meta": {"_type": "gradio.FileData"}},
                        {"path": "x.png", "url": url, "meta": {"_type": "gradio.FileData"}}, url):
            stream = _call(live_app, "search", [payload, 0.5, 3, True])
            assert "event: error" in stream and '"results"' not in stream, (payload, stream[-300:])
    assert hits == [], hits


def test_a_pasted_link_is_parsed_never_fetched(live_app, sentinel):
    port, hits = sentinel
    stream = _call(live_app, "apply_preset", [f"http://127.0.0.1:{port}/?w=0.7&k=12"])
    assert "event: complete" in stream and "0.7" in stream
    assert hits == []


# --- oversized and malformed requests ----------------------------------------------------------------------

def test_an_oversized_upload_without_content_length_is_refused(live_app):
    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.jpg\"\r\n" \
              b"Content-Type: image/jpeg\r\n\r\n\xff\xd8"
        for _ in range(12):
            yield os.urandom(2**20)
        yield b"\r\n--b--\r\n"
    try:
        r = httpx.post(live_app.url + "gradio_api/upload", content=body(), timeout=60,
                       headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413, r.status_code
    except httpx.TransportError:
        pass  # closing the connection mid-body is a refusal too
    assert _get(live_app.url + "gradio_api/info").status_code == 200  # still serving


def test_uploads_and_results_do_not_pile_up_on_disk_forever(live_app):
    """Every upload stays in Gradio's cache folder until a restart unless delete_cache is set."""
    import demo

    assert live_app.app.blocks.delete_cache == (demo.CACHE_SECONDS, demo.CACHE_SECONDS)


@pytest.mark.parametrize("weight, top_k, needle", [("abc", 3, "weight w must be a number"),
                                                   (0.5, "Infinity", "top-k must be a number"),
                                                   (None, 3, "weight w must be a number")])
def test_raw_api_values_that_are_not_numbers_get_a_clear_error(live_app, weight, top_k, needle):
    payload = _uploaded(live_app, sorted((live_app.catalogue / "shirt").glob("*.jpg"))[0])
    stream = _call(live_app, "search", [payload, weight, top_k, True])
    assert "event: error" in stream and needle in stream, stream[-400:]


# --- filters with metacharacters ------------------------------------------------------------------------------

META = st.lists(st.sampled_from(list("ab'\"%_*?\\;-=(){}[]:,.|&!~^/ \x00\n") + ["é", "💥", " OR 1=1", "$where",
                                                                                   "DROP TABLE items", "*:*"]),
                max_size=6).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(META, min_size=1, max_size=6), ids=st.lists(META, min_size=4, max_size=4, unique=True),
       pick=st.lists(st.integers(0, 5), max_size=3), field=META)
def test_local_filters_with_metacharacters_match_the_reference(tmp_path_factory, values, ids, pick, field):
    idx = INDEXES.create("local", path=tmp_path_factory.mktemp("meta") / "idx", create=True, shape_dim=4,
                         colour_dim=2, ann="exact")
    try:
        rng = np.random.default_rng(len(values))
        s, c = rng.normal(size=(4, 4)), rng.random((4, 2)) + 0.1
        items = [Item(id=iid, image=f"/{k}.jpg", category=values[k % len(values)],
                      attributes={field or "f": values[(k + 1) % len(values)], "tags": values[:k]})
                 for k, iid in enumerate(ids)]
        idx.add(items, s / np.linalg.norm(s, axis=1, keepdims=True), c / np.linalg.norm(c, axis=1, keepdims=True))
        assert {it.id for it in idx.get(ids)} == set(ids) and idx.ids() == set(ids)  # ids round-trip intact
        wanted = [values[p % len(values)] for p in pick]
        for filters in ({"category": wanted}, {field or "f": wanted}, {"tags": wanted, "category": wanted[:1]}):
            got = {h.item.id for h in idx.search(s[0], c[0], 0.5, 10, filters)}
            assert got == {it.id for it in items if matches(it.category, it.attributes, filters)}, filters
        assert idx.delete([ids[0], "' OR 1=1 --"]) == 1 and idx.count() == 3
    finally:
        idx.close()


@pytest.fixture(scope="module")
def es_fake():
    return pytest.importorskip("tests.pipeline.index.es_fake", reason="the Elasticsearch client is not installed")


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, value


@settings(max_examples=25, deadline=None)
@given(values=st.lists(META, min_size=1, max_size=5), field=META, exact=st.booleans())
def test_es_filters_with_metacharacters_are_only_terms_values(es_fake, values, field, exact):
    from pipeline.index import es_mapping as M

    cluster = es_fake.FakeCluster()
    es = INDEXES.create("elasticsearch", path=None, create=True, shape_dim=4, colour_dim=2, es_index="drape-meta",
                        connection=cluster.connection())
    try:
        items = [Item(id=f"i{k}", image="/x", category=values[k % len(values)],
                      attributes={field or "f": values[(k + 1) % len(values)]}) for k in range(4)]
        s, c = np.tile(np.float32([0.5] * 4), (4, 1)), np.tile(np.float32([1, 0]), (4, 1))
        es.add(items, s, c)
        es.flush()
        filters = {field or "f": values, "category": values}
        got = {h.item.id for h in es.search(s[0], c[0], 0.5, 10, filters, exact=exact)}
        assert got == {it.id for it in items if matches(it.category, it.attributes, filters)}
    finally:
        es.close()
    (req,) = [r for r in cluster.requests if r.path.endswith("/_search") and "query" in (r.body or {})]
    fixed = {leaf for _, leaf in _leaves(json.loads(json.dumps(M.search_body([0.0] * 6, [0.0] * 4, [0.0] * 2, 0.5, 10,
                                                                                None, exact))))}
    pairs = {(f, v) for f in (field or "f", "category") for v in values}
    for path, leaf in _leaves(req.body):
        if not isinstance(leaf, str):
            continue
        if path[-3:-1] == ("terms", "filters"):  # the one place a user's value may travel
            assert tuple(json.loads(leaf)) in pairs
        else:
            assert leaf in fixed, (path, leaf)  # scripts, field names, orders: exactly as with no filter


def test_cli_filter_values_are_kept_verbatim():
    from pipeline.cli import parse_filters

    assert parse_filters(["category=dress' OR '1'='1", "a==b", "x={\"match_all\":{}}"]) == {
        "category": ["dress' OR '1'='1"], "a": ["=b"], "x": ['{"match_all":{}}']}


# --- secrets --------------------------------------------------------------------------------------------

def test_secrets_never_reach_the_page_the_api_or_the_logs(live_app):
    texts = [_get(live_app.url + p).text for p in ("", "config", "gradio_api/info", "gradio_api/openapi.json",
                                                  "gradio_api/file=/proc/self/environ")]
    texts.append(_call(live_app, "catalogue", []))
    texts.append(_call(live_app, "search", [{"path": "/proc/self/environ"}, 0.5, 3, True]))
    texts.append(_call(live_app, "search", ["not a photo", 0.5, 3, True]))
    texts += live_app.log
    for text in texts:
        assert not [s for s in SECRET_FORMS if s in text], text[:300]


def test_an_unreachable_cluster_error_names_no_secret(settings_factory, caplog, monkeypatch):
    from pipeline.index import open_index

    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)  # https://elastic:<password>@127.0.0.1:9/ and an API key: port 9 is closed
    caplog.set_level("DEBUG")
    with pytest.raises(IndexError_) as err:
        open_index(settings_factory(backend="elasticsearch"), {"shape_dim": 4, "colour_dim": 2})
    assert "127.0.0.1:9" in str(err.value)
    for text in [str(err.value), repr(err.value), caplog.text]:
        assert not [s for s in SECRET_FORMS if s in text], text[:300]


def test_the_cli_names_no_secret_when_the_cluster_fails(tmp_path):
    env = dict(os.environ, **SECRET_ENV, DRAPE_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "pipeline", "info", "--backend", "elasticsearch"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "cannot reach Elasticsearch at https://127.0.0.1:9" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not [s for s in SECRET_FORMS if s in out.stdout + out.stderr]
