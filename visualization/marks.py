"""Grounding → what to draw: points and tracks with their colour slots, and when each one is on screen.

This module owns the time rules that the MP4 renderer, the browser player (which receives the computed windows
and runs) and the charts all follow; `Timing` documents them.
"""

from __future__ import annotations

import itertools
import statistics
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

# Molmo2 samples video at up to 2 fps (docs/molmo2-inference.md §5.1); used when the frame times are unknown.
DEFAULT_INTERVAL = 0.5
# Shortest on-screen time around a point, so a point from densely sampled frames is still seen while playing.
MIN_HALF_WINDOW = 0.25


@dataclass(frozen=True)
class Point:
    key: float  # seconds for a video, 1-based image index for images
    id: int
    x: float  # [0, 1] of the original media's width
    y: float  # [0, 1] of the original media's height
    label: str
    slot: int  # colour slot, see colour_slot


@dataclass(frozen=True)
class Run:
    """A stretch of a track with no gap longer than Timing.max_gap, on screen from `start` to `end` seconds."""

    start: float
    end: float
    keys: tuple[Point, ...]  # keyframes, sorted by time


@dataclass(frozen=True)
class Track:
    id: int
    label: str
    slot: int
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Timing:
    """Time rules, all derived from the interval between the frames the model saw.

    - a point is shown for ±half_window around its timestamp: half the sampling interval (at least 0.25 s), so at
      any moment the points of the nearest sampled frame are on screen;
    - a track dot is "observed" within ±observed of one of its keyframes and "interpolated" in between;
    - a track is lost across a gap longer than max_gap (1.5 intervals: the model skipped at least one sampled frame).
    """

    interval: float

    @property
    def half_window(self) -> float:
        return max(self.interval / 2, MIN_HALF_WINDOW)

    @property
    def observed(self) -> float:
        return self.interval / 4

    @property
    def max_gap(self) -> float:
        return 1.5 * self.interval


@dataclass(frozen=True)
class LegendEntry:
    label: str
    count: int  # distinct ids with this label
    slot: int


@dataclass(frozen=True)
class Evidence:
    """A video's grounded answer, ready to draw: pointing answers, tracks, and the frames the model saw."""

    points: tuple[Point, ...]  # sorted by time
    tracks: tuple[Track, ...]  # sorted by id
    timing: Timing
    sampled: tuple[float, ...]  # times of the frames the model saw (empty when unknown)

    @property
    def total(self) -> int:
        return len(self.firsts)

    @cached_property
    def firsts(self) -> tuple[Point, ...]:
        """Each id's first point or track keyframe, in time order: the steps of the running count."""
        first: dict[int, Point] = {}
        for p in sorted([*self.points, *(track.runs[0].keys[0] for track in self.tracks)], key=lambda p: p.key):
            first.setdefault(p.id, p)
        return tuple(first.values())

    @property
    def stops(self) -> tuple[float, ...]:
        """Distinct times of all evidence (points and track keyframes): where previous/next point navigate."""
        keys = [p.key for p in self.points] + [k.key for t in self.tracks for r in t.runs for k in r.keys]
        return tuple(sorted(set(keys)))

    def slot_of(self, id: int) -> int:
        """Colour slot of an id (for masks keyed by Molmo2 ids): the track's or point's slot."""
        for mark in (*self.tracks, *self.points):
            if mark.id == id:
                return mark.slot
        return id


def as_dict(grounding: Any) -> Mapping[str, Any]:
    """Accept a Grounding (anything with .to_dict()) or its dict form."""
    return grounding.to_dict() if hasattr(grounding, "to_dict") else grounding


def colour_slot(kind: str, label_index: int, id: int) -> int:
    """The colour rule: one colour per label for pointing answers (ids there are a count), one per id for tracks."""
    return id if kind == "tracks" else label_index


def _kinds_and_points(grounding: Any) -> list[tuple[str, Point]]:
    """Every point of every group with its group's kind; labels are indexed in order of first appearance."""
    labels: dict[str, int] = {}
    out = []
    for group in as_dict(grounding).get("objects", ()):
        label = group.get("label") or group.get("alt") or group["kind"]
        index = labels.setdefault(label, len(labels))
        for p in group.get("points", ()):
            key = 1.0 if p.get("key") is None else float(p["key"])
            slot = colour_slot(group["kind"], index, int(p["id"]))
            out.append((group["kind"], Point(key, int(p["id"]), float(p["x"]), float(p["y"]), label, slot)))
    return out


