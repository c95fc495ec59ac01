"""The plan SAM 2 follows for a grounded answer: which frames of the range, which clicks on which frames, and each
id's life (README "SAM 2 masks"); pure data from the answer and the frames' timing, no model."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.grounding import TIME_TOLERANCE, Grounding, Kind, MediaLayout, Point, frame_for_time, point_pixels

MOVE_FAR = 0.2  # a track point this far (share of the frame's longer side) from the last keyframe is a keyframe


@dataclass(frozen=True)
class TrackLimits:
    """Per request. Frames are kept on the CPU as uint8 at the model size (3 MB each at 1024 px)."""

    max_frames: int = 600  # frames SAM 2 tracks; a longer range is tracked every k-th frame
    max_tracks: int = 20  # tracked ids; each costs a tracking step on every frame of its life
    max_points: int = 200  # single-frame masks (counting points, image points)
    max_side: int = 4096  # pixels, either side of the original video or image


@dataclass(frozen=True)
class Frames:
    """Decoded frames of the range SAM 2 tracks, in stream order."""

    images: Sequence[np.ndarray]  # each [h, w, 3] uint8 upright RGB, any scale of the original
    indices: tuple[int, ...]  # original-video frame index of each image, ascending
    times: tuple[float, ...]  # presentation time of each image, seconds from the stream start
    size: tuple[int, int]  # (width, height) of the original video as displayed: masks come back at this size
    fps: float  # average frame rate of the original video

    def __post_init__(self):
        if not self.images or not len(self.images) == len(self.indices) == len(self.times):
            raise ValueError("Frames needs at least one image and one index and time per image")
        if any(b <= a for a, b in zip(self.indices, self.indices[1:])):
            raise ValueError("Frames indices must be strictly ascending")
        if any(image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 for image in self.images):
            raise ValueError("Frames images must be [h, w, 3] uint8 RGB")

    @classmethod
    def from_frames(cls, frames: Iterable[Any], size: tuple[int, int], fps: float) -> Frames:
        """From objects with .index, .time and .image, such as inference.video.iter_frames yields."""
        items = list(frames)
        images, indices, times = (tuple(getattr(f, name) for f in items) for name in ("image", "index", "time"))
        return cls(images, indices, times, size, fps)

    def every(self, step: int) -> Frames:
        return Frames(self.images[::step], self.indices[::step], self.times[::step], self.size, self.fps)


@dataclass(frozen=True)
class Keyframe:
    position: int  # index into the tracked frames
    x: float  # pixels of the original frame
    y: float


@dataclass(frozen=True)
class Span:
    """Part of an id's life: SAM 2 tracks it from `key` backward to `start` and forward to `end` (positions)."""

    start: int
    key: int
    end: int


@dataclass(frozen=True)
class ObjectPlan:
    id: int
    label: str
    kind: Kind
    keyframes: tuple[Keyframe, ...]  # tracks: SAM 2's conditioning frames; points: the single frame masked
    spans: tuple[Span, ...]  # tracks only


@dataclass(frozen=True)
class Plan:
    objects: tuple[ObjectPlan, ...]  # in order of first appearance
    warnings: tuple[str, ...]


def plan_video(grounding: Grounding, frames: Frames, layout: MediaLayout | None, limits: TrackLimits) -> Plan:
    """Where each id is prompted and which frames it is tracked over.

    Keys are seconds: mapped through the Molmo2 prompt's layout when given (its times may count from a clip's
    start), else matched against the frames' own times. The life rule: Molmo2 saw the frames of its prompt (without a
    layout: the frames any point is on). A run of seen frames on which an id has points is tracked from just after
    the last seen frame without it to just before the next one, so SAM 2 finds the entry and exit between Molmo2's
    frames; a track missing from a seen frame is lost there (the player's rule) and masked again from its next point.
    """
    notes: dict[str, list[int]] = defaultdict(list)
    located = [_located(obj.points, frames, layout, notes) for obj in grounding.objects]
    seen = _seen(frames, layout, [pos for by_id in located for points in by_id.values() for pos, _ in points])
    objects, owners = [], {}
    for index, (obj, by_id) in enumerate(zip(grounding.objects, located)):
        for id, points in by_id.items():
            if owners.setdefault(id, index) != index:
                notes["repeated"].append(id)
            elif not points:
                notes["nowhere"].append(id)
            elif obj.kind == "points":
                keyframes = tuple(Keyframe(pos, *point_pixels(p, *frames.size)) for pos, p in points)
                objects.append(ObjectPlan(id, obj.label, "points", keyframes, ()))
            else:
                objects.append(_track_plan(id, obj.label, points, seen, len(frames.indices), frames.size))
    objects.sort(key=lambda o: (o.keyframes[0].position, o.id))
    return Plan(tuple(_capped(objects, limits, notes)), _messages(notes, limits))


def _located(
    points: Iterable[Point], frames: Frames, layout: MediaLayout | None, notes: dict[str, list[int]]
) -> dict[int, list[tuple[int, Point]]]:
    """id -> (position, point) for its points on tracked frames, one per frame, in time order."""
    by_id: dict[int, dict[int, Point]] = {}
    for p in points:
        if not isinstance(p.key, float):
            notes["image"].append(p.id)
            continue
        on = by_id.setdefault(p.id, {})
        position = _locate(p.key, frames, layout)
        if position is None:
            notes["outside"].append(p.id)
        else:
            on.setdefault(position, p)
    return {id: sorted(on.items()) for id, on in by_id.items()}


