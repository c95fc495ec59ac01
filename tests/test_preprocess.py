"""Preprocessing equals transformers 5.23 Molmo2Processor: same token ids, pooling indices and pixels."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from inference.preprocess import ProcessorSettings, crop_geometry, image_pooling, load_processor
from inference.request import Request
from reference import load_reference_processor, reference_inputs

SIZES = [(1, 1), (14, 14), (100, 100), (378, 378), (640, 480), (536, 354), (1024, 768), (1920, 1080), (1080, 1920),
         (4000, 300), (300, 4000)]  # fmt: skip


def _image(width, height, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def _ask(*content, text="Point to the cat."):
    return [{"role": "user", "content": [*content, {"type": "text", "text": text}]}]


@pytest.fixture(scope="module")
def ours(tiny_qwen3):
    return load_processor(tiny_qwen3)


@pytest.fixture(scope="module")
def reference(tiny_qwen3):
    return load_reference_processor(tiny_qwen3)


def _assert_same(batch, ref, pixels_key="pixel_values", pooling_key="image_token_pooling"):
    assert torch.equal(batch.input_ids, ref["input_ids"][0])
    assert torch.equal(batch.visual_mask, ref["mm_token_type_ids"][0].bool())
    assert torch.equal(batch.pooling, ref[pooling_key].long())
    assert batch.pixel_values.dtype == torch.float32
    # Exact: same resize kernel, same rounding back to uint8, same fused normalisation arithmetic.
    assert torch.equal(batch.pixel_values, ref[pixels_key])


@pytest.mark.parametrize(
    ("size", "max_crops", "tiling", "patch_tokens", "all_tokens"),
    [
        ((378, 378), 8, (1, 1), 392, 410),
        ((100, 100), 8, (1, 1), 392, 410),
        ((640, 480), 8, (2, 2), 725, 752),
        ((536, 354), 8, (1, 2), 518, 536),
        ((1024, 768), 8, (2, 3), 955, 982),
        ((1024, 768), 24, (3, 4), 1582, 1619),
        ((1920, 1080), 8, (2, 4), 1162, 1189),
        ((1920, 1080), 24, (4, 6), 2758, 2804),
        ((1080, 1920), 8, (4, 2), 1162, 1208),
    ],
)
def test_token_counts_of_the_reference_table(ours, size, max_crops, tiling, patch_tokens, all_tokens):
    """§3.6, row by row."""
    width, height = size
    rows, cols, _, _ = crop_geometry(height, width, max_crops, ProcessorSettings())
    assert (rows, cols) == tiling
    pooling, grid = image_pooling(rows, cols, ProcessorSettings())
    assert pooling.shape[0] == patch_tokens == grid[0] * grid[1] + grid[2] * grid[3]
    batch = ours(Request(messages=_ask({"type": "image", "image": _image(*size)}), max_crops=max_crops))
    assert int(batch.visual_mask.sum()) == all_tokens
    assert int((batch.input_ids == ours.token_ids["<im_patch>"]).sum()) == patch_tokens
    assert batch.pixel_values.shape == (1 + rows * cols, 729, 588)
    assert batch.media_sizes == (size,)


@pytest.mark.reference
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("max_crops", [8, 24])
def test_single_image_parity(ours, reference, size, max_crops):
    image = _image(*size, seed=size[0] * 7 + size[1])
    messages = _ask({"type": "image", "image": image})
    _assert_same(
        ours(Request(messages=messages, max_crops=max_crops)),
        reference_inputs(reference, messages, max_crops=max_crops),
    )


@pytest.mark.reference
@pytest.mark.parametrize("count", [2, 3, 5])
def test_image_set_parity(ours, reference, count):
    rng = np.random.default_rng(count)
    images = [_image(int(rng.integers(20, 1300)), int(rng.integers(20, 1300)), seed=k) for k in range(count)]
    messages = _ask(*({"type": "image", "image": img} for img in images), text="Point to the boats in all images.")
    batch = ours(Request(messages=messages))
    _assert_same(batch, reference_inputs(reference, messages))
    assert batch.media_sizes == tuple(img.size for img in images)
    assert "Image 1" in batch.prompt and f"Image {count}" in batch.prompt


@pytest.mark.reference
def test_multi_turn_parity(ours, reference):
    a, b, c = _image(640, 480, 1), _image(300, 200, 2), _image(1024, 768, 3)
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Compare"}, {"type": "image", "image": a},
                                     {"type": "image", "image": b}]},
        {"role": "assistant", "content": [{"type": "text", "text": "They differ."}]},
        {"role": "user", "content": [{"type": "image", "image": c}, {"type": "text", "text": "And this one?"}]},
    ]  # fmt: skip
    batch = ours(Request(messages=messages))
    _assert_same(batch, reference_inputs(reference, messages))
    # Every image goes before the first user turn, whatever message it came in (§4, §14.9).
    assert batch.prompt.index("Image 3") < batch.prompt.index("<|im_start|>user")


@pytest.mark.reference
@pytest.mark.parametrize(("frames", "height", "width"), [(1, 64, 64), (7, 241, 321), (12, 720, 1280)])
def test_video_frames_parity(ours, reference, frames, height, width):
    video = np.random.default_rng(frames).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    times = [round(0.5 * k, 1) for k in range(frames - 1)] + [round(0.5 * (frames - 1) - 0.2, 1) if frames > 1 else 0.0]
    messages = _ask({"type": "video", "video": video, "timestamps": times}, text="Track the ball.")
    batch = ours(Request(messages=messages))
    _assert_same(batch, reference_inputs(reference, messages, video=(video, times)), "pixel_values_videos",
                 "video_token_pooling")  # fmt: skip
    assert batch.is_video and batch.frame_times == tuple(times)
    assert batch.pooling.shape == (81 * frames, 9)
    assert batch.media_sizes == ((width, height),)
    text = ours.decode(batch.input_ids, skip_special_tokens=True)
    assert text.startswith("0.0 ")
    assert frames == 1 or f" {times[-1]:.1f} " in text


@pytest.mark.reference
def test_class_defaults_without_processor_config(tiny_qwen3, tmp_path):
    """Without processor_config.json both sides fall back to transformers' defaults (frame tokens, low-res cols)."""
    path = tmp_path / "ckpt"
    shutil.copytree(tiny_qwen3, path)
    (path / "processor_config.json").unlink()
    ours, reference = load_processor(path), load_reference_processor(path)
    messages = _ask({"type": "image", "image": _image(500, 300)})
    _assert_same(ours(Request(messages=messages)), reference_inputs(reference, messages))
    video = np.random.default_rng(0).integers(0, 256, (3, 50, 60, 3), dtype=np.uint8)
    messages = _ask({"type": "video", "video": video, "timestamps": [0.0, 0.5, 1.0]})
    batch = ours(Request(messages=messages))
    _assert_same(batch, reference_inputs(reference, messages, video=(video, [0.0, 0.5, 1.0])), "pixel_values_videos",
                 "video_token_pooling")  # fmt: skip
    assert (batch.input_ids == ours.token_ids["<frame_start>"]).sum() == 3


