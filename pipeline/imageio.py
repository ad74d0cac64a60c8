"""The one place untrusted image bytes become RGB uint8 arrays.

Everything a user or a catalogue hands us passes through `load_image`: it
refuses non-images and decompression bombs before decoding, applies EXIF
rotation, and flattens every mode (CMYK, 16-bit, palette, alpha, grey) to RGB.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np

MAX_PIXELS = 40_000_000  # 40 MP: any real product photo; far below a bomb
MAX_BYTES = 50 * 1024 * 1024
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")  # PIL decoders tried, whatever the file is named
BAND_ROWS = 256  # rows converted at a time: float temporaries stay a few MB at 40 MP


class ImageError(ValueError):
    """A clear, user-facing reason an input is not a usable image."""


def _open(data: bytes, name: str):
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{name}: file is {len(data) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        # Only the formats we document: PIL would otherwise also try EPS (which runs Ghostscript
        # on the bytes), PSD, FITS and dozens of rarely hardened decoders on anything named .jpg.
        im = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image (or a format we cannot read)") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: image dimensions exceed the limit of {MAX_PIXELS / 1e6:.0f} MP") from None
    except Exception as exc:  # PIL raises many types on hostile headers
        raise ImageError(f"{name}: cannot read image header ({exc.__class__.__name__})") from None
    w, h = im.size
    if w < 1 or h < 1:
        raise ImageError(f"{name}: image has no pixels ({w}×{h})")
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"{name}: image is {w}×{h} = {w * h / 1e6:.0f} MP; the limit is {MAX_PIXELS / 1e6:.0f} MP"
        )
    return im, ImageOps


def _bands(im, convert, mode: str | None = None) -> np.ndarray:
    """`convert` applied to horizontal bands of `im` (each first put in `mode`): a 40 MP RGBA or
    16-bit photo would otherwise need ~2 GB of temporaries (a 5 KB palette PNG at the pixel
    limit did exactly that); banded, the peak is the decoded image plus the result."""
    w, h = im.size
    out = np.empty((h, w, 3), np.uint8)
    for y in range(0, h, BAND_ROWS):
        band = im.crop((0, y, w, min(h, y + BAND_ROWS)))
        out[y:y + BAND_ROWS] = convert(np.asarray(band.convert(mode) if mode else band))
    return out


def _to_rgb(im) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float greys: scale to 8 bits rather than clip.
        hi = float(np.nan_to_num(im.getextrema()[1], nan=0.0, posinf=0.0)) or 1.0

        def grey(a: np.ndarray) -> np.ndarray:
            a = np.clip(np.nan_to_num(a.astype(np.float32), nan=0.0) / hi * 255.0, 0, 255).astype(np.uint8)
            return np.repeat(a[..., None], 3, axis=2)
        return _bands(im, grey)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        # Transparent pixels become white, as product shots on a white page.
        def white(a: np.ndarray) -> np.ndarray:
            rgb, alpha = a[..., :3].astype(np.uint16), a[..., 3:4].astype(np.uint16)
            return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)  # exact rounding
        return _bands(im, white, "RGBA")
    return np.asarray(im if mode == "RGB" else im.convert("RGB"), dtype=np.uint8)


def decode(data: bytes, name: str = "image") -> np.ndarray:
    """Bytes → RGB uint8 H×W×3, or ImageError with a reason a person can act on."""
    im, ImageOps = _open(data, name)
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.seek(0)  # first frame of animations
            im = ImageOps.exif_transpose(im) or im
            im.load()
            arr = _to_rgb(im)
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageError(f"{name}: image is too large to decode safely") from None
    except Exception as exc:
        raise ImageError(f"{name}: image data is corrupt or truncated ({exc.__class__.__name__})") from None
    return np.ascontiguousarray(arr)


def load_image(source: str | os.PathLike | bytes | np.ndarray, name: str | None = None) -> np.ndarray:
    """Path, bytes or array → RGB uint8 H×W×3."""
    if isinstance(source, np.ndarray):
        return as_rgb(source)
    if isinstance(source, (bytes, bytearray)):
        return decode(bytes(source), name or "upload")
    path = Path(source)
    label = name or path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found") from None
    except OSError as exc:
        raise ImageError(f"{label}: cannot access file ({exc.strerror})") from None
    if not path.is_file():
        raise ImageError(f"{label}: not a regular file")
    if size > MAX_BYTES:
        raise ImageError(f"{label}: file is {size / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{label}: cannot read file ({exc.strerror})") from None
    return decode(data, label)


def as_rgb(arr: np.ndarray) -> np.ndarray:
    """Coerce an in-memory array (e.g. from Gradio) to RGB uint8."""
    a = np.asarray(arr)
    if a.dtype.kind not in "biuf":  # object, complex, strings: not pixels
        raise ImageError(f"expected numeric pixels, got an array of {a.dtype}")
    if a.size == 0:
        raise ImageError("image has no pixels")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected an H×W×3 image, got shape {a.shape}")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise ImageError(f"image is {a.shape[1]}×{a.shape[0]}; the limit is {MAX_PIXELS / 1e6:.0f} MP")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.dtype != np.uint8:
        if a.dtype.kind == "f" and a.dtype.itemsize > 4:
            a = np.clip(a, -1e30, 1e30)  # beyond float32's range the cast below would overflow
        a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        hi = 255.0 if a.max() > 1.0 else 1.0
        a = np.clip(a / hi * 255.0, 0, 255).round().astype(np.uint8)
    if a.shape[2] == 4:
        alpha = a[..., 3:4].astype(np.float32) / 255.0
        a = (a[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(a)


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale so the longer side is at most max_side (never upscale)."""
    import cv2

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