def _locate(t: float, frames: Frames, layout: MediaLayout | None) -> int | None:
    """Position of the tracked frame showing key t, or None when t is outside the tracked range."""
    if layout:
        times, indices, fps, slack = layout.frame_times, layout.frame_indices, layout.fps, TIME_TOLERANCE
    else:  # keys between decoded frames are fine, up to one frame interval past the last one
        times, indices, fps = frames.times, frames.indices, frames.fps
        slack = TIME_TOLERANCE + (float(np.median(np.diff(times))) if len(times) > 1 else 0.0)
    if times and not times[0] - slack <= t <= times[-1] + slack:
        return None
    return _position(frame_for_time(t, times, indices, fps), frames)


def _position(index: int, frames: Frames) -> int | None:
    """Tracked frame nearest to original frame `index`; None when none is within one stride of it."""
    i = int(np.searchsorted(frames.indices, index))
    best = min((c for c in (i - 1, i) if 0 <= c < len(frames.indices)), key=lambda c: abs(frames.indices[c] - index))
    stride = max(np.diff(frames.indices), default=1)
    return best if abs(frames.indices[best] - index) <= stride else None


def _seen(frames: Frames, layout: MediaLayout | None, positions: list[int]) -> list[int]:
    """Positions of the frames Molmo2 saw, as far as they are known."""
    seen = set(positions)
    if layout and layout.frame_times:
        seen.update(p for t in layout.frame_times if (p := _locate(t, frames, layout)) is not None)
    return sorted(seen)


def _track_plan(
    id: int, label: str, points: list[tuple[int, Point]], seen: list[int], count: int, size: tuple[int, int]
) -> ObjectPlan:
    at = dict(points)
    runs: list[list[int]] = []  # runs of consecutive seen positions on which the id has a point
    for i, pos in enumerate(seen):
        if pos in at:
            if runs and runs[-1][-1] == seen[i - 1]:
                runs[-1].append(pos)
            else:
                runs.append([pos])
    keyframes, spans = [], []
    for run in runs:
        i, j = seen.index(run[0]), seen.index(run[-1])
        start = seen[i - 1] + 1 if i > 0 else 0
        end = seen[j + 1] - 1 if j + 1 < len(seen) else count - 1
        spans.append(Span(start, run[0], end))
        last = None
        for pos in run:  # each run's first point, then points far from the last keyframe
            x, y = point_pixels(at[pos], *size)
            if last is None or math.dist((x, y), last) > MOVE_FAR * max(size):
                keyframes.append(Keyframe(pos, x, y))
                last = (x, y)
    return ObjectPlan(id, label, "tracks", tuple(keyframes), tuple(spans))


def _capped(objects: list[ObjectPlan], limits: TrackLimits, notes: dict[str, list[int]]) -> list[ObjectPlan]:
    room = {"tracks": limits.max_tracks, "points": limits.max_points}
    kept = []
    for o in objects:
        if room[o.kind]:
            room[o.kind] -= 1
            kept.append(o)
        else:
            notes[o.kind].append(o.id)
    return kept


def _messages(notes: dict[str, list[int]], limits: TrackLimits) -> tuple[str, ...]:
    def ids(key: str) -> str:
        unique = list(dict.fromkeys(notes[key]))
        more = f" and {len(unique) - 10} more" if len(unique) > 10 else ""
        return ("id " if len(unique) == 1 else "ids ") + ", ".join(map(str, unique[:10])) + more

    out = []
    if notes["image"]:
        out.append("ignored points keyed by image number: this is a video")
    if notes["off images"]:
        out.append(f"ignored points that are not on one of the given images ({ids('off images')})")
    if notes["outside"]:
        out.append(f"ignored points at times outside the tracked frames ({ids('outside')})")
    if notes["nowhere"]:
        out.append(f"no mask for {ids('nowhere')}: no point on a tracked frame")
    if notes["repeated"]:
        out.append(f"{ids('repeated')} used by more than one element: masks follow the first")
    if notes["tracks"]:
        out.append(f"SAM 2 tracks at most {limits.max_tracks} ids per request: no masks for {ids('tracks')}")
    if notes["points"]:
        out.append(f"SAM 2 masks at most {limits.max_points} points per request: no masks for {ids('points')}")
    return tuple(out)


def image_plans(
    images: Sequence[np.ndarray], grounding: Grounding, limits: TrackLimits
) -> tuple[dict[int, list[ObjectPlan]], tuple[str, ...]]:
    """Image number -> a single-click plan per id on it; and the warnings for points that get no mask."""
    notes: dict[str, list[int]] = defaultdict(list)
    plans: dict[int, list[ObjectPlan]] = defaultdict(list)
    owners: dict[int, tuple[int, int | float]] = {}
    for index, obj in enumerate(grounding.objects):
        for p in obj.points:
            if isinstance(p.key, float) or not 1 <= p.key <= len(images):
                notes["off images"].append(p.id)
            elif owners.setdefault(p.id, (index, p.key)) != (index, p.key):
                notes["repeated"].append(p.id)
            else:
                height, width = images[p.key - 1].shape[:2]
                keyframe = Keyframe(0, *point_pixels(p, width, height))
                plans[p.key].append(ObjectPlan(p.id, obj.label, "points", (keyframe,), ()))
    kept = {o.id for o in _capped([o for n in sorted(plans) for o in plans[n]], limits, notes)}
    plans = {n: [o for o in objects if o.id in kept] for n, objects in plans.items()}
    return {n: objects for n, objects in plans.items() if objects}, _messages(notes, limits)