def test_control_tokens_in_user_text_stay_text(ours):
    messages = _ask({"type": "image", "image": _image(64, 64)}, text="<im_patch><|im_end|>count <|image|> me")
    batch = ours(Request(messages=messages))
    assert int((batch.input_ids == ours.token_ids["<im_patch>"]).sum()) == 392
    assert "count  me" in ours.decode(batch.input_ids)


def test_media_rules(ours):
    video = {"type": "video", "video": np.zeros((2, 32, 32, 3), np.uint8), "timestamps": [0.0, 0.5]}
    with pytest.raises(ValueError, match="mix"):
        ours(Request(messages=_ask({"type": "image", "image": _image(32, 32)}, video)))
    with pytest.raises(ValueError, match="one video"):
        ours(Request(messages=_ask(video, video)))
    with pytest.raises(ValueError, match="timestamp"):
        ours(Request(messages=_ask({**video, "timestamps": [0.0]})))


def test_content_keys_identify_media(ours):
    a = ours(Request(messages=_ask({"type": "image", "image": _image(64, 64, 1)})))
    b = ours(Request(messages=_ask({"type": "image", "image": _image(64, 64, 1)}, text="Other question")))
    c = ours(Request(messages=_ask({"type": "image", "image": _image(64, 64, 2)})))
    assert a.media_keys == b.media_keys != c.media_keys
    assert torch.equal(a.input_ids, c.input_ids)  # same sizes -> same ids: the key is what tells them apart


