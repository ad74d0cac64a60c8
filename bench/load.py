"""Load: many concurrent gradio_client sessions searching and moving sliders against the real app.

`python -m bench load --clients 8 --requests 12 --rounds 3` starts `python app.py` on 127.0.0.1
over a small catalogue (2 shared photos per category by default, copied to a temp folder),
then each round runs every client in its own thread: a /search with a catalogue photo, then
slider changes (/rerank), new searches and the odd /compare. It reports throughput, p50/p95
per endpoint, errors, the server's RSS after each round (flat = no leak), and a burst of
simultaneous searches past the queue's max_size (rejected with "queue full", the server
carries on). The server is stopped at the end, whatever happens.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared" / "data" / "clothing-small").resolve()


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its children (from /proc), in MB."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_catalogue(out: Path, per_category: int = 2, shared: Path = SHARED) -> Path:
    for cat in sorted(p.name for p in (shared / "validation").iterdir() if p.is_dir()):
        (out / cat).mkdir(parents=True, exist_ok=True)
        for f in sorted((shared / "validation" / cat).glob("*.jpg"))[:per_category]:
            shutil.copy(f, out / cat / f.name)
    return out


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20 if path.exists() else 0.0


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    cache: Path  # the app's GRADIO_TEMP_DIR: uploads and every image it returned


@contextlib.contextmanager
def serve(catalogue: Path, home: Path, port: int, timeout: float = 900) -> Iterator[Server]:
    """`python app.py` on 127.0.0.1:port with its own Gradio cache folder; stopped (terminate, then
    kill) and the cache folder removed on exit."""
    cache = home / f"gradio-cache-{port}"
    env = dict(os.environ, DRAPE_HOME=str(home), DRAPE_CATALOGUE=str(catalogue), PORT=str(port),
               GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1",
               GRADIO_TEMP_DIR=str(cache))
    log = open(home / f"app-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                tail = (home / f"app-{port}.log").read_text()[-2000:]
                raise RuntimeError(f"app.py exited with {proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"app.py did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.5)
        yield Server(url, proc, cache)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(cache, ignore_errors=True)


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def session(client, photos: list[Path], n: int, rng: random.Random) -> list[tuple[str, float, str]]:
    """One user: a search, then slider moves, new searches and the odd compare. (endpoint, seconds, error)."""
    from gradio_client import handle_file

    out, photo = [], rng.choice(photos)
    for i in range(n):
        roll = rng.random()
        if i == 0 or roll < 0.2:
            photo = rng.choice(photos)
            api, args = "/search", (handle_file(str(photo)), rng.choice([0.3, 0.5, 0.8]), 10, True)
        elif roll < 0.9:
            api, args = "/rerank", (round(rng.random(), 2), rng.randint(3, 20), True)
        else:
            api, args = "/compare", (handle_file(str(photo)), 8, 0.5, False, 0.5, True)
        t = time.perf_counter()
        try:
            client.predict(*args, api_name=api)
            err = ""
        except Exception as exc:  # counted and reported, never fatal to the run
            err = f"{exc.__class__.__name__}: {exc}"[:200]
        out.append((api, time.perf_counter() - t, err))
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def burst(url: str, photo: Path, n: int) -> dict:
    """n simultaneous searches from one session: the queue must cap them, the rest be refused cleanly."""
    from gradio_client import handle_file

    client = _client(url)
    peak, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url + "gradio_api/queue/status", timeout=5) as r:
                    peak[0] = max(peak[0], int(json.loads(r.read()).get("queue_size") or 0))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    jobs = [client.submit(handle_file(str(photo)), 0.5, 5, True, api_name="/search") for _ in range(n)]
    done, full, other = 0, 0, []
    for job in jobs:
        try:
            job.result(timeout=600)
            done += 1
        except Exception as exc:
            if "queue is full" in str(exc).lower():
                full += 1
            else:
                other.append(f"{exc.__class__.__name__}: {exc}"[:200])
    stop.set()
    watcher.join()
    t = time.perf_counter()
    client.predict(0.5, 5, True, api_name="/rerank")  # still serving
    return {"submitted": n, "completed": done, "queue_full": full, "other_errors": other, "peak_queue": peak[0],
            "after_s": round(time.perf_counter() - t, 3)}


def run_load(url: str, pid: int | None, photos: list[Path], clients: int, requests: int, rounds: int,
             seed: int = 0, burst_n: int = 0, say=print, cache: Path | None = None) -> dict:
    rng = random.Random(seed)
    pool = [_client(url) for _ in range(clients)]  # one session each, kept across rounds
    rows, per_round = [], []
    with ThreadPoolExecutor(max_workers=clients) as ex:
        for r in range(rounds):
            before = rss_mb(pid) if pid else None
            t = time.perf_counter()
            futures = [ex.submit(session, c, photos, requests, random.Random(rng.random())) for c in pool]
            got = [x for f in futures for x in f.result()]
            wall = time.perf_counter() - t
            rows += got
            lat = [s for _, s, e in got if not e]
            per_round.append({"round": r + 1, "requests": len(got), "errors": sum(bool(e) for _, _, e in got),
                              "seconds": round(wall, 2), "throughput_rps": round(len(got) / wall, 2),
                              "p95_s": round(percentile(lat, 95), 3), "rss_before_mb": before and round(before),
                              "rss_after_mb": round(rss_mb(pid)) if pid else None,
                              "cache_mb": round(dir_mb(cache), 1) if cache else None})
            say(f"round {r + 1}: {per_round[-1]}")
    endpoints = {}
    for api in sorted({a for a, _, _ in rows}):
        lat = [s for a, s, e in rows if a == api and not e]
        endpoints[api] = {"n": sum(a == api for a, _, _ in rows), "p50_s": round(percentile(lat, 50), 3),
                          "p95_s": round(percentile(lat, 95), 3), "max_s": round(max(lat, default=float("nan")), 3)}
    ok = [s for _, s, e in rows if not e]
    total_s = sum(r["seconds"] for r in per_round)
    report = {"url": url, "clients": clients, "requests_per_client": requests, "rounds": rounds,
              "total_requests": len(rows), "errors": sum(bool(e) for _, _, e in rows),
              "error_samples": sorted({e for _, _, e in rows if e})[:5],
              "throughput_rps": round(len(rows) / total_s, 2) if total_s else 0.0,
              "p50_s": round(percentile(ok, 50), 3), "p95_s": round(percentile(ok, 95), 3),
              "endpoints": endpoints, "rounds_detail": per_round}
    if pid and len(per_round) > 1:
        first, last = per_round[0]["rss_after_mb"], per_round[-1]["rss_after_mb"]
        report["rss_growth_mb"] = last - first  # after warm-up (round 1) to the end
    if burst_n:
        report["burst"] = burst(url, photos[0], burst_n)
        say(f"burst: {report['burst']}")
    return report


# --- the command -------------------------------------------------------------------------------------

def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clients", type=int, default=8, help="concurrent sessions (threads, one gradio_client each)")
    p.add_argument("--requests", type=int, default=12, help="requests per client per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--per-category", type=int, default=2, help="shared photos per category in the catalogue")
    p.add_argument("--home", type=Path, default=None, help="DRAPE home (reuse one to skip the model export)")
    p.add_argument("--url", default=None, help="load an already running app instead of starting one")
    p.add_argument("--photos", type=Path, default=None, help="query photos folder (with --url)")
    p.add_argument("--burst", type=int, default=40, help="simultaneous searches after the rounds (0: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    if args.url:
        photos = sorted((args.photos or SHARED / "validation").rglob("*.jpg"))[:40]
        report = run_load(args.url, None, photos, args.clients, args.requests, args.rounds, args.seed, args.burst, say)
    else:
        with tempfile.TemporaryDirectory(prefix="drape-load-") as tmp:
            catalogue = make_catalogue(Path(tmp) / "clothing-load", args.per_category)
            home = args.home or Path(tmp) / "home"
            home.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            with serve(catalogue, home, free_port()) as server:
                say(f"app up on {server.url} in {time.perf_counter() - t:.0f} s (pid {server.proc.pid}, "
                    f"RSS {rss_mb(server.proc.pid):.0f} MB)")
                photos = sorted(catalogue.rglob("*.jpg"))
                report = run_load(server.url, server.proc.pid, photos, args.clients, args.requests, args.rounds,
                                  args.seed, args.burst, say, server.cache)
    report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['clients']} clients × {report['requests_per_client']} requests × {report['rounds']} rounds: "
              f"{report['total_requests']} requests, {report['errors']} errors, {report['throughput_rps']} req/s, "
              f"p50 {report['p50_s']} s, p95 {report['p95_s']} s")
        for api, e in report["endpoints"].items():
            print(f"  {api:9s} n={e['n']:4d}  p50 {e['p50_s']} s  p95 {e['p95_s']} s  max {e['max_s']} s")
        if "rss_growth_mb" in report:
            print(f"  server RSS after each round (MB): {[r['rss_after_mb'] for r in report['rounds_detail']]} "
                  f"(growth after warm-up {report['rss_growth_mb']} MB)")
            print(f"  Gradio cache folder after each round (MB): {[r['cache_mb'] for r in report['rounds_detail']]}")
        if "burst" in report:
            print(f"  burst: {report['burst']}")
    return 1 if report["errors"] else 0
