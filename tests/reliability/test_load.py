"""Load against the launched app (slow): concurrent gradio_client sessions, a bounded queue, flat memory.

The same code as `python -m bench load`, on 20 shared photos; the server is a real `python
app.py` on 127.0.0.1 (its RSS is the one sampled), stopped when the test ends.
"""
from __future__ import annotations

import pytest

from bench.load import free_port, make_catalogue, run_load, serve

pytestmark = [pytest.mark.slow, pytest.mark.integration]
QUEUE_MAX = 16  # demo.App.launch: queue(max_size=16)


def test_concurrent_sessions_no_errors_bounded_queue_flat_memory(shared_data, home, tmp_path):
    catalogue = make_catalogue(tmp_path / "clothing20", per_category=2, shared=shared_data)
    with serve(catalogue, home, free_port()) as server:
        report = run_load(server.url, server.proc.pid, sorted(catalogue.rglob("*.jpg")), clients=8, requests=8,
                          rounds=3, burst_n=32, say=print, cache=server.cache)
    assert report["errors"] == 0, report["error_samples"]
    assert report["total_requests"] == 8 * 8 * 3
    first = report["rounds_detail"][0]["rss_after_mb"]
    assert report["rss_growth_mb"] <= max(64, 0.15 * first), report["rounds_detail"]
    b = report["burst"]
    assert b["other_errors"] == [] and b["completed"] + b["queue_full"] == b["submitted"]
    assert b["peak_queue"] <= QUEUE_MAX and b["completed"] >= 1
    print(report)
