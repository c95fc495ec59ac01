"""SAM 2 masks: the keyframe plan and life rule, both-way propagation, parity with sam2's own predictor, COCO-RLE
export, images, limits, cancellation, bad inputs and loading. Random-weight SAM 2.1 tiny at 128 px on generated
clips: the masks mean nothing, but where and how SAM 2 ran, and what comes out, are checked exactly."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from inference.grounding import GroundedObject, Grounding, MediaLayout, Point, parse
from inference.masks import decode
from inference.segment import Cancelled, Sam2Tracker, SegmentError
from inference.track_plan import Frames, Span, TrackLimits, plan_video
from media_fixtures import SceneObject, scene_frame, scene_frames, write_video

# pycocotools 2.0 with numpy 2: every decode warns about numpy's __array__ copy keyword; harmless.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

SIZE = 128  # SAM 2 input side: fast on a CPU
W, H, FPS, SECONDS = 160, 96, 4.0, 2.0  # 8 frames; Molmo2 saw every other one (2 fps), as its prompt would
LAYOUT = MediaLayout(((W, H),), (0.0, 0.5, 1.0, 1.5), (0, 2, 4, 6), FPS)
DISC = SceneObject(1, (220, 40, 40), 12, 30, 30, 120, 60)  # the whole clip
LATE = SceneObject(2, (40, 200, 60), 10, 130, 70, 60, 30, appear=0.75)  # enters at frame 3: after Molmo2's frame 2
GONE = SceneObject(3, (40, 60, 220), 9, 140, 20, 140, 20, disappear=0.75)  # leaves at frame 3 ...
BACK = SceneObject(3, (40, 60, 220), 9, 20, 80, 20, 80, appear=1.5)  # ... and is back from frame 6
SCENE = (DISC, LATE, GONE, BACK)


def frames_of(objects=SCENE, seconds=SECONDS, scale=1.0) -> Frames:
    """The generated clip in memory; `scale` < 1 gives smaller images of the same W x H video."""
    images = []
    for image in scene_frames(W, H, FPS, seconds, objects):
        if scale != 1.0:
            image = image[:: round(1 / scale), :: round(1 / scale)]
        images.append(np.ascontiguousarray(image))
    n = len(images)
    return Frames(tuple(images), tuple(range(n)), tuple(i / FPS for i in range(n)), (W, H), FPS)


def coords(obj: SceneObject, t: float, seconds: float = SECONDS) -> str:
    x, y = obj.position(t, seconds)
    return f"{obj.id} {round(x / W * 1000):03d} {round(y / H * 1000):03d}"


def answer(kind: str, objects=SCENE, times=LAYOUT.frame_times, seconds: float = SECONDS) -> Grounding:
    """A Molmo2 answer marking each object on the prompt frames where it is visible, parsed as the app parses it."""
    groups = []
    for t in times:
        visible = [coords(o, t, seconds) for o in objects if o.position(t, seconds) is not None]
        if visible:
            groups.append(f"{t:.2f} " + " ".join(visible))
    return parse(f'<{kind} coords="{";".join(groups)}">discs</{kind}>')


class Calls:
    """Records SAM 2's per-frame steps as (id, frame, reverse, click); id None for a counting point's click."""

    def __init__(self, tracker: Sam2Tracker, monkeypatch):
        self.steps: list[tuple[int | None, int, bool, bool]] = []
        original = tracker.predictor._run_single_frame_inference

        def spy(**kwargs):
            state, outputs = kwargs["inference_state"], kwargs["output_dict"]
            idx = next((i for i, d in state["output_dict_per_obj"].items() if d is outputs), None)
            id = None if idx is None else state["obj_idx_to_id"][idx]
            self.steps.append((id, kwargs["frame_idx"], kwargs["reverse"], kwargs["is_init_cond_frame"]))
            return original(**kwargs)

        monkeypatch.setattr(tracker.predictor, "_run_single_frame_inference", spy)

    def tracked(self, id: int) -> dict[int, bool]:
        """frame -> reverse, for the tracking steps (not clicks) of one id; each frame at most once."""
        steps = [(frame, reverse) for i, frame, reverse, click in self.steps if i == id and not click]
        assert len(steps) == len({frame for frame, _ in steps}), "an object was computed twice on a frame"
        return dict(steps)


@pytest.fixture(scope="module")
def tracker():
    # One intra-op thread: at these tiny shapes two OpenMP threads gain little, and on a shared two-core machine
    # they stall each other whenever another process holds a core (steps ran 10-30x slower in such moments).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Sam2Tracker.load("tiny", random_weights=True, image_size=SIZE)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clip_run(tracker):
    """The scene tracked once: (masks, SAM 2 steps, progress reports)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls = Calls(tracker, monkeypatch)
        reports: list[tuple[int, int]] = []
        masks = tracker.track(frames_of(scale=0.5), answer("tracks"), lambda *r: reports.append(r), layout=LAYOUT)
    return masks, calls, reports


