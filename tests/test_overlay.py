"""visualization/overlay.py: numbered markers and masks drawn into images, one overlay per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from visualization.overlay import legend_html, marker_radius, overlay_images
from visualization.palette import id_colour


def picture(width: int, height: int, shade: int) -> Image.Image:
    return Image.new("RGB", (width, height), (shade, shade, shade))


def multi_image_answer() -> dict:
    return {"objects": [
        {"kind": "points", "label": "cat", "points": [{"key": 1, "id": 1, "x": 0.25, "y": 0.5},
                                                     {"key": 2, "id": 2, "x": 0.5, "y": 0.25},
                                                     {"key": 2, "id": 3, "x": 0.75, "y": 0.75}]},
        {"kind": "points", "label": "<b>dog</b>", "points": [{"key": 2, "id": 4, "x": 0.25, "y": 0.75}]},
    ], "count": 4, "warnings": []}  # fmt: skip


ARTIFACTS = Path(__file__).parent / "artifacts"


def pixel(image: Image.Image, x: float, y: float) -> np.ndarray:
    return np.asarray(image)[round(y), round(x)].astype(int)


def test_one_overlay_per_image_with_its_own_count_and_legend():
    light, dark = picture(400, 300, 235), picture(400, 300, 15)
    first, second = overlay_images([light, np.asarray(dark)], multi_image_answer())
    assert (first.count, second.count) == (1, 3)
    assert [(e.label, e.count) for e in second.legend] == [("cat", 2), ("<b>dog</b>", 1)]
    r = marker_radius(400, 300)
    cat, dog = np.array(id_colour(0)), np.array(id_colour(1))
    # Marker colour beside the number, a dark halo just outside, the background further out.
    assert np.abs(pixel(first.image, 100 + 0.55 * r, 150) - cat).max() <= 2
    assert pixel(first.image, 100 + r + 1, 150).max() < 40  # halo reads on the light image
    assert np.abs(pixel(second.image, 100 + 0.55 * r, 225) - dog).max() <= 2
    assert np.abs(pixel(second.image, 200 + 0.55 * r, 75) - cat).max() <= 2
    assert pixel(second.image, 200 + r, 75).min() > 200  # white rim reads on the dark image
    assert pixel(first.image, 200, 75).tolist() == [235, 235, 235]  # image 2's point is not on image 1
    assert np.asarray(light).max() == 235  # inputs untouched
    ARTIFACTS.mkdir(exist_ok=True)
    side_by_side = np.concatenate([np.asarray(first.image), np.asarray(second.image)], axis=1)
    Image.fromarray(side_by_side).save(ARTIFACTS / "overlay-multi-image.png")


def test_markers_scale_with_the_image():
    answer = {"objects": [{"kind": "points", "label": "x", "points": [{"key": 1, "id": 1, "x": 0.5, "y": 0.5}]}]}
    areas = []
    for width, height in ((480, 360), (1920, 1440)):
        (overlay,) = overlay_images([picture(width, height, 128)], answer)
        areas.append(int((np.asarray(overlay.image) != 128).any(axis=2).sum()))
    assert 12 < areas[1] / areas[0] < 20  # four times the size, about sixteen times the area


def test_masks_are_tinted_and_outlined_in_their_id_colour():
    mask = np.zeros((300, 400), bool)
    mask[100:200, 50:250] = True
    (overlay,) = overlay_images([picture(400, 300, 100)], multi_image_answer(), masks=[{1: mask}])
    image, cat = np.asarray(overlay.image).astype(int), np.array(id_colour(0))
    assert np.abs(image[150, 200] - (0.55 * 100 + 0.45 * cat)).max() <= 1  # tinted inside
    assert image[100, 200].tolist() == cat.tolist() and image[101, 200].tolist() == cat.tolist()  # outline
    assert np.abs(image[102, 200] - (0.55 * 100 + 0.45 * cat)).max() <= 1
    assert image[99, 200].tolist() == [100, 100, 100]  # untouched outside


def test_legend_html_escapes_labels():
    (_, second) = overlay_images([picture(40, 30, 0), picture(40, 30, 0)], multi_image_answer())
    html = legend_html(second.legend)
    assert "cat (2)" in html and "&lt;b&gt;dog&lt;/b&gt; (1)" in html and "<b>" not in html
    assert "#e69f00" in html and "#56b4e9" in html
