"""The annotated MP4: masks, points, track ids, running count and timestamp burned into every frame.

Browser-playable by construction: H.264 from libx264, yuv420p, even dimensions, index at the front (+faststart).
Frames are decoded, drawn and encoded one at a time, so memory stays flat whatever the clip's length.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

from visualization.marks import Evidence, count_at, track_dots, video_evidence, visible_points
from visualization.masks import MaskSet, decode, mask_set
from visualization.overlay import HALO, WHITE, MaskPatch, blend_masks, draw_marker, font, marker_radius, mask_patch
from visualization.palette import RGB, id_colour

# veryfast keeps 720p rendering well above real time on two cores; crf 23 is x264's default quality.
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
FrameItem = tuple[int, float, np.ndarray]  # (frame index in the original video, seconds, [H, W, 3] uint8 RGB)


def render_annotated_video(
    video: str | Path | Iterable[Any],
    grounding: Any,
    masks: Mapping[str, Any] | None = None,
    out: str | Path = "annotated.mp4",
    *,
    frame_times: Sequence[float] | None = None,
    fps: float | None = None,
    max_side: int | None = 1280,
) -> Path:
    """Write `out`, an H.264 MP4 of `video` with the grounded answer burned in, and return its path.

    video: a file path (decoded by inference.video.iter_frames, frames scaled to at most `max_side` pixels) or an
        iterable of frames: objects with .index, .time, .image or (index, time, image) tuples, image [H, W, 3] RGB.
    grounding: a Grounding or its dict (keys in seconds). masks: the COCO-RLE export (see visualization.masks).
    frame_times: times of the frames the model saw; they set how long points stay on screen (see marks.Timing).
    fps: output frame rate; by default the video's, or for frames, 1 / the time between the first two.
    """
    out = Path(out)
    frames, fps = _frames(video, fps, max_side)
    evidence = video_evidence(grounding, frame_times)
    masks_on = _MaskFrames(mask_set(masks), evidence) if masks else None
    with av.open(str(out), "w", options={"movflags": "+faststart"}) as container:
        stream, last_pts = None, -1
        for index, time, image in frames:
            if stream is None:
                stream = _h264_stream(container, fps, image.shape)
            picture = annotate_frame(image, evidence, time, masks_on.at(index, image.shape) if masks_on else ())
            frame = av.VideoFrame.from_image(picture)
            # Presentation time from the frame's own time keeps variable-rate and subsampled input in sync.
            frame.pts = last_pts = max(last_pts + 1, round(time * fps))
            container.mux(stream.encode(frame))
        if stream is None:
            raise ValueError("the video has no frames")
        container.mux(stream.encode())
    return out


def annotate_frame(
    image: np.ndarray, evidence: Evidence, t: float, masks: Sequence[tuple[MaskPatch, RGB]] = ()
) -> Image.Image:
    """One output frame: masks, the points around t, track dots, and a count/time badge; padded to even size."""
    h, w = image.shape[:2]
    frame = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")  # also the copy we draw on
    blend_masks(frame, masks)
    picture = Image.fromarray(frame)
    draw, r = ImageDraw.Draw(picture), marker_radius(w, h)
    for p in visible_points(evidence, t):
        draw_marker(draw, p.x * w, p.y * h, r, id_colour(p.slot), str(p.id))
    for dot in track_dots(evidence, t):
        draw_marker(draw, dot.x * w, dot.y * h, r, id_colour(dot.track.slot), str(dot.track.id), dot.observed)
    _draw_badge(draw, min(w, h), f"count {count_at(evidence, t)}/{evidence.total}   {t:.2f} s")
    return picture


def _draw_badge(draw: ImageDraw.ImageDraw, short_side: int, text: str) -> None:
    text_font = font(round(0.04 * short_side))
    pad = round(0.015 * short_side)
    _, _, right, bottom = draw.textbbox((2 * pad, 2 * pad), text, font=text_font)
    draw.rounded_rectangle((pad, pad, right + pad, bottom + pad), radius=pad, fill=HALO)
    draw.text((2 * pad, 2 * pad), text, fill=WHITE, font=text_font)


class _MaskFrames:
    """Masks shown on each frame as (patch at the frame's size, colour); decodes each RLE once."""

    def __init__(self, masks: MaskSet, evidence: Evidence):
        self.masks, self.evidence = masks, evidence
        self.decoded: dict[int, tuple[int, MaskPatch | None]] = {}  # id -> (masked frame index, patch)

    def at(self, frame_index: int, shape: tuple[int, ...]) -> list[tuple[MaskPatch, RGB]]:
        shown = []
        for id, (key, rle) in self.masks.at(frame_index).items():
            if self.decoded.get(id, (None,))[0] != key:
                self.decoded[id] = (key, mask_patch(_resize_nearest(decode(rle), shape[:2])))
            patch = self.decoded[id][1]
            if patch is not None:
                shown.append((patch, id_colour(self.evidence.slot_of(id))))
        return shown


def _resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Masks are at the original video's size; frames may have been scaled down by max_side."""
    if mask.shape == size:
        return mask
    rows = np.arange(size[0]) * mask.shape[0] // size[0]
    cols = np.arange(size[1]) * mask.shape[1] // size[1]
    return mask[np.ix_(rows, cols)]


def _h264_stream(container: av.container.OutputContainer, fps: float, shape: tuple[int, ...]) -> av.VideoStream:
    stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001), options=X264_OPTIONS)
    stream.height, stream.width = shape[0] + shape[0] % 2, shape[1] + shape[1] % 2
    stream.pix_fmt = "yuv420p"
    return stream


def _frames(video: str | Path | Iterable[Any], fps: float | None, max_side: int | None):
    """(frames as FrameItem, fps) for a path or an iterable of frames."""
    if isinstance(video, str | Path):
        from inference.video import iter_frames, probe_video  # the project's one decoder (media branch)

        frames: Iterator[FrameItem] = ((f.index, f.time, f.image) for f in iter_frames(video, max_side=max_side))
        return frames, fps or probe_video(video).fps
    frames = (_unpack(item) for item in video)
    if fps is not None:
        return frames, fps
    head = list(itertools.islice(frames, 2))
    if len(head) < 2 or head[1][1] <= head[0][1]:
        raise ValueError("pass fps= for fewer than two frames or frames without increasing times")
    return itertools.chain(head, frames), 1 / (head[1][1] - head[0][1])


def _unpack(item: Any) -> FrameItem:
    if hasattr(item, "image"):
        return item.index, item.time, item.image
    index, time, image = item
    return index, time, image
