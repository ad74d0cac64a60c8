"""Online-profile query latency (p50/p95 per stage) with full-size architectures and random weights.

Latency does not depend on weight values, so SegFormer-B2 and CLIP ViT-B/32
are built from their configs with random weights, saved as a local model
folder and loaded through the same code path as the hub ids (ONNX export
included). LaMa in ONNX needs its file (`--lama`, e.g. a downloaded
Carve/LaMa-ONNX lama_fp32.onnx); without one the restore stage runs Telea.
`--lama-arch` times big-lama's architecture rebuilt in torch (bench/lama_arch.py).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .common import SHARED, images_under, machine, pct, stamp

WORDS = ("red", "floral", "midi", "dress", "blue", "denim", "jacket", "black", "leather", "boots", "a", "with")


def configure(p):
    p.add_argument("--images", type=Path, default=SHARED / "test", help="query images (default: clothing-small test)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--max-side", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--parse-size", type=int, help="SegFormer input side (Settings.parse_size); default the profile's")
    p.add_argument("--work", type=Path, default=Path.home() / ".cache" / "drape" / "bench-online",
                   help="where the random full-size models and their ONNX exports are kept between runs")
    p.add_argument("--lama", type=Path, help="a LaMa ONNX file or folder (lama_fp32.onnx) to time the restore stage")
    p.add_argument("--lama-arch", action="store_true",
                   help="also time big-lama's architecture rebuilt in torch (random weights, 512 px, 3 runs)")
    p.add_argument("--torch", action="store_true", help="also time SegFormer and CLIP in torch, for comparison")
    p.add_argument("--json", action="store_true")


def build_models(work: Path) -> dict[str, Path]:
    """Random SegFormer-B2 (18 ATR labels) and CLIP ViT-B/32 folders, built once."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer, SegformerConfig, SegformerForSemanticSegmentation

    from pipeline.labels import ATR

    seg, clip = work / "segformer-b2-random", work / "clip-vit-b32-random"
    torch.manual_seed(0)
    if not (seg / "preprocessor_config.json").exists():  # written last
        names = {i: n.title() for i, n in enumerate(ATR)}
        cfg = SegformerConfig(depths=[3, 4, 6, 3], hidden_sizes=[64, 128, 320, 512], num_attention_heads=[1, 2, 5, 8],
                              decoder_hidden_size=768, id2label=names, label2id={v: k for k, v in names.items()})
        SegformerForSemanticSegmentation(cfg).eval().save_pretrained(seg)
        (seg / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 512, "width": 512}}))
    if not (clip / "preprocessor_config.json").exists():  # written last
        CLIPModel(CLIPConfig(projection_dim=512)).eval().save_pretrained(clip)  # defaults = ViT-B/32 + its text tower
        # Whole-word merges for the query words: they tokenise to about as many tokens as with CLIP's real BPE.
        letters = "abcdefghijklmnopqrstuvwxyz"
        tokens, merges = [*letters, *(c + "</w>" for c in letters)], []
        for w in WORDS:
            parts = list(w[:-1]) + [w[-1] + "</w>"]
            while len(parts) > 1:
                merges.append((parts[0], parts[1]))
                parts = [parts[0] + parts[1], *parts[2:]]
                tokens.append(parts[0])
        vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
        vocab["<|startoftext|>"], vocab["<|endoftext|>"] = 49406, 49407
        CLIPTokenizer(vocab=vocab, merges=list(dict.fromkeys(merges))).save_pretrained(clip)
        (clip / "preprocessor_config.json").write_text(json.dumps({"crop_size": {"height": 224, "width": 224}}))
    return {"segformer": seg, "fashion-clip": clip}