def test_video_file_streams_to_the_same_inputs_as_its_decoded_clip(ours, tmp_path):
    """A path is decoded in a child process and each frame resized as it arrives; the result equals preprocessing
    the fully decoded clip, frame for frame, and carries where the frames came from."""
    from inference.video import load_clip
    from media_fixtures import SceneObject, scene_frames, write_video

    ball = SceneObject(1, (220, 50, 47), 10, x0=10, y0=40, x1=150, y1=40)
    path = write_video(tmp_path / "ball.mp4", scene_frames(160, 96, 12, 4.0, [ball]), 12)
    ask = lambda video: _ask({"type": "video", "video": video}, text="Track the ball.")  # noqa: E731
    streamed = ours(Request(messages=ask(str(path)), max_frames=6, clip=(1.0, None)))
    clip = load_clip(path, max_frames=6, start=1.0)
    decoded = ours(Request(messages=ask(clip)))
    assert torch.equal(streamed.input_ids, decoded.input_ids)
    assert torch.equal(streamed.pixel_values, decoded.pixel_values)
    assert streamed.frame_times == decoded.frame_times == clip.times and len(clip.times) == 6
    assert streamed.frame_indices == clip.frame_indices and streamed.clip_start == clip.start == pytest.approx(1.0)
    assert streamed.video_info.width == 160 and streamed.media_sizes == ((160, 96),)


def test_video_thumbnails_are_the_frames_the_model_saw(ours, tmp_path):
    """The film strip's frames are made from what the model sees of each frame while it streams in (no second
    decode): back at the video's aspect ratio they match the decoded frames scaled down directly, and a decoded clip
    gives the same as the file."""
    from inference.preprocess import THUMBNAIL_HEIGHT
    from inference.video import load_clip
    from media_fixtures import SceneObject, scene_frames, write_video

    ball = SceneObject(1, (220, 50, 47), 12, x0=20, y0=48, x1=140, y1=48)
    path = write_video(tmp_path / "ball.mp4", scene_frames(160, 96, 12, 3.0, [ball]), 12)
    batch = ours(Request(messages=_ask({"type": "video", "video": str(path)}, text="Where is the ball?"), max_frames=5))
    thumbnails = batch.frame_thumbnails
    assert thumbnails.shape == (5, THUMBNAIL_HEIGHT, round(THUMBNAIL_HEIGHT * 160 / 96), 3)
    assert thumbnails.dtype == np.uint8
    clip = load_clip(path, max_frames=5)
    for thumbnail, frame in zip(thumbnails, clip.frames):
        direct = np.asarray(Image.fromarray(frame).resize(thumbnail.shape[1::-1], Image.BOX), dtype=np.int16)
        assert np.abs(thumbnail.astype(np.int16) - direct).mean() < 4
    from_clip = ours(Request(messages=_ask({"type": "video", "video": clip}, text="Where is the ball?")))
    assert np.array_equal(from_clip.frame_thumbnails, thumbnails)
    image_only = ours(Request(messages=_ask({"type": "image", "image": Image.new("RGB", (32, 32))})))
    assert image_only.frame_thumbnails is None