def test_plan_keyframes_and_life_spans():
    plan = plan_video(answer("tracks"), frames_of(), LAYOUT, TrackLimits())
    by_id = {o.id: o for o in plan.objects}
    assert [o.id for o in plan.objects] == [1, 3, 2]  # first appearance, then id
    # The disc is seen on every prompt frame: one life over the clip; its second keyframe is where it moved far.
    assert by_id[1].spans == (Span(0, 0, 7),)
    assert [k.position for k in by_id[1].keyframes] == [0, 4]
    # Molmo2 first sees the late disc at 1.0 s (frame 4); it was absent at 0.5 s (frame 2): tracked from frame 3.
    assert by_id[2].spans == (Span(3, 4, 7),)
    assert [k.position for k in by_id[2].keyframes] == [4, 6]
    # Id 3 is missing from the prompt frame at 1.0 s: lost there, and a new life starts at its next point (1.5 s).
    assert by_id[3].spans == (Span(0, 0, 3), Span(5, 6, 7))
    assert [k.position for k in by_id[3].keyframes] == [0, 6]
    x, y = by_id[2].keyframes[0].x, by_id[2].keyframes[0].y  # original pixels, from the 0-1000 coordinates
    assert (x, y) == pytest.approx(LATE.position(1.0, SECONDS), abs=0.5)
    assert plan.warnings == ()


def test_masks_follow_ids_through_their_lives_in_both_directions(clip_run):
    masks, calls, _ = clip_run
    frames = {o.id: set(o.frames) for o in masks.objects}
    assert frames == {1: set(range(8)), 2: set(range(3, 8)), 3: {0, 1, 2, 3, 5, 6, 7}}
    # Forward from each life's first keyframe, backward from it to the life's start; nothing outside a life.
    assert calls.tracked(1) == {f: False for f in range(1, 8) if f != 4}  # 0 and 4 are its clicks
    assert calls.tracked(2) == {3: True, 5: False, 7: False}
    assert calls.tracked(3) == {1: False, 2: False, 3: False, 5: True, 7: False}
    clicks = sorted((i, frame) for i, frame, _, click in calls.steps if click)
    assert clicks == [(1, 0), (1, 4), (2, 4), (2, 6), (3, 0), (3, 6)]
    assert {o.id: o.spans for o in masks.objects} == {1: ((0, 7),), 2: ((3, 7),), 3: ((0, 3), (5, 7))}
    assert masks.summary() == {
        "molmo2_count": 3,
        "sam2_objects": 3,
        "agree": True,
        "ids_without_masks": [],
        "warnings": [],
    }


def test_progress_is_monotonic_up_to_its_total(clip_run):
    _, _, reports = clip_run
    total = reports[0][1]
    assert [d for d, _ in reports] == list(range(total + 1))
    assert {n for _, n in reports} == {total}
    assert total == 3 + 10  # frames with clicks (0, 4, 6), then frames tracked forward (0-7) and backward (3, 5)


