"""Every odd input either decodes to RGB uint8 H×W×3 or raises ImageError with a reason."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pipeline.imageio import ImageError, as_rgb, decode, fit, load_image


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


RGB = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8))


def exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    return encode(RGB, "JPEG", exif=exif.tobytes())


GOOD = {
    "jpeg": lambda: encode(RGB, "JPEG"),
    "png": lambda: encode(RGB, "PNG"),
    "webp": lambda: encode(RGB, "WEBP"),
    "bmp": lambda: encode(RGB, "BMP"),
    "tiff": lambda: encode(RGB, "TIFF"),
    "gif-animated": lambda: encode(RGB.convert("P"), "GIF", save_all=True, append_images=[RGB.rotate(90).convert("P")]),
    "cmyk-jpeg": lambda: encode(RGB.convert("CMYK"), "JPEG"),
    "grey": lambda: encode(RGB.convert("L"), "PNG"),
    "16-bit": lambda: encode(Image.fromarray((np.arange(1200, dtype=np.uint16).reshape(40, 30) * 50)), "PNG"),
    "palette-transparent": lambda: encode(RGB.convert("P"), "PNG", transparency=0),
    "rgba": lambda: encode(RGB.convert("RGBA"), "PNG"),
    "1x1": lambda: encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_inputs_decode_to_rgb(name):
    arr = decode(GOOD[name](), name)
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and arr.flags.c_contiguous


def test_exif_rotation_applied():
    assert decode(exif_rotated()).shape[:2] == (30, 40)


def test_transparent_becomes_white():
    im = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert (decode(encode(im, "PNG")) == 255).all()


BAD = {
    "zero-bytes": (b"", "empty"),
    "text-named-jpg": (b"hello, this is not an image", "not an image"),
    "html": (b"<html><body>hi</body></html>", "not an image"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not an image"),
    "truncated-jpeg": (encode(RGB, "JPEG")[:200], "corrupt|truncated|header"),
    "bomb-header": (png_header_only(20000, 20000), "limit"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_inputs_raise_clear_errors(name):
    data, needle = BAD[name]
    with pytest.raises(ImageError, match=needle):
        decode(data, name)


def test_load_image_paths(tmp_path):
    p = tmp_path / "a.png"
    p.write_bytes(GOOD["png"]())
    assert load_image(p).shape == (40, 30, 3)
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="regular file"):
        load_image(tmp_path)


@pytest.mark.parametrize("arr", [
    np.zeros((5, 5), np.uint8), np.zeros((5, 5, 4), np.uint8), np.ones((5, 5, 3), np.float32),
    np.zeros((5, 5, 1), np.uint16),
])
def test_as_rgb_coerces_arrays(arr):
    out = as_rgb(arr)
    assert out.shape == (5, 5, 3) and out.dtype == np.uint8


def test_as_rgb_rejects_nonsense():
    with pytest.raises(ImageError):
        as_rgb(np.zeros((0, 3, 3), np.uint8))
    with pytest.raises(ImageError):
        as_rgb(np.zeros((4, 4, 7), np.uint8))


def test_fit_downscales_only():
    big = np.zeros((1000, 500, 3), np.uint8)
    assert fit(big, 512).shape == (512, 256, 3)
    small = np.zeros((10, 20, 3), np.uint8)
    assert fit(small, 512) is small
