"""visualization/picture.py + assets/picture.js: drawn pictures whose markers tell their id, label and coordinates
on hover, keyboard focus or tap; in headless Chromium, served by a real Gradio app."""

from __future__ import annotations

import numpy as np
import pytest

from visualization.overlay import overlay_images
from visualization.palette import hex_colour, id_colour
from visualization.picture import picture_value, picture_view

SIZES = [(800, 600), (300, 500)]


def answer() -> dict:
    """Two cats on image 1 (one near its top-right corner), a dog on image 2."""
    return {"objects": [
        {"kind": "points", "label": "cat", "alt": None, "points": [{"key": 1, "id": 1, "x": 0.25, "y": 0.5},
                                                                 {"key": 1, "id": 2, "x": 0.95, "y": 0.05}]},
        {"kind": "points", "label": "dog", "alt": None, "points": [{"key": 2, "id": 3, "x": 0.5, "y": 0.75}]},
    ], "count": 3, "warnings": []}  # fmt: skip


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> list:
    folder = tmp_path_factory.mktemp("pictures")
    pictures = [np.full((h, w, 3), shade, np.uint8) for (w, h), shade in zip(SIZES, (235, 30))]  # light, dark
    paths = []
    for k, overlay in enumerate(overlay_images(pictures, answer()), start=1):
        overlay.image.save(folder / f"overlay_{k}.png")
        paths.append(folder / f"overlay_{k}.png")
    return paths


def test_value_has_pixels_thousandths_colours_and_counts(drawn):
    value = picture_value(drawn, answer(), captions=True)
    first, second = value["pictures"]
    assert (first["width"], first["height"], second["width"], second["height"]) == (800, 600, 300, 500)
    assert [p["px"] for p in first["points"]] == [[200, 300], [760, 30]]
    assert [p["k"] for p in first["points"]] == [[250, 500], [950, 50]]
    assert first["caption"] == "Image 1: 2" and second["caption"] == "Image 2: 1"
    assert first["points"][0]["colour"] == hex_colour(id_colour(0))  # the label's slot, as drawn in the PNG
    assert second["points"][0]["colour"] != first["points"][0]["colour"]
    assert first["src"]["meta"]["_type"] == "gradio.FileData"
    assert picture_value(drawn[:1], answer())["pictures"][0]["caption"] == ""  # one picture: no caption
    assert picture_value([], empty="nothing yet") == {"pictures": [], "marker": value["marker"], "empty": "nothing yet"}


@pytest.fixture(scope="module")
def app_url(drawn):
    import gradio as gr

    with gr.Blocks() as demo:
        picture_view(picture_value(drawn[:1], answer()), elem_classes="one")
        picture_view(picture_value(drawn, answer(), captions=True), elem_classes="set")
        picture_view(picture_value([], empty="Your image appears here."), elem_classes="none")
    demo.launch(prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


CENTRES = """(which) => [...document.querySelectorAll(which + ' .m2i-frame')].map((frame) => {
  const img = frame.querySelector('img').getBoundingClientRect();
  return [[img.left, img.top, img.width, img.height],
          [...frame.querySelectorAll('.m2i-point')].map((b) => {
            const r = b.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, r.width];
          })];
})"""


def _open(page, url: str):
    page.goto(url)
    page.locator(".set .m2i-point").nth(2).wait_for(timeout=30_000)
    page.wait_for_function("[...document.querySelectorAll('.m2i-img')].every((i) => i.complete && i.naturalWidth)")


def _assert_targets_on_markers(page, which: str):
    expected = [[(0.25, 0.5), (0.95, 0.05)], [(0.5, 0.75)]]
    for (img, targets), points in zip(page.evaluate(CENTRES, which), expected):
        left, top, width, height = img
        assert len(targets) == len(points)
        for (cx, cy, size), (x, y) in zip(targets, points):
            assert abs(cx - (left + x * width)) < 1.5 and abs(cy - (top + y * height)) < 1.5
            assert size >= 24  # finger-sized, and at least the drawn marker


@pytest.mark.browser
def test_hover_tells_id_label_and_coordinates(page, app_url, screenshot):
    _open(page, app_url)
    _assert_targets_on_markers(page, ".set")
    _assert_targets_on_markers(page, ".one")
    tip = page.locator(".one .m2i-tip")
    assert tip.is_hidden()
    page.locator(".one .m2i-point").first.hover()
    tip.wait_for(state="visible")
    assert tip.inner_text().split("\n") == ["#1 cat", "x 200, y 300 px", "(250, 500) of 1000"]
    page.mouse.move(5, 5)
    tip.wait_for(state="hidden")
    page.locator(".one .m2i-point").first.click()  # pinned: stays after the mouse leaves ...
    page.mouse.move(5, 5)
    assert tip.is_visible()
    page.keyboard.press("Escape")  # ... until Escape
    tip.wait_for(state="hidden")
    page.locator(".set .m2i-point").nth(2).focus()  # keyboard users get the same
    assert "#3 dog" in page.locator(".set .m2i-tip").nth(1).inner_text()
    assert page.locator(".set .m2i-count").all_inner_texts() == ["Image 1: 2", "Image 2: 1"]
    assert page.locator(".none .m2i-empty").inner_text() == "Your image appears here."
    page.locator(".one .m2i-point").first.hover()
    screenshot(page, "picture-hover")


@pytest.mark.browser
def test_tap_at_phone_width_pins_a_tooltip_that_stays_on_screen(phone, app_url, screenshot):
    page = phone
    _open(page, app_url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _assert_targets_on_markers(page, ".set")
    corner = page.locator(".set .m2i-point").nth(1)  # near the top-right corner: the tip opens down and left
    corner.tap()
    tip = page.locator(".set .m2i-tip").first
    tip.wait_for(state="visible")
    assert "#2 cat" in tip.inner_text() and "x 760, y 30 px" in tip.inner_text()
    box = tip.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert box["y"] > corner.bounding_box()["y"]  # below the marker, not off the top of the picture
    page.locator(".set .m2i-img").first.tap(position={"x": 30, "y": 150})  # a tap elsewhere on the picture unpins
    tip.wait_for(state="hidden")
    corner.tap()
    tip.wait_for(state="visible")
    corner.tap()  # so does a second tap on the same marker
    tip.wait_for(state="hidden")
    screenshot(page, "picture-phone")
