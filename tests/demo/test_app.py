"""The running app through gradio_client and plain HTTP: API, robustness, what is served."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client(running_app):
    from gradio_client import Client

    return Client(running_app.url, verbose=False)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_search_api_finds_a_shared_photo_first(client, running_app):
    from gradio_client import handle_file

    photo = sorted((running_app.catalogue / "dress").glob("*.jpg"))[2]
    summary, gallery, table, stages, legend, timings, results, *_ = client.predict(
        handle_file(str(photo)), 0.5, 5, True, api_name="/search")
    assert results["results"][0]["id"] == f"dress/{photo.name}"
    assert len(gallery) == 5 and len(stages) == 7 and table["headers"][0] == "#"
    assert "5 results" in summary and timings["data"][-1][0] == "total"


def test_rerank_compare_share_and_catalogue_endpoints(client, running_app):
    from gradio_client import handle_file

    photo = sorted((running_app.catalogue / "pants").glob("*.jpg"))[0]
    client.predict(handle_file(str(photo)), 0.5, 5, True, api_name="/search")
    summary, gallery, table, results = client.predict(0.9, 7, True, api_name="/rerank")
    assert "re-ranked the cached analysis" in summary and len(results["results"]) == 7 and results["weight"] == 0.9
    ga, gb, ranks, note = client.predict(handle_file(str(photo)), 5, 0.5, False, 0.5, True, api_name="/compare")
    assert len(ga) == len(gb) == 5 and "A → B" in ranks["headers"]
    link, preset = client.predict(0.7, 12, True, 0.5, False, 0.5, True, api_name="/share")
    assert "w=0.7" in link and "k=12" in link
    values = client.predict(link, api_name="/apply_preset")
    assert list(values[:3]) == [0.7, 12, True]
    info = client.predict(api_name="/catalogue")
    assert info["items"] == 30 and info["catalogue"] == "clothing30"


def _bad_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo at all")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(good.read_bytes()[:2048])
    return {"not an image": text, "corrupt or truncated": truncated}


def test_bad_uploads_get_a_helpful_error_and_the_app_keeps_serving(client, running_app, tmp_path):
    from gradio_client import handle_file

    good = sorted((running_app.catalogue / "skirt").glob("*.jpg"))[0]
    for reason, path in _bad_files(tmp_path, good).items():
        with pytest.raises(Exception, match=reason):
            client.predict(handle_file(str(path)), 0.5, 5, True, api_name="/search")
    results = client.predict(handle_file(str(good)), 0.5, 3, True, api_name="/search")[6]
    assert results["results"][0]["id"] == f"skirt/{good.name}"


def test_oversized_uploads_are_refused_by_the_server(client, running_app, tmp_path):
    import httpx
    from gradio_client import handle_file

    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8" + os.urandom(11 * 2**20))
    with big.open("rb") as fh:
        r = httpx.post(running_app.url + "gradio_api/upload", files={"files": ("huge.jpg", fh, "image/jpeg")},
                       timeout=60)
    assert r.status_code == 413
    good = sorted((running_app.catalogue / "shirt").glob("*.jpg"))[0]
    assert client.predict(handle_file(str(good)), 0.5, 3, True, api_name="/search")[6]["results"]


def test_only_catalogue_images_are_served(running_app):
    base = running_app.url + "gradio_api/file="
    image = sorted((running_app.catalogue / "dress").glob("*.jpg"))[0]
    assert _status(base + str(image)) == 200
    index_dir = running_app.app.handlers.engine.settings.index_dir
    for secret in (ROOT / "app.py", ROOT / "pipeline" / "config.py", index_dir / "items.sqlite",
                   index_dir / "manifest.json", Path("/etc/passwd")):
        assert _status(base + str(secret)) == 403, secret


def test_python_app_py_restarts_fast_on_a_built_catalogue(running_app):
    """`python app.py` as a user runs it, on the catalogue the session fixture already built.

    The budget is CPU time (the machine may be shared, so wall time says more about the
    neighbours than about the app); wall time is reported alongside.
    """
    from .conftest import free_port

    port = free_port()
    env = dict(os.environ, DRAPE_HOME=str(running_app.home), DRAPE_CATALOGUE=str(running_app.catalogue),
               PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    up = None
    try:
        while time.perf_counter() - t0 < 180 and proc.poll() is None:
            try:
                if _status(f"http://127.0.0.1:{port}/") == 200:
                    up = time.perf_counter() - t0
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.25)
    finally:
        proc.terminate()
        _, _, usage = os.wait4(proc.pid, 0)  # reaps the child and reports the CPU it used
    out = proc.stdout.read()
    assert up is not None, out[-2000:]
    cpu = usage.ru_utime + usage.ru_stime
    print(f"restart: answered after {up:.1f} s wall, {cpu:.1f} s CPU")
    assert cpu < 15, f"restart used {cpu:.1f} s of CPU ({up:.1f} s wall)"
    assert "Serving clothing30: 30 items" in out and "First start" not in out


@pytest.mark.parametrize("meta", [{"_type": "gradio.FileData"}, None])
def test_a_client_cannot_make_the_app_read_a_server_file(running_app, meta):
    """Image inputs skip Gradio's preprocessing; its upload-folder check must still apply."""
    import httpx

    target = {"path": str(sorted((running_app.catalogue / "dress").glob("*.jpg"))[0])}
    if meta:
        target["meta"] = meta
    r = httpx.post(running_app.url + "gradio_api/call/search", json={"data": [target, 0.5, 3, True]}, timeout=30)
    assert r.status_code == 200
    stream = httpx.get(running_app.url + f"gradio_api/call/search/{r.json()['event_id']}", timeout=60).text
    assert "event: error" in stream and "results" not in stream
