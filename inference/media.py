"""Open user images under explicit limits: an allowlist of formats, a decompression-bomb check before decoding,
EXIF orientation applied, and every colour mode turned into upright 8-bit RGB. `MediaError` is shared with video.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

# Pillow plugins we let parse uploads (JPEG's also opens MPO, the multi-picture JPEG phones write); everything
# else Pillow could read (PSD, EPS through Ghostscript, ICO, TGA, ...) is refused.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
ACCEPTED = "JPEG, PNG, WebP, GIF, BMP or TIFF"
# Transparent pixels are composited on white, the usual page colour, rather than showing whatever RGB they hold.
BACKGROUND = (255, 255, 255)
# What Pillow raises on broken or hostile files (UnidentifiedImageError is an OSError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)
_MULTI_FRAME = {
    "GIF": "animated GIF",
    "WEBP": "animated WebP",
    "PNG": "animated PNG",
    "MPO": "multi-picture JPEG",
    "TIFF": "multi-page TIFF",
}


class MediaError(ValueError):
    """An upload we cannot use; str(err) is a one-line message for the user (what is wrong, what is accepted)."""


@dataclass(frozen=True)
class ImageLimits:
    # 50 MP covers 48 MP phone photos and 8K frames; Pillow's own bomb limit (89 MP) also applies when lower.
    max_pixels: int = 50_000_000
    max_side: int = 16_384
    max_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image  # RGB, 8-bit, upright (EXIF orientation applied), fully decoded
    source_format: str  # Pillow's name for what was uploaded ("JPEG", "PNG", ...), "PIL" for in-memory images
    notes: tuple[str, ...]  # things the UI should say, e.g. "animated GIF: using the first frame of 12"

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def load_image(src: str | Path | bytes | Image.Image, limits: ImageLimits = ImageLimits()) -> LoadedImage:
    """Open `src` (a path, the file's bytes, or a PIL image) as upright 8-bit RGB; raises MediaError."""
    if isinstance(src, Image.Image):  # the caller's image: work on a copy, never change theirs
        _check_size(*src.size, limits)
        return _convert(src.copy(), src.format or "PIL", limits, frames=getattr(src, "n_frames", 1))
    data = _read_bytes(src, limits) if isinstance(src, (str, Path)) else bytes(src)
    if not data:
        raise MediaError(f"the image file is empty; upload a {ACCEPTED} image")
    if len(data) > limits.max_bytes:
        raise MediaError(f"image file too large (max {limits.max_bytes // 2**20} MB)")
    try:
        # Only the header is parsed here; pixels are decoded in _convert after the size check.
        opened = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:
        raise MediaError(_too_large_message(limits)) from None
    except _DECODE_ERRORS:
        raise MediaError(f"not a supported image; upload a {ACCEPTED} file") from None
    return _convert(opened, opened.format, limits)


def _read_bytes(path: str | Path, limits: ImageLimits) -> bytes:
    # Read one byte past the limit instead of trusting stat(): special files report size 0.
    with open(path, "rb") as f:
        data = f.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise MediaError(f"image file too large (max {limits.max_bytes // 2**20} MB)")
    return data


def _check_size(width: int, height: int, limits: ImageLimits) -> None:
    # Pillow only warns between 1x and 2x its MAX_IMAGE_PIXELS; we treat that range as an error too.
    max_pixels = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    if width * height > max_pixels or max(width, height) > limits.max_side:
        raise MediaError(f"{_too_large_message(limits)}; this one is {width}x{height}")
    if width < 1 or height < 1:
        raise MediaError(f"the image has no pixels ({width}x{height})")


def _too_large_message(limits: ImageLimits) -> str:
    max_pixels = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    return f"image too large (max {max_pixels / 1e6:.0f} MP and {limits.max_side} px per side)"


def _convert(image: Image.Image, source_format: str, limits: ImageLimits, frames: int | None = None) -> LoadedImage:
    """`image` is ours to change (opened here, or a copy): decoded, turned upright in place, made RGB."""
    _check_size(*image.size, limits)
    frames = frames or getattr(image, "n_frames", 1)
    kind = _MULTI_FRAME.get(source_format, source_format)
    notes = (f"{kind}: using the first frame of {frames}",) if frames > 1 else ()
    try:
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # no copy of a 12 MP photo when nothing needs turning
    except _DECODE_ERRORS:
        raise MediaError(f"the image file is truncated or damaged; upload a complete {ACCEPTED} file") from None
    return LoadedImage(_to_rgb(image), source_format, notes)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB: 16-bit scaled (Pillow's own I;16 -> L conversion clips at 255), alpha and
    palette transparency composited on BACKGROUND, CMYK/YCbCr/1/L/P through Pillow's conversion."""
    if image.mode.startswith("I"):
        image = _scale_16bit(image)
    elif image.mode == "F":
        raise MediaError("floating-point images are not supported; upload an 8- or 16-bit image")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if image.mode == "RGB":
        return image
    try:
        return image.convert("RGB")
    except ValueError:  # e.g. LAB TIFFs: Pillow has no conversion
        raise MediaError(f"images in colour mode {image.mode} are not supported; upload an RGB image") from None


def _scale_16bit(image: Image.Image) -> Image.Image:
    values = np.asarray(image)  # [H, W] uint16 (I;16*) or int32 (I, accepted when it holds 16-bit samples)
    if values.min() < 0 or values.max() > 0xFFFF:
        raise MediaError("32-bit images are not supported; upload an 8- or 16-bit image")
    grey = ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535)
    transparent = image.info.get("transparency")  # a 16-bit grey PNG's tRNS: one sample value
    if isinstance(transparent, int):
        return Image.fromarray(np.dstack([grey, np.where(values == transparent, 0, 255).astype(np.uint8)]))  # LA
    return Image.fromarray(grey)
