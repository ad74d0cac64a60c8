"""Fetching models from the Hugging Face hub, the same way for hub ids and local folders.

Every hub backend names its model as `path_or_id`: an existing local folder
(or file) is used as is, anything else is a hub repo id fetched once into the
HF cache (HF_HOME / HF_HUB_CACHE). Offline mode (HF_HUB_OFFLINE=1 or
TRANSFORMERS_OFFLINE=1) is read at call time, not at import time as
huggingface_hub does, so the app and the tests can switch it per process
section. A model that cannot be had raises `HubUnavailable`, which the engine
turns into a visible fallback to the offline backend.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable

TRUE = {"1", "true", "yes", "on"}

_export_lock = threading.Lock()


class HubUnavailable(RuntimeError):
    """A model is neither a local path nor fetchable (offline mode, no network, no such repo)."""


def offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in TRUE for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def is_local(path_or_id: str | os.PathLike) -> bool:
    return Path(path_or_id).expanduser().exists()


def fetch(path_or_id: str | os.PathLike, filename: str, *, required: bool = True) -> Path | None:
    """One file of a model: `<folder>/<filename>` locally, else from the hub (cached after the first time)."""
    if is_local(path_or_id):
        base = Path(path_or_id).expanduser()
        path = base if base.is_file() else base / filename
        if path.exists():
            return path
        if required:
            raise HubUnavailable(f"{path} not found")
        return None
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, RemoteEntryNotFoundError
    except ImportError as exc:
        raise ImportError(f"hub models need: pip install huggingface_hub==2.4.0 ({exc})") from exc
    try:
        return Path(hf_hub_download(str(path_or_id), filename, local_files_only=offline()))
    except (EntryNotFoundError, RemoteEntryNotFoundError) as exc:
        # Optional files (a preprocessor config) may simply not exist; callers fetch a required one first.
        if not required:
            return None
        raise HubUnavailable(_why(path_or_id, filename, exc)) from exc
    except Exception as exc:  # network, auth, bad id: all mean "cannot have it now"
        raise HubUnavailable(_why(path_or_id, filename, exc)) from exc


def _why(path_or_id, filename: str, exc: Exception) -> str:
    mode = "offline mode (HF_HUB_OFFLINE=1) and not in the HF cache" if offline() else type(exc).__name__
    return f"cannot fetch {path_or_id}/{filename}: {mode}"


def read_json(path_or_id: str | os.PathLike, filename: str, required: bool = True) -> dict[str, Any]:
    path = fetch(path_or_id, filename, required=required)
    return json.loads(path.read_text()) if path else {}


def pretrained(loader: Callable[..., Any], path_or_id: str | os.PathLike, **kwargs: Any) -> Any:
    """`loader(path_or_id, local_files_only=...)` (a transformers from_pretrained), errors as HubUnavailable."""
    try:
        return loader(str(path_or_id), local_files_only=offline() and not is_local(path_or_id), **kwargs)
    except OSError as exc:  # transformers reports a missing or unreachable model as OSError
        raise HubUnavailable(f"cannot load {path_or_id}: {exc}") from exc


def model_key(path_or_id: str | os.PathLike, anchor: Path, *extra: Any) -> str:
    """A short key for derived files (ONNX exports): changes when the model's files change.

    `anchor` is a file fetched from the model (config.json): for hub models its
    path holds the commit, for local folders its folder's mtimes stand in.
    """
    parts = [str(path_or_id), str(anchor.absolute())]  # not resolved: a cache path names its commit
    if is_local(path_or_id):
        folder = anchor.parent
        parts += [f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in sorted(folder.iterdir()) if p.is_file()]
    parts += [str(e) for e in extra]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]


def export_once(path: Path, build: Callable[[Path], None]) -> Path:
    """Build `path` with `build(tmp)` unless it exists; atomic, so a half-written export is never loaded."""
    with _export_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")
            try:
                build(tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
    return path


def ort_session(path: Path, threads: int):
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(f"ONNX models need: pip install onnxruntime==1.31.1 ({exc})") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # Denormals cost x86 10-100x per op and carry no signal at inference; random test weights make many.
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def import_torch(hint: str, threads: int):
    """torch + transformers, or an ImportError that says what to install."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{hint} ({exc})") from exc
    torch.set_num_threads(threads)
    return torch
