"""Small shared helpers for benchmark commands."""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clothing-small"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def stamp() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def pct(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if len(values) else float("nan")


def read_bandwidth(mib: int = 256, repeats: int = 5) -> float:
    """GB/s one thread reads from memory (numpy sum over `mib` MiB, median of `repeats`): the speed of this
    box at the moment, for comparing latency runs of memory-bound code taken at different times."""
    a = np.ones(mib << 18, np.float32)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a.sum()
        times.append(time.perf_counter() - t)
    return round(a.nbytes / float(np.median(times)) / 1e9, 1)


def cpu_ticks() -> tuple[int, int] | None:
    """(stolen, total) CPU ticks of this machine so far (Linux /proc/stat), or None elsewhere. Between two
    readings, stolen/total is the share of time the hypervisor ran someone else while this VM's CPUs had
    work: in a contended phase of this VM it reached 50 %, and every timing then doubled."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round(100 * (after[0] - before[0]) / (after[1] - before[1]), 1)


def images_under(folder: Path, limit: int | None = None) -> list[Path]:
    from pipeline.imageio import is_image_path

    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_image_path(p))
    return files[:limit] if limit else files
