"""Pictures with the answer drawn in, shown by a gr.HTML element (assets/picture.js, assets/picture.css) that adds
what a burned-in PNG cannot: hover over or tap a marker to read its id, label and coordinates, in pixels of the
original picture and in Molmo2's 0-1000 scale. One element shows one picture (Image tab) or a grid of them, each
with its own count (Multi-image tab, rated image answers).

The marks themselves stay burned into the pictures (visualization.overlay), so what is shown is what is exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from inference.grounding import point_pixels
from visualization.frontend import html_element, script, style
from visualization.marks import image_points
from visualization.overlay import MARKER_FRACTION, MARKER_MIN
from visualization.palette import hex_colour, id_colour, ink

PICTURE_CSS = style("picture.css")
PICTURE_JS = script("picture.js", mount="""
const mount = () => mountPointPicture(element, props.value);
mount();
watch("value", mount);
""")  # fmt: skip


def picture_value(
    pictures: Sequence[str | Path],
    grounding: Any = None,
    *,
    captions: bool = False,
    empty: str = "",
) -> dict[str, Any]:
    """Data for picture_view: picture k (1-based, as grounding keys count images) with the points on it.

    pictures: image files (PNG/JPEG) as drawn, the same size as the originals the coordinates refer to.
    captions: "Image k: N" under each picture (N = distinct ids on it), for sets of images.
    empty: text to show when there is no picture.
    """
    by_image = image_points(grounding) if grounding is not None else {}
    shown = []
    for k, path in enumerate(pictures, start=1):
        with Image.open(path) as picture:  # reads the header only
            width, height = picture.size
        points = by_image.get(k, ())
        shown.append(
            {
                "src": {"path": str(Path(path).resolve()), "meta": {"_type": "gradio.FileData"}},
                "width": width,
                "height": height,
                "caption": f"Image {k}: {len({p.id for p in points})}" if captions else "",
                "name": f"image_{k}{Path(path).suffix}",
                "points": [_point(p, width, height) for p in points],
            }
        )
    return {"pictures": shown, "marker": [MARKER_FRACTION, MARKER_MIN], "empty": empty}


def picture_view(value: dict[str, Any] | None = None, **kwargs: Any):
    """A gr.HTML showing `value` (from picture_value); a handler updates it by returning a new picture_value."""
    return html_element(value, "m2i-host", PICTURE_JS, PICTURE_CSS, **kwargs)


def _point(p, width: int, height: int) -> dict[str, Any]:
    x_px, y_px = point_pixels(p, width, height)
    rgb = id_colour(p.slot)
    return {
        "id": p.id,
        "label": p.label,
        "x": p.x,
        "y": p.y,
        "px": [round(x_px), round(y_px)],
        "k": [round(p.x * 1000), round(p.y * 1000)],  # as Molmo2 wrote them (§11.2)
        "colour": hex_colour(rgb),
        "ink": hex_colour(ink(rgb)),
    }
