"""Fuzz the untrusted-input paths for a while: image decoding, the engine, the demo's upload handler.

`python -m bench fuzz --seconds 60 [--target decode|engine|handler|all]` mutates a corpus of odd
images (every format we read, every mode, EXIF, headers claiming 20000×20000, text named .jpg)
and feeds the results on. Every input must decode to RGB uint8 or be refused with ImageError
(gr.Error for the handler); anything else is a crash, saved under --out to replay. The corpus
and the mutator are shared with tests/reliability, which run a bounded slice of the same.
"""
from __future__ import annotations

import argparse
import collections
import functools
import io
import json
import random
import re
import resource
import struct
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

OK = "ok"


def _enc(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png(w: int, h: int, colour_type: int = 2, idat: bytes | None = None) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat or zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def png_bomb(w: int, h: int) -> bytes:
    """A real grey PNG of w×h zeros: kilobytes on disk, w·h bytes once inflated."""
    z, rows, parts = zlib.compressobj(1), b"\0" * (w + 1) * 500, []
    for _ in range(0, h, 500):
        parts.append(z.compress(rows))  # whole 500-row blocks: a few rows too many is still a bomb
    return _png(w, h, colour_type=0, idat=b"".join(parts) + z.flush())


def _patch_jpeg_size(data: bytes, w: int, h: int) -> bytes:
    i = data.index(b"\xff\xc0")  # SOF0: marker, length, precision, height, width
    return data[:i + 5] + struct.pack(">HH", h, w) + data[i + 9:]


def _patch_tiff_size(data: bytes, w: int, h: int) -> bytes:
    d = bytearray(data)
    ifd = struct.unpack_from("<I", d, 4)[0]
    for k in range(struct.unpack_from("<H", d, ifd)[0]):
        e = ifd + 2 + 12 * k
        if struct.unpack_from("<H", d, e)[0] in (256, 257):  # ImageWidth, ImageLength as LONG
            struct.pack_into("<HII", d, e + 2, 4, 1, w if struct.unpack_from("<H", d, e)[0] == 256 else h)
    return bytes(d)


def _patch_webp_size(data: bytes, w: int, h: int) -> bytes:
    bits = struct.unpack_from("<I", data, 21)[0] & ~((1 << 28) - 1)  # VP8L: 14-bit (w-1), (h-1)
    return data[:21] + struct.pack("<I", bits | (w - 1) | (h - 1) << 14) + data[25:]


@functools.lru_cache(maxsize=1)
def corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expectation): OK, or a regex the ImageError message must match."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    good: dict[str, bytes] = {
        "jpeg": _enc(rgb, "JPEG"), "jpeg-progressive": _enc(rgb, "JPEG", progressive=True),
        "png": _enc(rgb, "PNG"), "webp": _enc(rgb, "WEBP"), "webp-lossless-rgba": _enc(rgb.convert("RGBA"), "WEBP",
                                                                                        lossless=True),
        "webp-animated": _enc(rgb, "WEBP", save_all=True, append_images=[rgb.rotate(90)]),
        "gif": _enc(rgb.convert("P"), "GIF"),
        "gif-animated": _enc(rgb.convert("P"), "GIF", save_all=True, append_images=[rgb.rotate(90).convert("P")]),
        "tiff": _enc(rgb, "TIFF"), "tiff-lzw-cmyk": _enc(rgb.convert("CMYK"), "TIFF", compression="tiff_lzw"),
        "bmp": _enc(rgb, "BMP"), "bmp-palette": _enc(rgb.convert("P"), "BMP"),
        "cmyk-jpeg": _enc(rgb.convert("CMYK"), "JPEG"), "grey-jpeg": _enc(rgb.convert("L"), "JPEG"),
        "16-bit-png": _enc(Image.fromarray(rng.integers(0, 65535, (40, 30), dtype=np.uint16)), "PNG"),
        "32-bit-int-tiff": _enc(Image.fromarray(rng.integers(-9, 9, (40, 30), dtype=np.int32)), "TIFF"),
        "float-tiff": _enc(Image.fromarray(rng.normal(size=(40, 30)).astype(np.float32)), "TIFF"),
        "palette-png": _enc(rgb.convert("P"), "PNG"),
        "palette-transparent-png": _enc(rgb.convert("P"), "PNG", transparency=0),
        "rgba-png": _enc(rgb.convert("RGBA"), "PNG"), "la-png": _enc(rgb.convert("LA"), "PNG"),
        "bilevel-png": _enc(rgb.convert("1"), "PNG"),
        "1x1-png": _enc(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"),
        "1x1-jpeg": _enc(Image.new("RGB", (1, 1), (9, 9, 9)), "JPEG"),
        "1x1-gif": _enc(Image.new("P", (1, 1)), "GIF"),
        "1x4000-png": _enc(Image.new("RGB", (1, 4000)), "PNG"),
        "mpo": _enc(rgb, "MPO", save_all=True, append_images=[rgb]),
    }
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        good[f"jpeg-exif-orientation-{orientation}"] = _enc(rgb, "JPEG", exif=exif.tobytes())
    bad_exif = Image.Exif()
    bad_exif[0x0112] = 77  # no such orientation: ignored, the pixels are fine
    good["jpeg-exif-orientation-invalid"] = _enc(rgb, "JPEG", exif=bad_exif.tobytes())
    out = {k: (v, OK) for k, v in good.items()}

    limit = "limit|too large"
    corrupt = "corrupt|truncated|header|not an image"
    out.update({
        "zero-bytes": (b"", "empty"),
        "text-named-jpg": (b"hello, this is not an image", "not an image"),
        "html-named-jpg": (b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>", "not an image"),
        "svg-named-jpg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>1</script></svg>',
                          "not an image"),
        "eps-named-jpg": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(x) print showpage\n", "not an image"),
        "pdf-named-jpg": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "not an image"),
        "ppm-named-jpg": (_enc(rgb, "PPM"), "not an image"),  # a real image in a format we do not take
        "psd-magic": (b"8BPS\0\1" + b"\0" * 64, "not an image"),
        "zip": (b"PK\x03\x04" + b"\0" * 40, "not an image"),
        "jpeg-magic-only": (b"\xff\xd8\xff", corrupt),
        "png-magic-only": (b"\x89PNG\r\n\x1a\n", corrupt),
        "nul-bytes": (b"\0" * 4096, "not an image"),
        "0x0-png": (_png(0, 0), corrupt + "|no pixels"),
        "png-20000x20000-header": (_png(20000, 20000), limit),
        "png-65535x1-header": (_png(65535, 1), corrupt),
        "jpeg-20000x20000-header": (_patch_jpeg_size(good["jpeg"], 20000, 20000), limit),
        "gif-20000x20000-header": (good["gif"][:6] + struct.pack("<HH", 20000, 20000) + good["gif"][10:], limit),
        "bmp-20000x20000-header": (good["bmp"][:18] + struct.pack("<ii", 20000, 20000) + good["bmp"][26:], limit),
        "bmp-negative-height": (good["bmp"][:18] + struct.pack("<ii", 30, -40) + good["bmp"][26:], OK),
        "tiff-20000x20000-header": (_patch_tiff_size(good["tiff"], 20000, 20000), limit),
        "webp-16384x16384-header": (_patch_webp_size(good["webp-lossless-rgba"], 16384, 16384), limit),
        "png-bomb-8000x8000": (png_bomb(8000, 8000), limit),  # 64 MP of zeros in ~60 KB
    })
    for name in ("jpeg", "png", "webp", "gif-animated", "tiff", "bmp", "cmyk-jpeg", "16-bit-png"):
        data = good[name]
        out[f"{name}-truncated-half"] = (data[: len(data) // 2], corrupt)
        out[f"{name}-truncated-header"] = (data[:24], corrupt)
        flipped = bytearray(data)
        for i in range(len(data) // 3, len(data), 97):
            flipped[i] ^= 0x55
        out[f"{name}-bitflipped"] = (bytes(flipped), OK + "|" + corrupt)  # either outcome is fine
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits of the kinds that break parsers: cuts, flips, inserts, big numbers."""
    d = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if len(d) < 4:
            d += bytes(rng.randrange(256) for _ in range(4))
        i = rng.randrange(len(d))
        kind = rng.randrange(6)
        if kind == 0:
            del d[rng.randrange(1, len(d)):]
        elif kind == 1:
            for _ in range(rng.randint(1, 8)):
                j = rng.randrange(len(d))
                d[j] ^= 1 << rng.randrange(8)
        elif kind == 2:
            d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif kind == 3:
            del d[i:i + rng.randint(1, 32)]
        elif kind == 4:
            d[i:i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\0\0\0\0", b"\x7f\xff\xff\xff", b"\x80\0\0\0"])
        else:
            j = rng.randrange(len(d))
            d[i:i + 8] = d[j:j + 8]
    return bytes(d)


def expected(message: str, expectation: str) -> bool:
    return re.search(expectation, message) is not None


# --- targets: each takes bytes and returns "ok" or a rejection reason; anything else raised is a crash ---

def decode_target() -> Callable[[bytes], str]:
    from pipeline.imageio import ImageError, decode

    def run(data: bytes) -> str:
        try:
            a = decode(data, "fuzz")
        except ImageError as exc:
            return str(exc).split(": ", 1)[-1]
        assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and a.flags.c_contiguous, a.shape
        return OK
    return run


def engine_target(home: Path) -> Callable[[bytes], str]:
    from pipeline import config
    from pipeline.engine import Engine
    from pipeline.imageio import ImageError, decode

    engine = Engine(config.load(overrides={"home": home}, environ={}))

    def run(data: bytes) -> str:
        try:
            rgb = decode(data, "fuzz")
        except ImageError as exc:
            return str(exc).split(": ", 1)[-1]
        a = engine.analyse(rgb)  # the decoded array goes on through every stage
        assert np.isfinite(a.features.shape).all() and np.isfinite(a.features.colour).all()
        return OK
    return run


def handler_target(home: Path, workdir: Path) -> Callable[[bytes], str]:
    """Handlers.search on the raw upload, over a real offline engine and a 6-item local index."""
    import gradio as gr

    from demo.bootstrap import Catalogue, Served
    from demo.handlers import Handlers
    from pipeline import config
    from pipeline.engine import Engine
    from pipeline.index import open_index
    from pipeline.types import Item

    settings = config.load(overrides={"home": home, "index_dir": workdir / "idx"}, environ={})
    engine = Engine(settings)
    engine.index = open_index(settings, engine.signature(), create=True)
    vecs = np.random.default_rng(0).normal(size=(6, engine.index.shape_dim + engine.index.colour_dim))
    s, c = vecs[:, :engine.index.shape_dim], vecs[:, engine.index.shape_dim:]
    engine.index.add([Item(id=f"i{k}", image=f"/nowhere/{k}.jpg", category="dress") for k in range(6)],
                     s / np.linalg.norm(s, axis=1, keepdims=True), c / np.linalg.norm(c, axis=1, keepdims=True))
    cat = Catalogue("fuzz", "fuzz", None, None, about="fuzz")
    handlers = Handlers(Served(engine, cat, workdir, 6, ["dress"]), [], upload_roots=[workdir])
    upload = workdir / "upload.jpg"

    def run(data: bytes) -> str:
        upload.write_bytes(data)
        try:
            out = handlers.search({"path": str(upload), "orig_name": "upload.jpg"}, 0.5, 5, True)
        except gr.Error as exc:
            return exc.message
        assert out[6]["results"], "a decodable upload found nothing"
        return OK
    return run


# --- the command ------------------------------------------------------------------------------------------

def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz (per target)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", choices=["decode", "engine", "handler", "all"], default="decode")
    p.add_argument("--home", type=Path, default=None, help="DRAPE home for the engine's models (default: a temp dir)")
    p.add_argument("--out", type=Path, default=Path("fuzz-crashes"), help="crashing inputs are saved here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def fuzz(target: Callable[[bytes], str], seconds: float, seed: int, out: Path, name: str = "decode") -> dict:
    rng = random.Random(seed)
    seeds = corpus()
    names = sorted(seeds)
    counts: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    slowest, crashes = (0.0, ""), []
    deadline = time.monotonic() + seconds
    for key in names:  # the corpus itself first, then mutants until time is up
        _one(target, seeds[key][0], key, counts, reasons, crashes, out, name)
    while time.monotonic() < deadline:
        key = rng.choice(names)
        data = mutate(seeds[key][0], rng)
        t = time.perf_counter()
        _one(target, data, key, counts, reasons, crashes, out, name)
        if time.perf_counter() - t > slowest[0]:
            slowest = (time.perf_counter() - t, key)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"target": name, "seconds": seconds, "seed": seed, "runs": sum(counts.values()), "decoded": counts[OK],
            "rejected": counts["rejected"], "crashes": len(crashes), "crash_files": crashes[:20],
            "slowest_s": round(slowest[0], 3), "slowest_seed": slowest[1], "peak_rss_mb": round(peak),
            "reasons": dict(reasons.most_common(12))}


def _one(target, data, key, counts, reasons, crashes, out: Path, name: str) -> None:
    try:
        result = target(data)
    except Exception:  # the point of the exercise: record it, keep going
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}-{key}-{len(crashes)}.bin"
        path.write_bytes(data)
        crashes.append(str(path))
        print(f"CRASH on {key} (saved {path}):\n{traceback.format_exc(limit=6)}", file=sys.stderr)
        return
    if result == OK:
        counts[OK] += 1
    else:
        counts["rejected"] += 1
        reasons[re.sub(r"\d+", "N", result)[:70]] += 1


def run(args: argparse.Namespace) -> int:
    import warnings

    warnings.simplefilter("ignore")  # PIL's "Corrupt EXIF" chatter on every mutant
    targets = ["decode", "engine", "handler"] if args.target == "all" else [args.target]
    reports = []
    with tempfile.TemporaryDirectory(prefix="drape-fuzz-") as tmp:
        home = args.home or Path(tmp) / "home"
        for name in targets:
            make = {"decode": decode_target, "engine": lambda: engine_target(home),
                    "handler": lambda: handler_target(home, Path(tmp) / "handler")}[name]
            if name == "handler":
                (Path(tmp) / "handler").mkdir()
            reports.append(fuzz(make(), args.seconds, args.seed, args.out, name))
    if args.json:
        print(json.dumps(reports, indent=2))
    for r in reports:
        print(f"{r['target']}: {r['runs']} inputs in {r['seconds']:.0f} s: {r['decoded']} decoded, {r['rejected']} "
              f"rejected cleanly, {r['crashes']} crashes; slowest {r['slowest_s']} s ({r['slowest_seed']}); "
              f"peak RSS {r['peak_rss_mb']} MB", file=sys.stderr if args.json else sys.stdout)
    return 1 if any(r["crashes"] for r in reports) else 0