def test_coco_export_round_trips_at_the_original_size(clip_run):
    masks, _, _ = clip_run
    coco = json.loads(json.dumps(masks.to_coco()))
    assert coco["info"]["width"] == W and coco["info"]["height"] == H
    assert coco["info"]["frame_times"] == [i / FPS for i in range(8)]
    assert coco["info"]["model"] == "sam2.1-hiera-tiny"
    assert set(coco["objects"]) == {"1", "2", "3"}
    assert coco["objects"]["2"]["label"] == "discs"
    assert coco["summary"]["sam2_objects"] == 3
    for id, obj in coco["objects"].items():
        for frame, entry in obj["frames"].items():
            mask = decode(entry["rle"])  # the frames were given at half size: masks are at the video's
            assert mask.shape == (H, W) and entry["rle"]["size"] == [H, W]
            assert isinstance(entry["rle"]["counts"], str)
            np.testing.assert_array_equal(mask, masks.at(int(frame))[int(id)])
            ys, xs = np.nonzero(mask)
            assert entry["area"] == mask.sum() > 0
            assert entry["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert masks.at(4).keys() == {1, 2} and masks.at(100) == {}


@pytest.mark.parametrize(("seconds", "click"), [(4.5, 0), (6.5, 6)])
def test_same_masks_as_sam2s_own_predictor(tracker, seconds, click):
    """One object clicked on one frame, tracked forward (and backward from a middle frame): our loop, which drops
    memories SAM 2 can no longer read, gives exactly the masks of sam2's add_new_points_or_box and
    propagate_in_video (forward, then reverse, as sam2's demo runs them, reading every memory it kept)."""
    frames = frames_of((DISC,), seconds=seconds)
    t = frames.times[click]
    masks = tracker.track(frames, answer("tracks", (DISC,), times=(t,), seconds=seconds))
    assert masks.objects[0].keyframes == (click,)
    state = tracker._session(frames)
    x, y = (int(v) / 1000 * size for v, size in zip(coords(DISC, t, seconds).split()[1:], (W, H)))
    tracker.predictor.add_new_points_or_box(state, click, 1, points=[[x, y]], labels=[1])
    reference = {}
    for reverse in (False, True):
        for frame, _, logits in tracker.predictor.propagate_in_video(state, reverse=reverse):
            reference[frame] = (logits[0, 0] > 0).numpy()
    assert len(reference) == len(frames.indices) > tracker._reach()  # long enough for memories to be dropped
    for frame, expected in reference.items():
        np.testing.assert_array_equal(masks.at(frame).get(1, np.zeros((H, W), bool)), expected)


def test_counting_points_get_a_mask_on_their_own_frame_only(tracker, monkeypatch):
    calls = Calls(tracker, monkeypatch)
    grounding = parse(f"Counting the <points coords='0.5 {coords(DISC, 0.5)};1.0 2 500 500 3 600 400'>discs</points>")
    masks = tracker.track(frames_of(), grounding, layout=LAYOUT)
    assert {o.id: set(o.frames) for o in masks.objects} == {1: {2}, 2: {4}, 3: {4}}
    assert {o.kind for o in masks.objects} == {"points"}
    assert all(click and id is None for id, _, _, click in calls.steps)  # clicks only, nothing tracked
    assert masks.summary()["molmo2_count"] == 3 and masks.summary()["agree"]


def test_images_get_masks_for_their_points(tracker):
    first = scene_frame(W, H, (DISC,), 0.0, SECONDS)
    second = scene_frame(96, 128, (SceneObject(1, (0, 0, 255), 20, 48, 64, 48, 64),), 0.0, 1.0)
    grounding = parse('Counting the <points coords="1 1 188 312 2 800 800;2 3 500 500;3 4 500 500">discs</points>')
    masks = tracker.segment_images([first, second], grounding)
    assert {o.id: set(o.frames) for o in masks.objects} == {1: {1}, 2: {1}, 3: {2}}
    assert masks.at(1).keys() == {1, 2} and masks.at(1)[1].shape == (H, W)
    assert masks.at(2)[3].shape == (128, 96)
    coco = masks.to_coco()
    assert coco["info"]["image_sizes"] == [[W, H], [96, 128]] and coco["info"]["frame_times"] == []
    assert coco["summary"]["molmo2_count"] == 4 and coco["summary"]["sam2_objects"] == 3
    assert masks.warnings == ("ignored points that are not on one of the given images (id 4)",)


def test_cancel_stops_work_and_the_tracker_stays_usable(tracker, monkeypatch):
    calls = Calls(tracker, monkeypatch)
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 2:
            cancel.set()

    with pytest.raises(Cancelled, match="cancelled"):
        tracker.track(frames_of(), answer("tracks"), progress, layout=LAYOUT, cancel=cancel)
    # The clicks on the first two frames with clicks, and nothing after the request was cancelled.
    assert calls.steps == [(1, 0, False, True), (3, 0, False, True), (1, 4, False, True), (2, 4, False, True)]
    with pytest.raises(Cancelled):
        tracker.track(frames_of(), answer("tracks"), cancel=lambda: True)
    masks = tracker.track(frames_of((DISC,)), answer("tracks", (DISC,), times=(1.5,)), layout=LAYOUT)
    assert set(masks.objects[0].frames) == {5, 6, 7}


def test_out_of_memory_becomes_a_message_and_the_next_request_works(tracker, monkeypatch):
    def out_of_memory(**kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(tracker.predictor, "_run_single_frame_inference", out_of_memory)
        with pytest.raises(SegmentError, match=r"out of GPU memory .* try a shorter range, fewer objects"):
            tracker.track(frames_of(), answer("tracks"), layout=LAYOUT)
    masks = tracker.track(frames_of((DISC,)), answer("tracks", (DISC,), times=(1.5,)), layout=LAYOUT)
    assert set(masks.objects[0].frames) == {5, 6, 7}


def test_bad_inputs_give_warnings_not_errors(tracker):
    outside = (Point(-3.0, 4, 0.5, 0.5), Point(9.0, 4, 0.5, 0.5), Point(0.0, 1, 0.2, 0.3), Point(7.5, 1, 0.2, 0.3))
    grounding = Grounding(
        (
            GroundedObject("tracks", "discs", None, outside),
            GroundedObject("points", "image points", None, (Point(1, 5, 0.5, 0.5),)),
            GroundedObject("tracks", "again", None, (Point(0.0, 1, 0.5, 0.5),)),
        )
    )
    masks = tracker.track(frames_of((DISC,)), grounding)
    assert [o.id for o in masks.objects] == [1]
    assert set(masks.objects[0].frames) == set(range(8))
    assert masks.warnings == (
        "ignored points keyed by image number: this is a video",
        "ignored points at times outside the tracked frames (ids 4, 1)",
        "no mask for id 4: no point on a tracked frame",
        "id 1 used by more than one element: masks follow the first",
    )
    assert masks.summary()["warnings"] == list(masks.warnings)

    nothing = tracker.track(frames_of(), parse("There are none."))
    assert nothing.objects == () and nothing.summary()["molmo2_count"] == 0 and nothing.summary()["agree"]


def test_long_ranges_are_tracked_every_kth_frame_within_the_cap(tracker):
    capped = Sam2Tracker(
        tracker.predictor, tracker.model, random_weights=True, offload_state=False, limits=TrackLimits(max_frames=3)
    )
    masks = capped.track(frames_of((DISC,)), answer("tracks", (DISC,)), layout=LAYOUT)
    assert masks.stride == 3
    assert masks.warnings[0].startswith("8 frames are over the 3-frame limit: SAM 2 tracked one frame in 3")
    assert set(masks.objects[0].frames) == {0, 3, 6}  # original frame indices
    assert masks.to_coco()["info"]["frame_times"] == [i / FPS for i in range(7)]


def test_caps_on_objects_and_size(tracker):
    plan = plan_video(answer("tracks"), frames_of(), LAYOUT, TrackLimits(max_tracks=2))
    assert [o.id for o in plan.objects] == [1, 3]
    assert plan.warnings == ("SAM 2 tracks at most 2 ids per request: no masks for id 2",)
    huge = Frames((np.zeros((8, 8, 3), np.uint8),), (0,), (0.0,), (5000, 3000), 30.0)
    with pytest.raises(SegmentError, match=r"too large for SAM 2: 5000x3000 \(max 4096 px a side\)"):
        tracker.track(huge, answer("tracks"))


def test_load_local_checkpoint_and_offline_hub_cache(tracker, tmp_path, monkeypatch):
    import huggingface_hub.constants

    path = tmp_path / "sam2.1_hiera_tiny.pt"
    torch.save({"model": tracker.predictor.state_dict()}, path)
    local = Sam2Tracker.load(str(path), image_size=SIZE)
    assert local.model == "sam2.1-hiera-tiny" and not local.random_weights
    torch.testing.assert_close(local.predictor.state_dict(), tracker.predictor.state_dict(), rtol=0, atol=0)

    # A hub id resolves from the Hugging Face cache in offline mode; an uncached one says what to do.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    repo = tmp_path / "hub" / "models--facebook--sam2.1-hiera-tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / path.name).symlink_to(path)
    cached = Sam2Tracker.load("facebook/sam2.1-hiera-tiny", image_size=SIZE, cache_dir=tmp_path / "hub")
    assert cached.model == "sam2.1-hiera-tiny"
    with pytest.raises(SegmentError, match="not in the Hugging Face cache and offline mode is on"):
        Sam2Tracker.load("small", cache_dir=tmp_path / "empty")


def test_load_rejects_what_is_not_a_sam2_1_checkpoint(tmp_path):
    with pytest.raises(SegmentError, match="unknown SAM 2 model 'huge'"):
        Sam2Tracker.load("huge")
    with pytest.raises(SegmentError, match=r"random weights need a SAM 2\.1 size"):
        Sam2Tracker.load("/some/file.pt", random_weights=True)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(SegmentError, match=r"is not a SAM 2\.1 checkpoint"):
        Sam2Tracker.load(str(text))
    # A tiny-shaped trunk but nothing else, as a SAM 2.0 or truncated file would be: named, then refused.
    partial = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(96, 3, 7, 7)}
    partial |= {f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(12)}
    torch.save({"model": partial}, tmp_path / "partial.pt")
    with pytest.raises(SegmentError, match=r"is not a SAM 2\.1 tiny checkpoint"):
        Sam2Tracker.load(str(tmp_path / "partial.pt"), image_size=SIZE)


def test_video_file_is_decoded_through_inference_video(tracker, tmp_path):
    path = write_video(tmp_path / "clip.mp4", scene_frames(W, H, FPS, SECONDS, SCENE), FPS)
    masks = tracker.track(path, answer("tracks"), layout=LAYOUT)
    expected = {1: set(range(8)), 2: set(range(3, 8)), 3: {0, 1, 2, 3, 5, 6, 7}}
    assert {o.id: set(o.frames) for o in masks.objects} == expected
    assert masks.at(0)[1].shape == (H, W)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bfloat16_gives_masks_and_frees_gpu_memory():
    gpu = Sam2Tracker.load("tiny", random_weights=True, image_size=256, device="cuda")
    gpu.track(frames_of(), answer("tracks"), layout=LAYOUT)  # first run: sam2 caches position tables on the GPU
    before = torch.cuda.memory_allocated()
    masks = gpu.track(frames_of(), answer("tracks"), layout=LAYOUT)
    assert [o.id for o in masks.objects] == [1, 3, 2]
    assert all(o.frames and set(o.frames) <= set(range(8)) for o in masks.objects)
    assert torch.cuda.memory_allocated() == before
