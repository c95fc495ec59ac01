"""The film strip under the video player: the frames Molmo2 saw that hold evidence, as it saw them, each with its
points drawn as dots; a frame seeks the player to its time.

The frames come from the engine (GenerationResult.frame_thumbnails, made from the very patches the model read), so
nothing is decoded again. They are written side by side (in rows when many) into one JPEG that the player shows
frame by frame.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from visualization.marks import Evidence
from visualization.palette import hex_colour, id_colour

MAX_SIDE = 65_000  # pixels; JPEG's limit is 65,535 a side


@dataclass(frozen=True)
class FilmStrip:
    path: Path  # one JPEG: the frames in time order, left to right, wrapped into rows of `columns` frames
    frame_width: int
    frame_height: int
    columns: int
    times: tuple[float, ...]  # seconds of the whole video, one per frame

    def cell(self, i: int) -> tuple[int, int]:
        """Top-left pixel of frame i in the JPEG."""
        return (i % self.columns) * self.frame_width, (i // self.columns) * self.frame_height


def write_film_strip(thumbnails: np.ndarray, times: Sequence[float], out: str | Path) -> FilmStrip:
    """thumbnails: [T, h, w, 3] uint8 of the frames seen at `times` (seconds of the whole video). One row while it
    fits JPEG's 65,535-pixel limit, more rows beyond (384 frames of a 2.39:1 video need two)."""
    count, height, width, _ = thumbnails.shape
    if count != len(times) or count == 0:
        raise ValueError(f"{count} frames but {len(times)} times")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ValueError(f"frames of {width}x{height} do not fit a JPEG")
    columns = min(count, MAX_SIDE // width)
    rows = math.ceil(count / columns)
    if rows * height > MAX_SIDE:
        raise ValueError(f"{count} frames of {width}x{height} do not fit a JPEG")
    grid = np.zeros((rows * columns, height, width, 3), np.uint8)
    grid[:count] = thumbnails
    sheet = grid.reshape(rows, columns, height, width, 3).transpose(0, 2, 1, 3, 4).reshape(rows * height, -1, 3)
    out = Path(out)
    Image.fromarray(np.ascontiguousarray(sheet)).save(out, quality=85)
    return FilmStrip(out, width, height, columns, tuple(float(t) for t in times))


def strip_frames(strip: FilmStrip, evidence: Evidence) -> list[dict[str, Any]]:
    """The frames with evidence: {"i": index in the strip, "t": seconds, "dots": [[x, y, colour, id], ...]}. A point
    belongs to the nearest frame seen, when that is within the time it is on screen (Timing.half_window)."""
    frames: dict[int, list[list[Any]]] = {}
    marks = [*evidence.points, *(k for t in evidence.tracks for r in t.runs for k in r.keys)]
    for p in marks:
        i = _nearest(strip.times, p.key)
        if i is not None and abs(strip.times[i] - p.key) <= evidence.timing.half_window:
            frames.setdefault(i, []).append([p.x, p.y, hex_colour(id_colour(p.slot)), p.id])
    return [{"i": i, "t": strip.times[i], "dots": dots} for i, dots in sorted(frames.items())]


def _nearest(times: Sequence[float], t: float) -> int | None:
    if not times:
        return None
    i = bisect_left(times, t)
    candidates = [j for j in (i - 1, i) if 0 <= j < len(times)]
    return min(candidates, key=lambda j: abs(times[j] - t))
