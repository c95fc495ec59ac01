"""Image loading: the reliability table's image cases, each on a fixture generated here."""

from __future__ import annotations

import io
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from inference.media import ImageLimits, LoadedImage, MediaError, load_image
from media_fixtures import png_bytes

RED, GREEN, BLUE, WHITE = (230, 30, 30), (30, 200, 30), (30, 30, 230), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


DEFAULT_LIMITS = ImageLimits()


def user_error(src, match: str, limits: ImageLimits = DEFAULT_LIMITS) -> MediaError:
    with pytest.raises(MediaError, match=match) as info:
        load_image(src, limits)
    assert "\n" not in str(info.value)
    return info.value


def quadrants(width: int = 48, height: int = 32) -> np.ndarray:
    """[H, W, 3] uint8: red top-left, green top-right, blue bottom-left, white bottom-right."""
    image = np.empty((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = RED
    image[: height // 2, width // 2 :] = GREEN
    image[height // 2 :, : width // 2] = BLUE
    image[height // 2 :, width // 2 :] = WHITE
    return image


def assert_close(actual: np.ndarray, expected, tolerance: int = 12) -> None:
    assert np.abs(np.asarray(actual, np.int32) - np.asarray(expected, np.int32)).max() <= tolerance


# --- decompression bombs and size limits ---


def test_bomb_header_is_rejected_before_decoding():
    bomb = png_bytes(20000, 20000)  # IHDR only: decoding would need 1.2 GB
    started = time.perf_counter()
    user_error(bomb, r"image too large \(max 50 MP")
    assert time.perf_counter() - started < 1.0


def test_size_is_checked_before_pixels_are_read():
    # A header-only 40 MP PNG passes the size check and only then fails to decode: the order is right.
    user_error(png_bytes(8000, 5000), "truncated or damaged")
    user_error(png_bytes(9000, 6000), "image too large.*this one is 9000x6000")


def test_pillow_warning_range_is_an_error_even_with_a_higher_limit_of_ours():
    # 96 MP lies between 1x and 2x Pillow's limit, where Pillow only warns; we refuse.
    limits = ImageLimits(max_pixels=200_000_000, max_side=50_000)
    with pytest.warns(Image.DecompressionBombWarning):
        user_error(png_bytes(12000, 8000), "image too large", limits)


def test_a_12_mp_photo_passes():
    photo = Image.fromarray(np.full((3000, 4000, 3), 90, np.uint8))
    loaded = load_image(encode(photo, "JPEG", quality=80))
    assert (loaded.width, loaded.height, loaded.source_format, loaded.notes) == (4000, 3000, "JPEG", ())


def test_file_size_limit(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)), "PNG"))
    user_error(path, r"image file too large \(max 0 MB\)", ImageLimits(max_bytes=1000))
    user_error(path.read_bytes(), "image file too large", ImageLimits(max_bytes=1000))


def test_tiny_and_extreme_aspect():
    one = load_image(encode(Image.new("RGB", (1, 1), RED), "PNG"))
    assert one.image.size == (1, 1) and one.image.getpixel((0, 0)) == RED
    long_strip = load_image(encode(Image.new("L", (16000, 1), 200), "PNG"))
    assert long_strip.image.size == (16000, 1) and long_strip.image.getpixel((15999, 0)) == (200, 200, 200)
    user_error(png_bytes(1, 50000), "image too large.*16384 px per side.*1x50000")


# --- what is not an image we accept ---


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    user_error(tmp_path / "empty.jpg", "the image file is empty")


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8\xff" + b"\0" * 100)
    return buffer.getvalue()


NOT_IMAGES = {
    "html": b"<!doctype html><html><body><script>alert(1)</script></body></html>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>',
    "text": b"just some words\n" * 20,
    "zip": _zip_bytes(),
    "pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    # Formats Pillow itself reads, but which are not on our allowlist.
    "ico": encode(Image.new("RGB", (16, 16), RED), "ICO"),
    "tga": encode(Image.new("RGB", (16, 16), RED), "TGA"),
}


@pytest.mark.parametrize("kind", NOT_IMAGES)
def test_renamed_non_images_are_rejected(tmp_path, kind):
    path = tmp_path / "photo.jpg"
    path.write_bytes(NOT_IMAGES[kind])
    user_error(path, "not a supported image; upload a JPEG, PNG, WebP, GIF, BMP or TIFF file")


def test_truncated_jpeg():
    jpeg = encode(Image.fromarray(quadrants(256, 256)), "JPEG", quality=90)
    user_error(jpeg[: len(jpeg) // 2], "truncated or damaged")


def test_content_decides_the_format_not_the_name(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(encode(Image.fromarray(quadrants()), "PNG"))
    loaded = load_image(path)
    assert loaded.source_format == "PNG"
    assert_close(np.asarray(loaded.image), quadrants(), 0)


# --- colour modes ---


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    loaded = load_image(encode(cmyk, "JPEG", quality=95))
    assert loaded.image.mode == "RGB"
    assert_close(np.asarray(loaded.image)[16, 16], (255, 0, 0), 8)


def test_rgba_is_composited_on_white_not_black():
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent black ...
    rgba[:4] = (255, 0, 0, 128)  # ... under a half-transparent red top half
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    pixels = np.asarray(loaded.image)
    assert pixels.shape == (8, 8, 3)
    assert_close(pixels[0, 0], (255, 127, 127), 1)
    assert_close(pixels[7, 7], WHITE, 0)


def test_la_and_palette_transparency():
    la = np.zeros((4, 4, 2), np.uint8)
    la[:2] = (0, 255)  # opaque black top, transparent bottom
    pixels = np.asarray(load_image(encode(Image.fromarray(la, "LA"), "PNG")).image)
    assert_close(pixels[0, 0], (0, 0, 0), 0)
    assert_close(pixels[3, 3], WHITE, 0)

    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, *RED] + [0] * 762)
    palette.paste(0, (0, 2, 4, 4))  # index 0 (black) is the transparent colour
    for fmt in ("PNG", "GIF"):
        pixels = np.asarray(load_image(encode(palette, fmt, transparency=0)).image)
        assert pixels.shape == (4, 4, 3)
        assert_close(pixels[0, 0], RED, 0)
        assert_close(pixels[3, 3], WHITE, 0)


def test_16_bit_grey_png_is_scaled_not_clipped():
    ramp = np.array([[0, 1000, 32768, 65535]], np.uint16)
    pixels = np.asarray(load_image(png_bytes(4, 1, bit_depth=16, colour_type=0, pixels=ramp)).image)
    assert pixels[0, :, 0].tolist() == [0, 4, 128, 255]  # Pillow's own convert("L") gives [0, 255, 255, 255]
    assert (pixels[..., 0] == pixels[..., 2]).all()
    with_trns = png_bytes(4, 1, bit_depth=16, colour_type=0, pixels=ramp, chunks=[(b"tRNS", b"\x80\x00")])
    pixels = np.asarray(load_image(with_trns).image)  # 32768 is the transparent value
    assert pixels[0, :, 0].tolist() == [0, 4, 255, 255]


def test_16_bit_rgb_and_rgba_png():
    rgb = np.zeros((2, 2, 3), np.uint16)
    rgb[..., 0], rgb[..., 1] = 0xFFFF, 0x8000
    pixels = np.asarray(load_image(png_bytes(2, 2, bit_depth=16, colour_type=2, pixels=rgb)).image)
    assert_close(pixels[0, 0], (255, 128, 0), 1)
    rgba = np.zeros((2, 2, 4), np.uint16)
    rgba[..., 2] = 0xFFFF  # blue, alpha 0 in the first row
    rgba[1, :, 3] = 0xFFFF
    pixels = np.asarray(load_image(png_bytes(2, 2, bit_depth=16, colour_type=6, pixels=rgba)).image)
    assert_close(pixels[0, 0], WHITE, 0)
    assert_close(pixels[1, 0], (0, 0, 255), 1)


def test_grayscale_bilevel_and_16_bit_tiff():
    assert_close(np.asarray(load_image(encode(Image.new("L", (3, 3), 77), "PNG")).image)[1, 1], (77, 77, 77), 0)
    assert_close(np.asarray(load_image(encode(Image.new("1", (3, 3), 1), "BMP")).image)[1, 1], WHITE, 0)
    tiff = encode(Image.fromarray(np.full((3, 3), 0x8000, np.uint16)), "TIFF")
    assert_close(np.asarray(load_image(tiff).image)[1, 1], (128, 128, 128), 0)


def test_float_tiff_is_refused_with_a_reason():
    user_error(encode(Image.fromarray(np.ones((3, 3), np.float32)), "TIFF"), "floating-point images are not supported")


# --- animation ---


def _frames(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (16, 16), (20 * i, 255 - 20 * i, 100)) for i in range(n)]


@pytest.mark.parametrize(("fmt", "kind"), [("GIF", "animated GIF"), ("WEBP", "animated WebP"), ("PNG", "animated PNG")])
def test_animated_images_use_the_first_frame(fmt, kind):
    frames = _frames(12)
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True)
    loaded = load_image(data)
    assert loaded.notes == (f"{kind}: using the first frame of 12",)
    pixels = np.asarray(loaded.image)
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8
    assert_close(pixels[8, 8], (0, 255, 100), 4)


# --- orientation ---


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores for EXIF orientation 1..8, written from the TIFF/EXIF definitions (where row 0
    and column 0 of the stored image lie in the upright picture), not from Pillow's table."""
    return {
        1: upright,
        2: upright[:, ::-1],  # row 0 = top, column 0 = right
        3: upright[::-1, ::-1],  # bottom, right
        4: upright[::-1],  # bottom, left
        5: upright.transpose(1, 0, 2),  # row 0 = left side, column 0 = top
        6: np.rot90(upright, 1),  # right side, top
        7: upright[::-1, ::-1].transpose(1, 0, 2),  # right side, bottom
        8: np.rot90(upright, -1),  # left side, bottom
    }[orientation]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_an_upright_picture(orientation):
    upright = quadrants()
    stored = Image.fromarray(np.ascontiguousarray(stored_for_orientation(upright, orientation)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    for src in (data, Image.open(io.BytesIO(data))):  # bytes, and a PIL image opened by someone else
        loaded = load_image(src)
        assert loaded.image.size == (48, 32)
        for y, x in ((4, 4), (4, 40), (28, 4), (28, 40)):
            assert_close(np.asarray(loaded.image)[y, x], upright[y, x])


def test_loaded_image_is_plain_data():
    loaded = load_image(encode(Image.new("RGB", (5, 4), RED), "PNG"))
    assert isinstance(loaded, LoadedImage) and (loaded.width, loaded.height) == (5, 4)
    with pytest.raises(AttributeError):
        loaded.notes = ("x",)
