"""Generated test media: synthetic scenes with objects at known positions, written with real encoders."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw


@dataclass(frozen=True)
class SceneObject:
    """A filled disc moving linearly from (x0, y0) to (x1, y1) (pixels) while visible in [appear, disappear)."""

    id: int
    colour: tuple[int, int, int]
    radius: int
    x0: float
    y0: float
    x1: float
    y1: float
    appear: float = 0.0
    disappear: float = float("inf")

    def position(self, t: float, duration: float) -> tuple[float, float] | None:
        """Centre at time t, or None while the object is not in the scene."""
        if not self.appear <= t < self.disappear:
            return None
        span = min(self.disappear, duration) - self.appear
        a = 0.0 if span <= 0 else (t - self.appear) / span
        return self.x0 + a * (self.x1 - self.x0), self.y0 + a * (self.y1 - self.y0)


def scene_frame(width: int, height: int, objects: Iterable[SceneObject], t: float, duration: float) -> np.ndarray:
    """One RGB frame [height, width, 3] uint8: a grey gradient background with the visible objects."""
    ramp = np.linspace(60, 140, width, dtype=np.float32)
    background = np.broadcast_to(ramp[None, :, None], (height, width, 3)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(background))
    draw = ImageDraw.Draw(image)
    for obj in objects:
        centre = obj.position(t, duration)
        if centre is not None:
            x, y, r = centre[0], centre[1], obj.radius
            draw.ellipse([x - r, y - r, x + r, y + r], fill=obj.colour)
    return np.asarray(image)


def scene_frames(
    width: int, height: int, fps: float, seconds: float, objects: Iterable[SceneObject]
) -> Iterator[np.ndarray]:
    objects = list(objects)
    for i in range(round(seconds * fps)):
        yield scene_frame(width, height, objects, i / fps, seconds)


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames with PyAV (H.264 by default); the container follows the file suffix."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=_rate(fps))
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = pix_fmt
                stream.options = options or {}
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return path


def _rate(fps: float):
    from fractions import Fraction

    return Fraction(fps).limit_denominator(1001)


def png_bytes(
    width: int,
    height: int,
    *,
    bit_depth: int = 8,
    colour_type: int = 2,
    pixels: np.ndarray | None = None,
    chunks: Iterable[tuple[bytes, bytes]] = (),
) -> bytes:
    """A PNG written by hand: any bit depth / colour type, or only a header when `pixels` is None (a bomb's
    header costs nothing to write). `pixels` [H, W, C] (or [H, W]) with a dtype of the bit depth's width."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    out += b"".join(chunk(kind, data) for kind, data in chunks)
    if pixels is not None:
        rows = np.ascontiguousarray(pixels.astype(pixels.dtype.newbyteorder(">"))).reshape(height, -1).view(np.uint8)
        raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter type 0 on every row
        out += chunk(b"IDAT", zlib.compress(raw.tobytes()))
    return out + chunk(b"IEND", b"")


NUMBER_BITS = 10  # frame numbers up to 1023


def numbered_frame(index: int, width: int = 192, height: int = 108) -> np.ndarray:
    """[height, width, 3] uint8 showing `index` as black/white blocks across the top third (a white block, the bits
    most significant first, a black block) on grey, so decoded frames say which frame they are and which way up."""
    bits = [1, *((index >> b) & 1 for b in reversed(range(NUMBER_BITS))), 0]
    image = np.full((height, width, 3), 128, np.uint8)
    edges = np.linspace(0, width, len(bits) + 1).round().astype(int)
    for bit, left, right in zip(bits, edges[:-1], edges[1:]):
        image[: height // 3, left:right] = 255 * bit
    return image


def frame_number(image: np.ndarray) -> int | None:
    """The number numbered_frame drew, or None when the blocks are not where they belong (wrong way up)."""
    height, width = image.shape[:2]
    centres = (np.arange(NUMBER_BITS + 2) + 0.5) * width / (NUMBER_BITS + 2)
    bits = [int(image[height // 6, int(x)].mean() > 128) for x in centres]
    if bits[0] != 1 or bits[-1] != 0 or abs(int(image[height * 5 // 6, width // 2].mean()) - 128) > 30:
        return None
    return int("".join(map(str, bits[1:-1])), 2)


def write_timed_video(
    path: str | Path,
    times: Iterable[float],
    *,
    width: int = 192,
    height: int = 108,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    rotate: int = 0,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Frame i shows numbered_frame(i) from times[i] seconds on (1 ms resolution): variable frame rate when the gaps
    differ. `rotate` (clockwise degrees, as phones tag) stores every frame turned the other way and writes a display
    matrix that turns it back, so a correct player shows the numbers upright at width x height."""
    from fractions import Fraction

    path = Path(path)
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec)
        stream.codec_context.time_base = Fraction(1, 1000)
        stored = np.rot90(np.zeros((height, width)), rotate // 90).shape
        stream.height, stream.width = stored
        stream.pix_fmt = pix_fmt
        stream.options = options or {}
        if rotate:
            stream.set_display_rotation(-rotate)  # PyAV's angle is counter-clockwise
        for i, t in enumerate(times):
            image = np.ascontiguousarray(np.rot90(numbered_frame(i, width, height), rotate // 90))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
