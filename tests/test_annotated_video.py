"""visualization/annotated_video.py: the burned-in MP4 decodes as browser-playable H.264 with marks where expected."""

from __future__ import annotations

import struct
import weakref
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from media_fixtures import SceneObject, scene_frames, write_video
from visualization import render_annotated_video
from visualization.overlay import marker_radius
from visualization.palette import id_colour

WIDTH, HEIGHT, FPS, SECONDS = 641, 481, 10, 3.0  # odd on purpose: the output must be even
BALL = SceneObject(1, (200, 200, 200), 16, x0=60, y0=80, x1=580, y1=80)
ARTIFACTS = Path(__file__).parent / "artifacts"


def frames(width=WIDTH, height=HEIGHT):
    return [(i, i / FPS, image) for i, image in enumerate(scene_frames(width, height, FPS, SECONDS, [BALL]))]


def answer() -> dict:
    ball_keys = [
        {"key": t, "id": 2, "x": BALL.position(t, SECONDS)[0] / WIDTH, "y": 80 / HEIGHT} for t in (0.0, 0.5, 1.0)
    ]
    return {"objects": [
        {"kind": "points", "label": "spot", "alt": None, "points": [{"key": 2.0, "id": 1, "x": 0.5, "y": 0.75}]},
        {"kind": "tracks", "label": "ball", "alt": None, "points": ball_keys},
    ], "count": None, "warnings": []}  # fmt: skip


def mask_export(frame_indices) -> dict:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    mask[150:220, 20:120] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle = {"size": list(rle["size"]), "counts": rle["counts"].decode()}
    n = round(FPS * SECONDS)
    return {"info": {"width": WIDTH, "height": HEIGHT, "frame_times": [i / FPS for i in range(n)]},
            "objects": {"2": {"label": "ball", "frames": {str(i): {"rle": rle, "bbox": [20, 150, 100, 70], "area": 7000}
                                                          for i in frame_indices}}}}  # fmt: skip


def decode(path: Path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = (stream.codec_context.name, stream.codec_context.pix_fmt, stream.width, stream.height)
        duration = float(container.duration / av.time_base)
        images = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(stream)]
    return info, duration, images


def top_level_boxes(path: Path) -> list[str]:
    boxes, data, offset = [], path.read_bytes(), 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append(kind.decode())
        offset += size if size > 1 else len(data)
    return boxes


def near(image: np.ndarray, x: float, y: float, colour, tolerance: int = 45) -> bool:
    return int(np.abs(image[round(y), round(x)] - np.array(colour)).max()) <= tolerance


def test_h264_yuv420p_even_faststart_with_expected_frames(tmp_path):
    out = render_annotated_video(frames(), answer(), out=tmp_path / "out.mp4", frame_times=[0.5 * i for i in range(7)])
    assert out == tmp_path / "out.mp4"
    info, duration, images = decode(out)
    assert info == ("h264", "yuv420p", WIDTH + 1, HEIGHT + 1)
    assert len(images) == FPS * SECONDS and duration == pytest.approx(SECONDS, abs=0.05)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart: playable before the download ends


def test_marks_appear_where_and_when_expected(tmp_path):
    out = render_annotated_video(frames(), answer(), out=tmp_path / "out.mp4", frame_times=[0.5 * i for i in range(7)])
    _, _, images = decode(out)
    r = marker_radius(WIDTH, HEIGHT)
    spot, ball = id_colour(0), id_colour(2)
    x, y = 0.5 * WIDTH + 0.55 * r, 0.75 * HEIGHT  # beside the number, inside the disc
    assert near(images[20], x, y, spot)  # t = 2.0, the point's timestamp
    assert near(images[22], x, y, spot)  # within +-0.25 s
    assert not near(images[10], x, y, spot) and not near(images[24], x, y, spot)

    def ball_at(t: float) -> float:
        return BALL.position(t, SECONDS)[0]

    assert near(images[5], ball_at(0.5) + 0.5 * r, 80, ball)  # t = 0.5, a keyframe: a filled disc
    assert near(images[8], ball_at(0.8) + 0.85 * r, 80, ball)  # between keyframes: a ring on the moving ball ...
    assert near(images[8], ball_at(0.8), 80, BALL.colour)  # ... hollow: the ball shows through
    assert near(images[12], ball_at(1.0) + 0.85 * r, 80, ball)  # held at the last keyframe for its window
    assert not near(images[14], ball_at(1.0) + 0.85 * r, 80, ball)  # then gone
    ARTIFACTS.mkdir(exist_ok=True)
    strip = np.concatenate([images[5], images[8], images[20]], axis=1).astype(np.uint8)
    Image.fromarray(strip).save(ARTIFACTS / "annotated-video-frames.png")


def test_masks_follow_the_export_and_hold_between_subsampled_frames(tmp_path):
    out = render_annotated_video(frames(), answer(), mask_export(range(0, 12, 3)), out=tmp_path / "masks.mp4")
    _, _, images = decode(out)
    ball = np.array(id_colour(2))  # the mask takes its track's colour
    background = frames()[0][2].astype(int)[185, 70]
    for index in (0, 4, 11):  # masked at 0, 3, 6, 9; each mask stays for 3 frames
        assert np.abs(images[index][185, 70] - (0.55 * background + 0.45 * ball)).max() <= 12, index
    assert np.abs(images[12][185, 70] - background).max() <= 12
    assert near(images[0], 70, 150, ball)  # the outline in full colour


def test_frames_are_streamed_not_collected(tmp_path):
    alive: list[weakref.ref] = []

    def lazy_frames():
        for index, time, image in frames():
            assert sum(ref() is not None for ref in alive) <= 3, "the renderer holds on to old frames"
            image = image.copy()
            alive.append(weakref.ref(image))
            yield index, time, image

    render_annotated_video(lazy_frames(), answer(), out=tmp_path / "lazy.mp4")
    assert len(alive) == FPS * SECONDS


def test_frame_objects_and_fps_from_their_times(tmp_path):
    class Frame:
        def __init__(self, index, time, image):
            self.index, self.time, self.image = index, time, image

    out = render_annotated_video([Frame(*f) for f in frames()], answer(), out=tmp_path / "objects.mp4")
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == FPS
    with pytest.raises(ValueError, match="fps"):
        render_annotated_video(frames()[:1], answer(), out=tmp_path / "one.mp4")


def test_renders_from_a_path_through_the_media_decoder(tmp_path):
    pytest.importorskip("inference.video", reason="inference/video.py (branch media) is not merged yet")
    clip = write_video(tmp_path / "clip.mp4", scene_frames(WIDTH - 1, HEIGHT - 1, FPS, SECONDS, [BALL]), FPS)
    out = render_annotated_video(clip, answer(), out=tmp_path / "from-path.mp4")
    info, duration, images = decode(out)
    assert info == ("h264", "yuv420p", WIDTH - 1, HEIGHT - 1) and len(images) == FPS * SECONDS
    assert duration == pytest.approx(SECONDS, abs=0.05)
    assert near(images[20], 0.5 * (WIDTH - 1) + 0.55 * marker_radius(WIDTH - 1, HEIGHT - 1), 0.75 * (HEIGHT - 1),
                id_colour(0))  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    Image.fromarray(images[20].astype(np.uint8)).save(ARTIFACTS / "annotated-video-frame.png")
