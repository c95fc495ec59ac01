"""Marks drawn into pictures: numbered markers, track dots, masks with outlines, and one overlay per input image.

annotated_video draws every video frame with the same primitives. Sizes follow the picture, not fixed pixels;
every mark has a dark halo and a white ring so it reads on light and dark backgrounds alike.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from visualization.marks import LegendEntry, Point, image_points, legend
from visualization.palette import RGB, hex_colour, id_colour, ink

HALO: RGB = (20, 20, 20)
WHITE: RGB = (255, 255, 255)
MASK_ALPHA = 0.45
# Marker radius: 2.5% of the picture's shorter side (18 px at 720p), never below 8 px; the player uses the same.
MARKER_FRACTION, MARKER_MIN = 0.025, 8.0


@dataclass(frozen=True)
class ImageOverlay:
    image: Image.Image  # the input picture with masks and numbered markers drawn in
    count: int  # distinct ids pointed at in this image
    legend: tuple[LegendEntry, ...]


def marker_radius(width: int, height: int) -> float:
    return max(MARKER_MIN, MARKER_FRACTION * min(width, height))


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(6, size))


def draw_marker(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, rgb: RGB, text: str, filled: bool = True):
    """A numbered disc (an observed point) or a hollow ring with its id beside it (an interpolated track position,
    leaving the object visible through it), centred on (x, y)."""
    halo = max(1, round(r / 6))
    if filled:
        draw.ellipse(_box(x, y, r + halo), fill=HALO)
        draw.ellipse(_box(x, y, r), fill=rgb, outline=WHITE, width=halo)
        draw.text((x, y), text, fill=ink(rgb), font=font(round(r * (1.1 if len(text) <= 2 else 0.8))), anchor="mm")
    else:
        ring = max(2, round(r / 4))
        draw.ellipse(_box(x, y, r + halo), outline=HALO, width=ring + 2 * halo)
        draw.ellipse(_box(x, y, r), outline=rgb, width=ring)
        draw.text(
            (x + r, y - r), text, fill=WHITE, font=font(round(r)), anchor="lb", stroke_width=halo, stroke_fill=HALO
        )


def _box(x: float, y: float, r: float) -> tuple[float, float, float, float]:
    return (x - r, y - r, x + r, y + r)


@dataclass(frozen=True)
class MaskPatch:
    """A mask cropped to its bounding box with its outline worked out once, so it is cheap to draw on each frame."""

    top: int
    left: int
    inside: np.ndarray  # bool [h, w]
    outline: np.ndarray  # bool [h, w]: the inside pixels within 2 pixels of the edge


def mask_patch(mask: np.ndarray) -> MaskPatch | None:
    """Crop a boolean [H, W] mask to its bounding box; None when it is empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    inside = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return MaskPatch(int(rows[0]), int(cols[0]), inside, inside & ~_erode(_erode(inside)))


def blend_masks(frame: np.ndarray, patches: Sequence[tuple[MaskPatch, RGB]]) -> None:
    """Tint each mask's pixels with its colour and draw its outline in full colour, in place."""
    for patch, rgb in patches:
        height, width = patch.inside.shape
        pixels = frame[patch.top : patch.top + height, patch.left : patch.left + width]
        tinted = pixels * np.float32(1 - MASK_ALPHA) + np.array(rgb, dtype=np.float32) * MASK_ALPHA
        np.copyto(pixels, tinted.astype(np.uint8), where=patch.inside[..., None])  # 3x faster than fancy indexing
        pixels[patch.outline] = rgb


def _erode(mask: np.ndarray) -> np.ndarray:
    """4-neighbour erosion; pixels on the region's border count as outside."""
    out = mask.copy()
    out[1:] &= mask[:-1]
    out[:-1] &= mask[1:]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    out[0], out[-1], out[:, 0], out[:, -1] = False, False, False, False
    return out


def draw_points(image: Image.Image, points: Sequence[Point], masks: Mapping[int, np.ndarray] | None = None):
    """A copy of `image` with masks (id -> boolean [H, W]) blended in and a numbered marker per point."""
    frame = np.array(image.convert("RGB"))
    if masks:
        slots = {p.id: p.slot for p in points}
        patches = [(mask_patch(mask), id_colour(slots.get(id, id))) for id, mask in masks.items()]
        blend_masks(frame, [(patch, rgb) for patch, rgb in patches if patch is not None])
    out = Image.fromarray(frame)
    draw, r = ImageDraw.Draw(out), marker_radius(*out.size)
    for p in points:
        draw_marker(draw, p.x * out.width, p.y * out.height, r, id_colour(p.slot), str(p.id))
    return out


def overlay_images(
    images: Sequence[Image.Image | np.ndarray],
    grounding: Any,
    masks: Sequence[Mapping[int, np.ndarray] | None] | None = None,
) -> list[ImageOverlay]:
    """One overlay per input image (grounding keys are 1-based image indices), each with its own count."""
    by_image = image_points(grounding)
    overlays = []
    for index, image in enumerate(images, start=1):
        picture = Image.fromarray(image) if isinstance(image, np.ndarray) else image
        points = by_image.get(index, ())
        image_masks = masks[index - 1] if masks and index <= len(masks) else None
        overlays.append(
            ImageOverlay(draw_points(picture, points, image_masks), len({p.id for p in points}), legend(points))
        )
    return overlays


def legend_html(entries: Sequence[LegendEntry]) -> str:
    """The legend as HTML chips, a swatch in the id colour and "label (N)"; styled inline so it needs no CSS."""
    chips = "".join(
        '<span class="m2-legend-chip" style="display:inline-flex;align-items:center;gap:.35em;margin-right:1em">'
        f'<span style="width:.9em;height:.9em;border-radius:50%;background:{hex_colour(id_colour(e.slot))}">'
        f"</span>{html.escape(e.label)} ({e.count})</span>"
        for e in entries
    )
    return f'<div class="m2-legend">{chips}</div>'