def image_points(grounding: Any) -> dict[int, tuple[Point, ...]]:
    """Points per 1-based image index (both kinds: a track over images is drawn as its points)."""
    by_image: dict[int, list[Point]] = {}
    for _, point in _kinds_and_points(grounding):
        by_image.setdefault(round(point.key), []).append(point)
    return {index: tuple(points) for index, points in sorted(by_image.items())}


def legend(points: Sequence[Point]) -> tuple[LegendEntry, ...]:
    """ "label (N)" entries in order of first appearance; N counts distinct ids."""
    ids: dict[str, set[int]] = {}
    slots: dict[str, int] = {}
    for p in points:
        ids.setdefault(p.label, set()).add(p.id)
        slots.setdefault(p.label, p.slot)
    return tuple(LegendEntry(label, len(ids[label]), slots[label]) for label in ids)


def sampling_timing(frame_times: Sequence[float] | None) -> Timing:
    """Timing from the times of the frames the model saw (median spacing), or Molmo2's default 2 fps."""
    gaps = [b - a for a, b in itertools.pairwise(frame_times or ()) if b > a]
    return Timing(statistics.median(gaps) if gaps else DEFAULT_INTERVAL)


def video_evidence(grounding: Any, frame_times: Sequence[float] | None = None) -> Evidence:
    """Pointing answers and tracks of a video answer (keys are seconds), with runs split where a track is lost."""
    timing = sampling_timing(frame_times)
    points, keys_by_track = [], {}
    for kind, point in _kinds_and_points(grounding):
        if kind == "tracks":
            keys_by_track.setdefault(point.id, []).append(point)
        else:
            points.append(point)
    tracks = [_track(sorted(keys, key=lambda k: k.key), timing) for _, keys in sorted(keys_by_track.items())]
    points.sort(key=lambda p: (p.key, p.id))
    return Evidence(tuple(points), tuple(tracks), timing, tuple(sorted(frame_times or ())))


def _track(keys: list[Point], timing: Timing) -> Track:
    runs, current = [], [keys[0]]
    for key in keys[1:]:
        if key.key - current[-1].key > timing.max_gap:
            runs.append(current)
            current = []
        current.append(key)
    runs.append(current)
    half = timing.half_window
    return Track(
        keys[0].id,
        keys[0].label,
        keys[0].slot,
        tuple(Run(max(0.0, run[0].key - half), run[-1].key + half, tuple(run)) for run in runs),
    )


def visible_points(evidence: Evidence, t: float) -> list[Point]:
    half = evidence.timing.half_window
    return [p for p in evidence.points if abs(p.key - t) <= half]


@dataclass(frozen=True)
class TrackDot:
    track: Track
    x: float
    y: float
    observed: bool  # near a keyframe (drawn filled) rather than interpolated between two (drawn as a ring)


def track_dots(evidence: Evidence, t: float) -> list[TrackDot]:
    """Where each track is at time t: interpolated inside a run, held at the run's ends, absent when lost."""
    dots = []
    for track in evidence.tracks:
        run = next((r for r in track.runs if r.start <= t <= r.end), None)
        if run is None:
            continue
        keys = run.keys
        i = bisect_right([k.key for k in keys], t)
        if i == 0 or i == len(keys):
            x, y = (keys[0].x, keys[0].y) if i == 0 else (keys[-1].x, keys[-1].y)
        else:
            a, b = keys[i - 1], keys[i]
            w = (t - a.key) / (b.key - a.key)
            x, y = a.x + w * (b.x - a.x), a.y + w * (b.y - a.y)
        observed = min(abs(k.key - t) for k in keys) <= evidence.timing.observed
        dots.append(TrackDot(track, x, y, observed))
    return dots


def count_at(evidence: Evidence, t: float) -> int:
    """Running count: distinct ids whose first evidence is at or before t."""
    return bisect_right([p.key for p in evidence.firsts], t)
