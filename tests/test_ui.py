"""The app end to end in headless Chromium: every tab uploads generated media, asks, streams, draws, exports.

The app runs in this process on the tiny random-weight Molmo2 (and random SAM 2 at 256 px). Random weights never
point at anything, so the answers' text comes from a script (`Scripted`): preprocessing, prompt and everything
after the text (parsing, SAM 2, rendering, players, exports) are the real code.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from conftest import free_port
from inference.engine import GenerationResult, Molmo2Engine, TextStream
from inference.tiny import write_checkpoint
from media_fixtures import SceneObject, scene_frames, write_video
from test_player import CANVAS_PIXEL, SEEK, is_colour
from visualization.overlay import MARKER_FRACTION, MARKER_MIN, marker_radius
from visualization.palette import id_colour

pytestmark = pytest.mark.browser

W, H, FPS, SECONDS = 320, 240, 10, 2.0
BALL = SceneObject(1, (220, 50, 47), 18, x0=60, y0=120, x1=260, y1=120)
IMAGE_ANSWER = 'Counting the <points coords="1 1 250 300 2 700 600">red discs</points> shows a total of 2.'
SET_ANSWER = '<points coords="1 1 250 250 2 750 750;3 3 500 500">red discs</points>'
VIDEO_ANSWER = 'There are 2 <points coords="0.5 1 300 500;1.5 2 700 500">red balls</points>.'


def _track_answer() -> str:
    groups = []
    for t in (0.0, 0.5, 1.0, 1.5, 2.0):
        x, y = BALL.position(min(t, SECONDS - 0.05), SECONDS)
        groups.append(f"{t:.1f} 1 {round(1000 * x / W):03d} {round(1000 * y / H):03d}")
    return f'<tracks coords="{";".join(groups)}">red ball</tracks>'


class Scripted:
    """The real engine's preprocessing and prompt, with the answer text taken from `answers` by question."""

    def __init__(self, engine: Molmo2Engine, answers: dict[str, str]):
        self.engine, self.answers = engine, answers
        self.checkpoint, self.random_weights = engine.checkpoint, True

    def stream(self, request, cancel=None):
        batch = self.engine.processor(request)
        question = request.messages[-1]["content"][-1]["text"]
        text = self.answers.get(question, "A scripted plain answer.")
        holder: dict = {}

        def deltas():
            for i in range(0, len(text), 9):
                if cancel is not None and cancel.is_set():
                    break
                time.sleep(0.01)
                yield text[i : i + 9]
            holder["result"] = GenerationResult(
                text=text, token_ids=tuple(range(len(text) // 3)), finish_reason="stop",
                prompt_tokens=len(batch.input_ids), reused_tokens=0,
                timings={**batch.timings, "vision": 0.01, "prefill": 0.01, "decode": 0.1, "decode_tokens": 10,
                         "tokens_per_second": 100.0, "total": 0.2},
                frame_times=batch.frame_times, frame_indices=batch.frame_indices, media_sizes=batch.media_sizes,
                clip_start=batch.clip_start, video=batch.video_info, frame_thumbnails=batch.frame_thumbnails,
            )  # fmt: skip

        return TextStream(deltas(), holder)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui-media")
    clip = write_video(folder / "ball.mp4", scene_frames(W, H, FPS, SECONDS, [BALL]), FPS)
    not_an_image = folder / "notes.png"
    not_an_image.write_text("<html><script>alert(1)</script></html>")
    not_a_video = folder / "notes.mp4"
    not_a_video.write_text("just some text, renamed")
    assets = Path(__file__).resolve().parents[1] / "assets" / "examples"
    return SimpleNamespace(image=assets / "discs.png", set=[assets / f"set_{k}.png" for k in (1, 2, 3)], clip=clip,
                           bad=not_an_image, bad_video=not_a_video)  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from ui import CSS, build_demo
    from ui.backend import Backend
    from ui.model_slot import READY, ModelSlot

    engine = Molmo2Engine.load(write_checkpoint(tmp_path_factory.mktemp("tiny"), size="tiny"))
    scripted = Scripted(engine, {
        "Point to the red discs.": IMAGE_ANSWER, "Count the red discs in all images.": SET_ANSWER,
        "How many red balls appear?": VIDEO_ANSWER, "Track the red ball.": _track_answer(),
    })  # fmt: skip
    slot = ModelSlot("tiny-random", "cpu", "float32", lambda *_: scripted).start()
    while slot.status().state != READY:
        time.sleep(0.05)
    backend = Backend(slot, "tiny-random", "cpu", tmp_path_factory.mktemp("work"), time_limit=300)
    demo = build_demo(slot, backend)
    demo.queue(max_size=8, default_concurrency_limit=1)
    demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, css=CSS)
    yield SimpleNamespace(url=demo.local_url, scripted=scripted, real=engine, backend=backend)
    demo.close()


def _done(page, tab: str):
    """Wait for the tab's answer to finish; return its status text."""
    line = page.locator(f"#tab-{tab} .answer-status-line.done")
    line.wait_for(timeout=120_000)
    return line.inner_text()


def _open(page, app, tab: str, name: str):
    page.goto(app.url)
    page.locator(".model-status[data-state=ready]").wait_for(timeout=60_000)
    page.locator(f"#tab-{tab}-button").click()


def _ask(page, app, tab: str, path, question: str):
    """Open the tab, upload `path`, ask `question` (tabs whose elements are named <tab>-input, -question, -ask)."""
    _open(page, app, tab, tab)
    page.locator(f"#{tab}-input input[type=file]").set_input_files(str(path))
    page.fill(f"#{tab}-question textarea", question)
    page.click(f"#{tab}-ask")


def _fetch_image(page, selector: str) -> np.ndarray:
    src = page.locator(selector).get_attribute("src")
    return np.array(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"))


def _downloads(page, tab: str) -> dict[str, bytes]:
    links = page.locator(f"#tab-{tab} .answer-files a[download]")
    links.first.wait_for(timeout=30_000)
    out = {}
    for i in range(links.count()):
        link = links.nth(i)
        out[link.get_attribute("download") or link.inner_text()] = page.request.get(link.get_attribute("href")).body()
    return out


def test_image_tab_streams_draws_and_exports(app, media, page, screenshot):
    _open(page, app, "image", "Image")
    page.locator("#image-input input[type=file]").set_input_files(str(media.image))
    page.fill("#image-question textarea", "Point to the red discs.")
    page.click("#image-ask")
    assert "count 2" in _done(page, "image")
    assert "red discs" in page.locator("#image-chat").inner_text()
    overlay = _fetch_image(page, "#image-overlay img")
    r = marker_radius(overlay.shape[1], overlay.shape[0])
    for x, y in ((0.25, 0.30), (0.70, 0.60)):  # the marker's fill, beside its number
        pixel = overlay[round(y * overlay.shape[0]), round(x * overlay.shape[1] + 0.6 * r)]
        assert np.abs(pixel.astype(int) - id_colour(0)).max() <= 12, pixel
    page.locator("#image-overlay .m2i-point").first.hover()  # the marker tells its id and coordinates
    assert page.locator("#image-overlay .m2i-tip").inner_text().split("\n") == [
        "#1 red discs", f"x 160, y {round(0.30 * overlay.shape[0])} px", "(250, 300) of 1000"]  # fmt: skip
    table = page.locator("#tab-image .answer-table").inner_text()
    assert table.count("red discs") == 2, table
    files = _downloads(page, "image")
    names = set(zipfile.ZipFile(io.BytesIO(files["molmo2_answer.zip"])).namelist())
    assert {"answer.txt", "grounding.json", "points.csv", "overlay_1.png", "manifest.json"} <= names
    grounding = json.loads(files["grounding.json"])
    assert grounding["count"] == 2 and grounding["objects"][0]["points"][0]["x_px"] == pytest.approx(0.25 * 640)
    manifest = json.loads(files["manifest.json"])
    assert manifest["model"]["dtype"] == "float32" and manifest["prompt"] == "Point to the red discs."
    assert manifest["settings"]["max_crops"] == 8 and manifest["media"][0]["width"] == 640
    screenshot(page, "ui-image")


def test_multi_image_tab_counts_each_image_and_the_total(app, media, page, screenshot):
    _open(page, app, "multi_image", "Multi-image")
    page.locator("#multi-files input[type=file]").set_input_files([str(p) for p in media.set])
    page.fill("#multi-question textarea", "Count the red discs in all images.")
    page.click("#multi-ask")
    _done(page, "multi_image")
    captions = page.locator("#multi-overlays .m2i-count")
    captions.first.wait_for(timeout=30_000)
    assert [captions.nth(i).inner_text() for i in range(captions.count())] == ["Image 1: 2", "Image 2: 0", "Image 3: 1"]
    assert "Total: 3" in page.locator("#multi-total").inner_text()
    screenshot(page, "ui-multi-image")


def test_video_tab_player_points_chart_and_plan(app, media, page, screenshot):
    _open(page, app, "video", "Video")
    page.locator("#video-input input[type=file]").set_input_files(str(media.clip))
    page.locator("#tab-video .video-plan b").first.wait_for(timeout=60_000)
    assert "21 frames" not in page.locator("#tab-video .video-plan").inner_text()  # a 2 s clip: 5 frames
    assert "5 frames" in page.locator("#tab-video .video-plan").inner_text()
    page.fill("#video-question textarea", "How many red balls appear?")
    page.click("#video-ask")
    assert "count 2" in _done(page, "video")
    page.wait_for_function("document.querySelector('.video-player .m2p video').readyState >= 2", timeout=30_000)
    assert page.evaluate(SEEK, ["video-player", 1.5]) == pytest.approx(1.5, abs=0.05)
    pixel = page.evaluate(CANVAS_PIXEL, ["video-player", 0.7, 0.5, 0.6, 0, MARKER_FRACTION, MARKER_MIN])
    assert is_colour(pixel, id_colour(0)), pixel
    frames = page.locator(".video-player .m2p-frame")  # the film strip: the frames with points, as the model saw them
    assert frames.count() == 2 and frames.nth(1).get_attribute("data-t") == "1.5"
    frames.nth(0).click()
    page.wait_for_function("document.querySelector('.video-player .m2p video').currentTime === 0.5")
    page.wait_for_function("document.querySelector('.video-player .m2p-frame').classList.contains('m2p-frame-on')")
    page.locator("#tab-video .js-plotly-plot").first.wait_for(timeout=30_000)  # count over time
    assert "Count over time" in page.locator("#tab-video .js-plotly-plot").inner_text()
    screenshot(page, "ui-video")


def test_tracking_tab_masks_badge_and_annotated_video(app, media, page, screenshot):
    _open(page, app, "tracking", "Tracking")
    page.locator("#tracking-input input[type=file]").set_input_files(str(media.clip))
    page.fill("#tracking-question textarea", "Track the red ball.")
    page.click("#tracking-ask")
    _done(page, "tracking")
    badge = page.locator("#tracking-badge").inner_text()
    assert "Molmo2 counted 1" in badge and "SAM 2 followed 1" in badge
    page.wait_for_function("document.querySelector('.tracking-player .m2p video').readyState >= 2", timeout=30_000)
    assert page.locator(".tracking-player .m2p-download").count() == 1  # the annotated MP4 plays, downloadable
    files = _downloads(page, "tracking")
    assert {"masks_coco.json", "annotated.mp4"} <= set(files)
    coco = json.loads(files["masks_coco.json"])
    assert list(coco["objects"]) == ["1"] and coco["objects"]["1"]["frames"]
    page.locator("#tab-tracking .js-plotly-plot").nth(1).wait_for(timeout=30_000)  # lanes and trajectories
    screenshot(page, "ui-tracking")


def test_bad_uploads_get_their_message_and_the_next_request_works(app, media, page, screenshot):
    _open(page, app, "image", "Image")
    page.locator("#image-input input[type=file]").set_input_files(str(media.bad))
    note = page.locator("#image-upload-note .upload-note.error")
    assert "upload a JPEG, PNG" in note.inner_text(timeout=60_000)
    page.fill("#image-question textarea", "Point to the red discs.")
    page.click("#image-ask")  # asking anyway gives the same one-line message, no traceback, no error marks
    status = page.locator("#tab-image .answer-status-line.error")
    assert "upload a JPEG, PNG" in status.inner_text(timeout=60_000)
    assert page.locator("#tab-image .error").count() == 2  # the note and the status line, nothing else
    screenshot(page, "ui-bad-image")
    page.locator("#image-input button[aria-label=Clear]").click()
    page.locator("#image-input input[type=file]").set_input_files(str(media.image))
    page.click("#image-ask")
    assert "count 2" in _done(page, "image")
    page.locator("#tab-video-button").click()
    page.locator("#video-input input[type=file]").set_input_files(str(media.bad_video))
    assert "upload" in page.locator("#tab-video .video-plan.error").inner_text(timeout=60_000).lower()


def test_the_picture_is_redrawn_only_when_new_points_arrive(app, media, page, monkeypatch):
    """Partial answers come every 0.15 s; drawing and sending a full picture for each would rebuild it (and its
    tooltips) all through a long answer."""
    from ui.answering import Drafts

    saved = []
    original = Drafts.save
    monkeypatch.setattr(Drafts, "save", lambda self, picture: saved.append(1) or original(self, picture))
    app.scripted.answers["Point, then talk."] = '<points coords="1 1 250 300">a disc</points>' + " and so on" * 200
    _ask(page, app, "image", media.image, "Point, then talk.")  # 2.3 s of streaming after the point
    _done(page, "image")
    assert len(saved) == 2, saved  # the upload as loaded, then the one point as it arrived


def test_stop_ends_the_answer_and_the_next_one_works(app, media, page):
    app.scripted.answers["Say a lot."] = "word " * 6000  # 35 s of streaming: a loaded CI machine cannot finish it
    _open(page, app, "image", "Image")
    page.locator("#image-input input[type=file]").set_input_files(str(media.image))
    page.fill("#image-question textarea", "Say a lot.")
    page.click("#image-ask")
    page.wait_for_function("document.querySelector('#image-chat').innerText.includes('word word')", timeout=60_000)
    page.get_by_role("button", name="Stop").first.click()
    time.sleep(1.5)
    streamed = page.locator("#image-chat").inner_text().count("word")
    assert streamed < 6000
    page.fill("#image-question textarea", "Point to the red discs.")
    page.click("#image-ask")
    assert "count 2" in _done(page, "image")


def test_api_endpoints_return_the_documented_json(app, media):
    from gradio_client import Client, handle_file

    client = Client(app.url, verbose=False)
    result, files = client.predict(handle_file(str(media.image)), "Point to the red discs.", {"max_crops": 4},
                                   api_name="/image")  # fmt: skip
    assert result["count"] == 2 and result["grounding"]["objects"][0]["kind"] == "points"
    assert {Path(f).name for f in files} >= {"molmo2_answer.zip", "grounding.json", "manifest.json"}
    result, _ = client.predict([handle_file(str(p)) for p in media.set], "Count the red discs in all images.", {},
                               api_name="/multi_image")  # fmt: skip
    assert [p["key"] for p in result["grounding"]["objects"][0]["points"]] == [1, 1, 3]
    result, _ = client.predict(handle_file(str(media.clip)), "How many red balls appear?", {"max_frames": 8},
                               api_name="/video")  # fmt: skip
    assert result["frames"]["times"] == [0.0, 0.5, 1.0, 1.5, 2.0] and result["count"] == 2
    result, files = client.predict(handle_file(str(media.clip)), "Track the red ball.", {"sam2": "tiny"},
                                   api_name="/tracking")  # fmt: skip
    assert result["masks"]["sam2_objects"] == 1 and "annotated.mp4" in {Path(f).name for f in files}
    with pytest.raises(Exception, match="unknown settings"):
        client.predict(handle_file(str(media.image)), "Q", {"colour": "red"}, api_name="/image")


def test_one_request_at_a_time_on_the_gpu_queue(app, media):
    """Two API calls at once: the GPU concurrency group runs them one after the other."""
    from gradio_client import Client, handle_file

    spans = []
    original = app.scripted.stream

    def timed(request, cancel=None):
        stream = original(request, cancel)
        start = time.monotonic()

        def deltas():
            yield from stream
            spans.append((start, time.monotonic()))

        return TextStream(deltas(), stream._holder)

    app.scripted.stream = timed
    try:
        threads = [
            threading.Thread(target=lambda: Client(app.url, verbose=False).predict(
                handle_file(str(media.image)), "Say a lot.", {}, api_name="/image"))
            for _ in range(2)
        ]  # fmt: skip
        app.scripted.answers["Say a lot."] = "word " * 300
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        app.scripted.stream = original
    (_, a_end), (b_start, _) = sorted(spans)
    assert b_start >= a_end - 0.05


def test_video_tab_fits_a_phone(app, media, phone, screenshot):
    page = phone
    _ask(page, app, "video", media.clip, "How many red balls appear?")
    _done(page, "video")
    page.wait_for_function("document.querySelector('.video-player .m2p video').readyState >= 2", timeout=30_000)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 392  # nothing wider than the screen
    player = page.locator(".video-player .m2p").bounding_box()
    assert player["width"] <= 390 and player["width"] > 300
    screenshot(page, "ui-video-phone")


def test_image_tab_fits_a_phone_and_a_tap_tells_a_point(app, media, phone, screenshot):
    page = phone
    _ask(page, app, "image", media.image, "Point to the red discs.")
    _done(page, "image")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 392  # nothing wider than the screen
    marker = page.locator("#image-overlay .m2i-point").nth(1)
    marker.tap()
    tip = page.locator("#image-overlay .m2i-tip")
    tip.wait_for(state="visible")
    assert tip.inner_text().startswith("#2 red discs")
    box = tip.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    screenshot(page, "ui-image-phone")


def test_full_queue_is_refused_and_the_server_keeps_serving(app, media, tmp_path):
    """A second app with room for one waiting request: of four at once some are told the queue is full, none
    fails otherwise, and the server answers the next request."""
    from gradio_client import Client, handle_file

    from ui import CSS, build_demo
    from ui.backend import Backend

    app.scripted.answers["Take your time."] = "slow " * 400
    backend = Backend(app.backend.molmo, "tiny-random", "cpu", tmp_path, 60)
    demo = build_demo(app.backend.molmo, backend)
    demo.queue(max_size=1, default_concurrency_limit=1)
    demo.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, css=CSS)
    outcomes: list[str] = []

    def ask():
        try:
            Client(demo.local_url, verbose=False).predict(handle_file(str(media.image)), "Take your time.", {},
                                                          api_name="/image")  # fmt: skip
            outcomes.append("answered")
        except Exception as err:
            outcomes.append("full" if "queue" in str(err).lower() else f"error: {err}")

    try:
        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.2)
        for t in threads:
            t.join(180)
        assert sorted(set(outcomes)) == ["answered", "full"], outcomes
        client = Client(demo.local_url, verbose=False)
        result, _ = client.predict(handle_file(str(media.image)), "Point to the red discs.", {}, api_name="/image")
        assert result["count"] == 2
    finally:
        demo.close()


def test_official_examples_appear_only_once_cached(app, media, page, monkeypatch, tmp_path):
    import shutil

    monkeypatch.setenv("MOLMO2_MEDIA_CACHE", str(tmp_path))
    _open(page, app, "image", "Image")
    button = page.get_by_role("button", name="Official demo: Cat (model card)")
    page.wait_for_timeout(1000)
    assert not button.is_visible()  # offline, nothing fetched: silently not offered
    shutil.copy(media.image, tmp_path / "pipeline-cat-chonk.jpeg")  # as the background fetch leaves it
    _open(page, app, "image", "Image")
    button.wait_for(timeout=30_000)
    button.click()
    page.wait_for_function("document.querySelector('#image-question textarea').value === 'Describe this image.'",
                           timeout=30_000)  # fmt: skip
    page.locator("#image-overlay img").wait_for(timeout=30_000)  # the picture is loaded for the question
