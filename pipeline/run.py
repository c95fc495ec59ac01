"""One task end to end: media checks, Molmo2 (streamed), the grounded answer, SAM 2 masks, rendering, exports.

`run` yields `Progress` and `Partial` events while it works and an `Answer` at the end, so the web UI can draw
points as they stream and the command line can simply take the last event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from inference.grounding import GroundedObject, Grounding, MediaLayout, StreamingParser, parse
from inference.media import load_image
from pipeline.task import Task

log = logging.getLogger("molmo2.pipeline")
PARTIAL_EVERY = 0.15  # seconds between streamed UI updates when no new point arrived
# What current Chromium, Firefox and Safari play: 8-bit 4:2:0 H.264/AV1/VP9 in MP4, VP8/VP9/AV1 in WebM.
BROWSER_PLAYABLE = {"mp4": {"h264", "av1", "vp9"}, "mkv/webm": {"vp8", "vp9", "av1"}}


@dataclass(frozen=True)
class Progress:
    stage: str  # "media", "vision", "answer", "masks", "render", "export"
    done: int
    total: int
    message: str


@dataclass(frozen=True)
class Loaded:
    """The media passed the checks: what the UI needs to draw on while the answer streams."""

    images: tuple[np.ndarray, ...]  # upright RGB images (image tasks)
    video: Any | None  # inference.video.VideoInfo
    frame_times: tuple[float, ...] | None  # seconds of the whole video at which Molmo2 sees a frame
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Partial:
    text: str  # the raw answer so far
    points: int  # points complete so far
    grounding: Grounding  # what has arrived, parsed (complete groups only); video keys in whole-video seconds


@dataclass(frozen=True)
class Answer:
    task: Task
    text: str  # raw model output
    grounding: Grounding  # keys as the model wrote them (video: seconds from the clip start)
    display: Grounding  # video: keys shifted to seconds of the whole video, for players and renders
    layout: MediaLayout
    result: Any  # inference.engine.GenerationResult
    images: tuple[np.ndarray, ...]  # the loaded images (upright RGB), for overlays
    video: Any | None  # inference.video.VideoInfo
    clip_start: float
    masks: Any | None  # inference.masks.Masks
    annotated_video: Path | None  # H.264 with masks/points burned in (masks, or a codec browsers cannot play)
    overlays: tuple[Path, ...]  # one PNG per image
    film_strip: Any | None  # video: visualization.filmstrip.FilmStrip of the frames the model saw
    timings: dict[str, float]
    notes: tuple[str, ...]
    files: dict[str, Path]  # the export bundle (see pipeline.bundle), including "bundle" (the zip)

    @property
    def frame_times_in_video(self) -> tuple[float, ...] | None:
        """Seconds of the whole video at which the model saw a frame."""
        if self.layout.frame_times is None:
            return None
        return tuple(self.clip_start + t for t in self.layout.frame_times)

    @property
    def display_layout(self) -> MediaLayout:
        """The layout that goes with `display`: frame times in seconds of the whole video."""
        if self.layout.frame_times is None:
            return self.layout
        return replace(self.layout, frame_times=self.frame_times_in_video)


def run(
    task: Task,
    engine: Any,
    workdir: Path,
    *,
    tracker: Callable[[], Any] | None = None,
    cancel: threading.Event | None = None,
    model_info: dict[str, Any] | None = None,
) -> Iterator[Progress | Partial | Answer]:
    """Answer `task` with `engine` (a Molmo2Engine), writing files under `workdir`. `tracker()` returns the SAM 2
    tracker, loaded on first use; it is needed when the task wants masks."""
    from pipeline.bundle import write_bundle

    cancel = cancel or threading.Event()
    workdir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    yield Progress("media", 0, 1, "Reading the media")
    request, images, plan, notes = _load_media(task)
    timings["media_check"] = time.perf_counter() - started
    info, start, planned = plan if plan is not None else (None, 0.0, None)
    yield Loaded(tuple(images), info, planned, tuple(notes))

    yield Progress("answer", 0, 1, "Molmo2 is looking")
    text, parser, last, points = "", StreamingParser(), 0.0, 0
    stream = engine.stream(request, cancel)
    for delta in stream:
        text += delta
        new = parser.feed(delta)
        points += len(new)
        if new or time.perf_counter() - last > PARTIAL_EVERY:
            last = time.perf_counter()
            yield Partial(text, points, shift_keys(parser.result(), start))
    result = stream.result
    timings.update({("molmo2" if k == "total" else k): v for k, v in result.timings.items()})
    grounding = parse(result.text)
    layout = _layout(images, result)
    clip_start = result.clip_start or 0.0
    display = shift_keys(grounding, clip_start)

    masks = None
    if _wants_masks(task) and grounding.objects and result.finish_reason != "cancelled":
        masks = yield from _masks(task, tracker, grounding, layout, images, clip_start, cancel, timings)

    yield Progress("render", 0, 1, "Drawing the answer")
    t = time.perf_counter()
    overlays, annotated = _render(task, workdir, display, images, result, masks)
    strip = _film_strip(workdir, result)
    timings["render"] = time.perf_counter() - t

    answer = Answer(
        task=task,
        text=result.text,
        grounding=grounding,
        display=display,
        layout=layout,
        result=result,
        images=tuple(images),
        video=result.video,
        clip_start=clip_start,
        masks=masks,
        annotated_video=annotated,
        overlays=tuple(overlays),
        film_strip=strip,
        timings=timings,
        notes=tuple(notes) + tuple(masks.warnings if masks is not None else ()),
        files={},
    )
    yield Progress("export", 0, 1, "Writing the export bundle")
    timings["total"] = time.perf_counter() - started
    files = write_bundle(answer, workdir, model_info or {})
    yield replace(answer, files=files)


def shift_keys(grounding: Grounding, offset: float) -> Grounding:
    """The same answer with video keys moved by `offset` seconds (prompt times are relative to the clip start)."""
    if not offset:
        return grounding
    objects = tuple(
        GroundedObject(o.kind, o.label, o.alt, tuple(replace(p, key=round(p.key + offset, 6)) for p in o.points))
        for o in grounding.objects
    )
    return replace(grounding, objects=objects)


def video_plan(path: str, max_frames: int, max_fps: float, start: float | None, end: float | None) -> dict[str, Any]:
    """What a video question will cost before it runs: the frames Molmo2 will see and about how many tokens."""
    from inference.video import probe_video, sample_times

    info = probe_video(path)
    begin = max(0.0, start or 0.0)
    stop = min(info.duration, end) if end else info.duration
    times = sample_times(max(0.0, stop - begin), max_frames=max_frames, max_fps=max_fps)
    # 81 <im_patch> + 2 markers per frame, plus its "t.t " timestamp (about 5 tokens, §5.4), plus the question.
    tokens = len(times) * 88 + 40
    return {"info": info, "frames": len(times), "tokens": tokens, "first": times[0], "last": times[-1] + begin}


def browser_playable(info) -> bool:
    """Whether browsers play this upload as it is; if not, the player shows our H.264 rendering instead."""
    return info.codec in BROWSER_PLAYABLE.get(info.container, ()) and info.pixel_format in ("yuv420p", "yuvj420p")


def _load_media(task: Task):
    """Check the media before any model work. Images are decoded once here and the request carries them; a video
    is probed (its frames are decoded by the preprocessor, overlapped with resizing), which gives the plan."""
    request = task.request()
    notes: list[str] = []
    if task.is_video:
        from inference.video import clip_times, probe_video

        s = task.settings
        info = probe_video(task.media[0])
        notes.extend(info.notes)
        start, times = clip_times(info.duration, s.clip_start, s.clip_end, max_frames=s.max_frames, max_fps=s.max_fps)
        return request, [], (info, start, tuple(start + t for t in times)), notes
    loaded = [load_image(path) for path in task.media]
    for k, image in enumerate(loaded, start=1):
        notes.extend(f"image {k}: {note}" if len(loaded) > 1 else note for note in image.notes)
    it = iter(loaded)
    content = [
        {**p, "image": next(it).image} if p.get("type") == "image" else p for p in request.messages[0]["content"]
    ]
    messages = [{**request.messages[0], "content": content}, *request.messages[1:]]
    return replace(request, messages=messages), [np.array(i.image) for i in loaded], None, notes


def _layout(images: list[np.ndarray], result) -> MediaLayout:
    if result.video is None:
        return MediaLayout(sizes=tuple((i.shape[1], i.shape[0]) for i in images))
    return MediaLayout(
        sizes=((result.video.width, result.video.height),),
        frame_times=tuple(result.frame_times),
        frame_indices=tuple(result.frame_indices),
        fps=result.video.fps,
    )


def _wants_masks(task: Task) -> bool:
    return task.kind == "tracking" or task.settings.sam2 != "off"


def _masks(task, tracker, grounding, layout, images, clip_start, cancel, timings):
    """SAM 2 masks for the answer's points and tracks, with per-frame progress."""
    if tracker is None:
        return None
    yield Progress("masks", 0, 1, "Loading SAM 2")
    segmenter = tracker()
    done = {"n": 0, "total": 1}

    def progress(n: int, total: int) -> None:
        done["n"], done["total"] = n, total

    t = time.perf_counter()
    result: dict[str, Any] = {}

    def work():
        try:
            if not task.is_video:
                result["masks"] = segmenter.segment_images(images, grounding, progress, cancel=cancel)
            else:
                end = task.settings.clip_end
                result["masks"] = segmenter.track(
                    task.media[0], grounding, progress, layout=layout, start=clip_start, end=end, cancel=cancel
                )
        except BaseException as err:  # handed to the caller's thread below
            result["error"] = err

    worker = threading.Thread(target=work, name="sam2", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
        yield Progress("masks", done["n"], done["total"], f"SAM 2: {done['n']} / {done['total']}")
    timings["sam2"] = time.perf_counter() - t
    if "error" in result:
        raise result["error"]
    return result["masks"]


def _film_strip(workdir: Path, result):
    """The frames the model saw, side by side in one JPEG, for the player's film strip (video answers)."""
    if result.frame_thumbnails is None or not result.frame_times:
        return None
    from visualization.filmstrip import write_film_strip

    times = tuple((result.clip_start or 0.0) + t for t in result.frame_times)
    try:
        return write_film_strip(result.frame_thumbnails, times, workdir / "frames_seen.jpg")
    except (OSError, ValueError) as err:  # a nicety: the answer stands without it
        log.warning("no film strip: %s", err)
        return None


def _render(task: Task, workdir: Path, display: Grounding, images, result, masks) -> tuple[list[Path], Path | None]:
    from visualization import render_annotated_video
    from visualization.overlay import overlay_images

    if not task.is_video:
        image_masks = None
        if masks is not None:
            image_masks = [masks.at(k) for k in range(1, len(images) + 1)]
        paths = []
        for k, overlay in enumerate(overlay_images(images, display, image_masks), start=1):
            path = workdir / f"overlay_{k}.png"
            overlay.image.save(path)
            paths.append(path)
        return paths, None
    if masks is None and browser_playable(result.video):
        return [], None
    out = workdir / "annotated.mp4"
    frame_times = tuple((result.clip_start or 0.0) + t for t in result.frame_times)
    render_annotated_video(
        task.media[0], display, masks.to_coco() if masks is not None else None, out, frame_times=frame_times
    )
    return [], out