def _load() -> float:
    """1-minute load average: the numbers mean little when other jobs hold the cores."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def _time(fn, n: int, cpu: list[float] | None = None) -> list[float]:
    """Wall ms per call; process CPU ms per call into `cpu` (the work done, whatever else holds the cores)."""
    out = []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c) * 1000)
    return out


def run(args) -> int:
    from pipeline import config, imageio
    from pipeline.engine import Engine

    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    models = {k: str(v) for k, v in build_models(args.work).items()}
    overrides = {"profile": "online", "max_side": args.max_side, "threads": args.threads, "home": args.work / "home"}
    if args.parse_size:  # unset, the profile's own size applies
        overrides["parse_size"] = args.parse_size
    if args.lama:
        models["lama"] = str(args.lama)
    else:
        overrides["inpainter"] = "telea"
    engine = Engine(config.load(overrides={**overrides, "models": models}))
    files = images_under(args.images, args.limit)
    load_before = _load()
    engine.analyse(files[0])  # builds/exports the models; first-call allocations are not query latency
    engine.text_features("warm up")
    setup_s = time.perf_counter() - t0
    stages: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for f in files:
        c = time.process_time()
        a = engine.analyse(f)
        cpu.setdefault("total (image query)", []).append((time.process_time() - c) * 1000)
        for k, v in a.timings.items():
            stages.setdefault(k, []).append(v * 1000)
        stages.setdefault("total (image query)", []).append(a.total_seconds * 1000)
    img = imageio.fit(imageio.load_image(files[0]), args.max_side)

    def timed(name: str, fn, n: int) -> None:
        stages[name] = _time(fn, n, cpu.setdefault(name, []))

    # The models alone, with their CPU time: the columns to trust when the box is shared.
    timed("parse alone (SegFormer, ONNX Runtime)", lambda: engine.parser.parse(img), 5)
    timed("embed alone (CLIP image tower, ONNX Runtime)", lambda: engine.embedder.embed([img]), 10)
    if args.lama:  # the restore stage above only runs LaMa where the parse found an occluder
        import numpy as np

        mask = np.zeros(img.shape[:2], bool)
        mask[img.shape[0] // 3: img.shape[0] // 2, img.shape[1] // 4: img.shape[1] // 2] = True
        timed("lama on an occluded query", lambda: engine.inpainter.inpaint(img, mask), 5)
    if args.lama_arch:
        import torch

        from .lama_arch import BigLaMa

        torch.set_num_threads(args.threads)
        torch.set_flush_denormal(True)  # random weights drift into denormals that trained ones avoid
        net, x = BigLaMa().eval(), torch.rand(1, 3, 512, 512)
        m = (torch.rand(1, 1, 512, 512) > 0.9).float()
        with torch.inference_mode():
            net(x, m)
            timed("lama @512, big-lama architecture in torch", lambda: net(x, m), 3)
    timed("text query (tokenise + text tower)", lambda: engine.text_features("red floral midi dress"), 20)
    if args.torch:
        from pipeline.embed.fashionclip import FashionCLIP
        from pipeline.parse.segformer import SegformerParser

        seg_t = SegformerParser(models["segformer"], threads=args.threads, runtime="torch")
        timed("parse, torch (comparison)", lambda: seg_t.parse(img), 5)
        clip_t = FashionCLIP(models["fashion-clip"], threads=args.threads, runtime="torch")
        timed("embed, torch (comparison)", lambda: clip_t.embed([img]), 10)
    # min beside p50: on a box shared with other jobs the fastest run is the least disturbed one.
    rows = {k: {"p50": pct(v, 50), "p95": pct(v, 95), "min": min(v), "cpu_p50": pct(cpu.get(k, []), 50), "n": len(v)}
            for k, v in stages.items()}
    head = {"machine": machine(), "date": stamp(), "queries": len(files), "max_side": args.max_side,
            "threads": args.threads, "backends": {s: getattr(engine.settings, s) for s in ("parser", "inpainter", "embedder")},
            "lama": "ONNX file timed" if args.lama else ("torch architecture timed, no ONNX file" if args.lama_arch
                                                         else "not measured (no LaMa ONNX file; restore ran telea)"),
            "setup_s": round(setup_s, 1), "notices": engine.notices, "load": [load_before, _load()]}
    if args.json:
        print(json.dumps({**head, "ms": rows}, indent=2))
        return 0
    print(f"{len(files)} queries at {args.max_side} px (SegFormer at {engine.parser.size[0]}), {args.threads} threads — {head['machine']} — {head['date']}")
    print(f"backends: {head['backends']}; LaMa {head['lama']}; setup {head['setup_s']} s")
    print(f"load average before/after: {head['load']}")
    print("| stage | p50 ms | p95 ms | min ms | CPU ms p50 | n |\n|---|---:|---:|---:|---:|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v['p50']:.1f} | {v['p95']:.1f} | {v['min']:.1f} | {v['cpu_p50']:.0f} | {v['n']} |")
    return 0
