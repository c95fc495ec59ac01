"""visualization/player.py + assets/player.js: the synced player in headless Chromium, served by a real Gradio app.

One page holds two players (points and tracks over the original clip; the annotated MP4 with masks), which also
checks that players on one page do not interfere.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from media_fixtures import SceneObject, scene_frames, write_video
from visualization import render_annotated_video
from visualization.overlay import MARKER_FRACTION, MARKER_MIN
from visualization.palette import hex_colour, id_colour
from visualization.player import player_value, video_player

WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 30, 4.0
BALL = SceneObject(1, (200, 200, 200), 20, x0=80, y0=90, x1=560, y1=90)
FRAME_TIMES = [0.5 * i for i in range(9)]
DOT, BALL_ID = id_colour(0), id_colour(4)  # the "dot" label's colour, track 4's colour


def answer() -> dict:
    ball = [{"key": t, "id": 4, "x": BALL.position(t, SECONDS)[0] / WIDTH, "y": 0.25} for t in (0, 0.5, 1, 1.5, 3, 3.5)]
    return {"objects": [
        {"kind": "points", "label": "dot", "alt": None, "points": [{"key": 1.0, "id": 1, "x": 0.25, "y": 0.6},
                                                                 {"key": 2.5, "id": 2, "x": 0.75, "y": 0.8}]},
        {"kind": "tracks", "label": "ball", "alt": None, "points": ball},
    ], "count": 2, "warnings": []}  # fmt: skip


def masks() -> dict:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[60:120, 60:140] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    entry = {"rle": {"size": [HEIGHT, WIDTH], "counts": rle["counts"].decode()}, "bbox": [60, 60, 80, 60], "area": 4800}
    times = [i / FPS for i in range(round(FPS * SECONDS))]
    return {"info": {"width": WIDTH, "height": HEIGHT, "frame_times": times},
            "objects": {"4": {"label": "ball", "frames": {str(i): entry for i in range(0, 45, 3)}}}}  # fmt: skip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("player")
    clip = write_video(folder / "clip.mp4", scene_frames(WIDTH, HEIGHT, FPS, SECONDS, [BALL]), FPS)
    frames = ((i, i / FPS, image) for i, image in enumerate(scene_frames(WIDTH, HEIGHT, FPS, SECONDS, [BALL])))
    annotated = render_annotated_video(frames, answer(), masks(), out=folder / "annotated.mp4", fps=FPS,
                                       frame_times=FRAME_TIMES)  # fmt: skip
    return clip, annotated


@pytest.fixture(scope="module")
def app_url(clips):
    import gradio as gr

    clip, annotated = clips
    with gr.Blocks() as demo:
        video_player(player_value(clip, answer(), frame_times=FRAME_TIMES, duration=SECONDS, size=(WIDTH, HEIGHT)),
                     elem_classes="points")  # fmt: skip
        video_player(player_value(clip, answer(), frame_times=FRAME_TIMES, masks=masks(), mask_video=annotated),
                     elem_classes="masks")  # fmt: skip
        later = video_player(None, elem_classes="later")  # filled by an event handler, as the ui tabs do
        answers = itertools.cycle([answer(), {"objects": answer()["objects"][:1]}])
        gr.Button("Answer", elem_id="answer").click(lambda: player_value(clip, next(answers)), outputs=later)
    demo.launch(prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


def open_player(page, url: str, which: str = "points"):
    page.goto(url)
    root = page.locator(f".{which} .m2p")
    root.wait_for(timeout=30_000)
    page.wait_for_function(f"document.querySelector('.{which} .m2p video').readyState >= 2", timeout=30_000)
    return root


SEEK = """async ([which, t]) => {
  const video = document.querySelector(`.${which} .m2p video`);
  await new Promise((done) => { video.addEventListener("seeked", done, { once: true }); video.currentTime = t; });
  await new Promise(requestAnimationFrame);
  return video.currentTime;
}"""

# Canvas pixel at (x, y) of the picture (0-1) plus (dx, dy) marker radii, where the picture is the video's
# letterboxed rectangle inside the canvas (object-fit: contain), in device pixels.
CANVAS_PIXEL = """([which, x, y, dx, dy, fraction, least]) => {
  const root = document.querySelector(`.${which} .m2p`);
  const video = root.querySelector("video"), canvas = root.querySelector("canvas");
  const w = canvas.clientWidth, h = canvas.clientHeight, ratio = canvas.width / w;
  const scale = Math.min(w / video.videoWidth, h / video.videoHeight);
  const bw = video.videoWidth * scale, bh = video.videoHeight * scale;
  const r = Math.max(least, fraction * Math.min(bw, bh));
  const px = ((w - bw) / 2 + x * bw + dx * r) * ratio, py = ((h - bh) / 2 + y * bh + dy * r) * ratio;
  return Array.from(canvas.getContext("2d").getImageData(Math.round(px), Math.round(py), 1, 1).data);
}"""


def canvas_pixel(page, x, y, dx=0.0, dy=0.0, which="points"):
    return page.evaluate(CANVAS_PIXEL, [which, x, y, dx, dy, MARKER_FRACTION, MARKER_MIN])


def is_colour(rgba, rgb) -> bool:
    return rgba[3] == 255 and max(abs(a - b) for a, b in zip(rgba, rgb)) <= 3


def current_time(page, which="points") -> float:
    return page.evaluate(f"document.querySelector('.{which} .m2p video').currentTime")


def test_player_value_is_plain_data(clips):
    clip, annotated = clips
    value = player_value(clip, answer(), frame_times=FRAME_TIMES, masks=masks(), mask_video=annotated)
    assert json.loads(json.dumps(value)) == value
    assert value["video"] == {"path": str(annotated), "meta": {"_type": "gradio.FileData"}} and value["annotated"]
    assert [(p["t"], p["colour"]) for p in value["points"]] == [(1.0, hex_colour(DOT)), (2.5, hex_colour(DOT))]
    (track,) = value["tracks"]
    assert track["colour"] == hex_colour(BALL_ID) and [(r["start"], r["end"]) for r in track["runs"]] == [
        (0.0, 1.75), (2.75, 3.75)]  # fmt: skip
    assert value["masks"] == [{"id": 4, "colour": hex_colour(BALL_ID), "spans": [[0.0, pytest.approx(1.5)]]}]
    assert value["firsts"] == [0.0, 1.0, 2.5] and value["total"] == 3
    assert player_value("https://example.org/v.mp4", answer())["video"] == "https://example.org/v.mp4"


def test_film_strip_holds_the_frames_seen_and_the_evidence_on_each(tmp_path):
    from PIL import Image

    from visualization.filmstrip import strip_frames, write_film_strip
    from visualization.marks import video_evidence

    shades = [20 * k for k in range(len(FRAME_TIMES))]
    thumbnails = np.stack([np.full((80, 142, 3), shade, np.uint8) for shade in shades])
    strip = write_film_strip(thumbnails, FRAME_TIMES, tmp_path / "frames_seen.jpg")
    row = np.asarray(Image.open(strip.path))
    assert row.shape == (80, 142 * len(FRAME_TIMES), 3) and (strip.frame_width, strip.frame_height) == (142, 80)
    assert [abs(int(row[40, 142 * k + 71, 0]) - shade) <= 3 for k, shade in enumerate(shades)] == [True] * 9
    frames = strip_frames(strip, video_evidence(answer(), FRAME_TIMES))
    assert [f["t"] for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.5, 3.0, 3.5]  # points at 1 and 2.5, ball keyframes
    at_one = next(f for f in frames if f["t"] == 1.0)
    assert sorted(d[3] for d in at_one["dots"]) == [1, 4] and at_one["i"] == 2
    assert hex_colour(DOT) in [d[2] for d in at_one["dots"]]
    sparse = write_film_strip(thumbnails[:2], [0.0, 4.0], tmp_path / "sparse.jpg")
    far = strip_frames(sparse, video_evidence(answer(), FRAME_TIMES))  # a point more than 0.25 s away has no frame
    assert [(f["t"], [d[3] for d in f["dots"]]) for f in far] == [(0.0, [4])]
    with pytest.raises(ValueError):
        write_film_strip(thumbnails, FRAME_TIMES[:3], tmp_path / "bad.jpg")
    # 384 frames of a 2.39:1 video do not fit one JPEG row (65,535 px): they wrap into a second row
    wide = np.zeros((384, 80, 191, 3), np.uint8)
    wide[-1] = 200  # the last frame, at the start of row 2
    many = write_film_strip(wide, [0.5 * i for i in range(384)], tmp_path / "wide.jpg")
    assert many.columns == 340 and len(many.times) == 384 and many.cell(383) == (43 * 191, 80)
    sheet = np.asarray(Image.open(many.path))
    assert sheet.shape == (160, 340 * 191, 3) and sheet[120, 43 * 191 + 95, 0] > 190 and sheet[40, 95, 0] < 10


@pytest.mark.browser
def test_annotated_mp4_plays_in_chromium(page, app_url, screenshot):
    open_player(page, app_url, "masks")
    state = page.evaluate("""async () => {
      const video = document.querySelector('.masks .m2p video');
      await video.play();
      await new Promise((done) => setTimeout(done, 600));
      video.pause();
      return {ready: video.readyState, error: video.error, duration: video.duration, t: video.currentTime};
    }""")
    assert state["ready"] >= 2 and state["error"] is None and state["t"] > 0.2
    assert state["duration"] == pytest.approx(SECONDS, abs=0.05)
    assert page.locator(".masks .m2p-mask").count() == 1  # mask coverage stripe in track 4's lane
    assert page.locator(".masks .m2p-download").get_attribute("download") == "annotated.mp4"
    page.evaluate(SEEK, ["masks", 1.0])
    screenshot(page, "player-masks")


@pytest.mark.browser
def test_clicking_a_marker_seeks_and_the_canvas_draws_there(page, app_url, screenshot):
    open_player(page, app_url)
    assert not is_colour(canvas_pixel(page, 0.25, 0.6, dx=0.5), DOT)  # t = 0: the point is not due yet
    page.locator(".points .m2p-mark").first.click()
    page.wait_for_function("document.querySelector('.points .m2p video').currentTime === 1")
    page.evaluate(SEEK, ["points", 1.0])
    assert is_colour(canvas_pixel(page, 0.25, 0.6, dx=0.5), DOT)
    ball_x = BALL.position(1.0, SECONDS)[0] / WIDTH
    assert is_colour(canvas_pixel(page, ball_x, 0.25, dx=0.5), BALL_ID)  # observed: a filled disc
    assert "count 2 / 3" in page.locator(".points .m2p-count").inner_text()
    screenshot(page, "player-points")
    page.evaluate(SEEK, ["points", 1.25])  # between keyframes 1.0 and 1.5: a hollow ring
    ball_x = BALL.position(1.25, SECONDS)[0] / WIDTH
    assert is_colour(canvas_pixel(page, ball_x, 0.25, dx=0.85), BALL_ID)
    assert canvas_pixel(page, ball_x, 0.25)[3] == 0  # the video shows through
    page.evaluate(SEEK, ["points", 2.0])  # the point's window has closed and the track is lost
    assert page.evaluate("""() => {
      const canvas = document.querySelector('.points .m2p canvas');
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      return pixels.every((v, i) => i % 4 !== 3 || v === 0);
    }""")


# Page coordinates of (x, y) of the picture (0-1), the video's letterboxed rectangle inside the stage.
PAGE_POINT = """([which, x, y]) => {
  const root = document.querySelector(`.${which} .m2p`);
  const video = root.querySelector("video"), stage = root.querySelector(".m2p-stage").getBoundingClientRect();
  const scale = Math.min(stage.width / video.videoWidth, stage.height / video.videoHeight);
  const bw = video.videoWidth * scale, bh = video.videoHeight * scale;
  return [stage.left + (stage.width - bw) / 2 + x * bw, stage.top + (stage.height - bh) / 2 + y * bh];
}"""


@pytest.mark.browser
def test_hovering_a_mark_tells_its_id_time_and_coordinates(page, app_url, screenshot):
    open_player(page, app_url)
    page.evaluate(SEEK, ["points", 1.0])
    tip = page.locator(".points .m2p-tip")
    page.mouse.move(*page.evaluate(PAGE_POINT, ["points", 0.25, 0.6]))
    tip.wait_for(state="visible")
    assert tip.inner_text().split("\n") == ["#1 dot · 1.00 s", "x 160, y 216 px", "(250, 600) of 1000"]
    screenshot(page, "player-hover")
    page.evaluate(SEEK, ["points", 1.25])  # the ball between keyframes: its interpolated position
    ball_x = BALL.position(1.25, SECONDS)[0] / WIDTH
    page.mouse.move(*page.evaluate(PAGE_POINT, ["points", ball_x, 0.25]))
    page.wait_for_function("document.querySelector('.points .m2p-tip').innerText.includes('#4 ball')")
    assert "between keyframes" in tip.inner_text() and f"x {round(ball_x * WIDTH)}, y 90 px" in tip.inner_text()
    page.mouse.move(*page.evaluate(PAGE_POINT, ["points", 0.6, 0.9]))  # nothing there
    tip.wait_for(state="hidden")
    page.evaluate(SEEK, ["masks", 1.0])  # burned-in marks (annotated video) can be hovered too; no pixel size given
    page.locator(".masks .m2p-stage").scroll_into_view_if_needed()
    page.mouse.move(*page.evaluate(PAGE_POINT, ["masks", 0.25, 0.6]))
    masks_tip = page.locator(".masks .m2p-tip")
    masks_tip.wait_for(state="visible")
    assert masks_tip.inner_text().split("\n") == ["#1 dot · 1.00 s", "(250, 600) of 1000"]


@pytest.mark.browser
def test_arrow_keys_buttons_and_lanes_navigate(page, app_url):
    open_player(page, app_url)
    root = page.locator(".points .m2p")
    root.focus()
    stops = []
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowLeft"):
        page.keyboard.press(key)
        stops.append(current_time(page))
    assert stops == [0.5, 1.0, 1.5, 1.0]  # point and keyframe times
    page.locator(".points .m2p-next").click()
    page.locator(".points .m2p-next").click()
    assert current_time(page) == 2.5
    page.locator(".points .m2p-prev").click()
    assert current_time(page) == 1.5
    assert current_time(page, "masks") == 0  # the other player did not move
    lane = page.locator(".points .m2p-lane").nth(2)  # "frames seen": no markers, the lane itself seeks
    box = lane.bounding_box()
    lane.click(position={"x": 0.75 * box["width"], "y": box["height"] / 2})
    assert current_time(page) == pytest.approx(3.0, abs=0.02)


@pytest.mark.browser
def test_a_handler_fills_and_replaces_a_player(page, app_url):
    page.goto(app_url)
    page.locator("#answer").click()
    page.wait_for_function("document.querySelector('.later .m2p video')?.readyState >= 2", timeout=30_000)
    assert page.locator(".later .m2p-count").inner_text() == "count 1 / 3"
    assert page.locator(".later .m2p-lane").count() == 2  # points and the ball's lane (no frame times given)
    page.locator("#answer").click()  # a new value rebuilds the player instead of stacking a second one
    page.wait_for_function("document.querySelector('.later .m2p-count').textContent === 'count 0 / 2'")
    page.wait_for_function("document.querySelectorAll('.later .m2p-lane').length === 1")  # after the metadata
    assert page.locator(".later .m2p").count() == 1


@pytest.mark.browser
def test_letterboxed_player_keeps_points_on_the_picture(browser, app_url, screenshot):
    context = browser.new_context(viewport={"width": 1280, "height": 560})  # the stage is capped at 70% height
    page = context.new_page()
    open_player(page, app_url)
    size = page.evaluate("(() => { const c = document.querySelector('.points .m2p canvas'); "
                         "return [c.clientWidth, c.clientHeight]; })()")  # fmt: skip
    assert size[0] / size[1] > 16 / 9 + 0.3  # pillarboxed: the picture does not fill the stage
    page.evaluate(SEEK, ["points", 2.5])
    assert is_colour(canvas_pixel(page, 0.75, 0.8, dx=0.5), DOT)
    screenshot(page, "player-letterboxed")
    context.close()


@pytest.mark.browser
def test_player_and_timeline_at_phone_width(phone, app_url, screenshot):
    page = phone
    open_player(page, app_url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    widths = page.evaluate("""(() => {
      const root = document.querySelector('.points .m2p');
      const lane = root.querySelector('.m2p-lane').getBoundingClientRect();
      const next = root.querySelector('.m2p-next').getBoundingClientRect();
      return [root.getBoundingClientRect().right, lane.width, next.height];
    })()""")
    assert widths[0] <= 390 and widths[1] > 200 and widths[2] >= 40  # lanes usable, buttons finger-sized
    page.locator(".points .m2p-mark").nth(1).tap()
    page.wait_for_function("document.querySelector('.points .m2p video').currentTime === 2.5")
    page.evaluate(SEEK, ["points", 2.5])
    assert is_colour(canvas_pixel(page, 0.75, 0.8, dx=0.5), DOT)  # device pixels: the canvas is 2x its CSS size
    screenshot(page, "player-phone")
