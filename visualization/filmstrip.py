"""The film strip under the video player: the frames Molmo2 saw that hold evidence, as it saw them, each with its
points drawn as dots; a frame seeks the player to its time.

The frames come from the engine (GenerationResult.frame_thumbnails, made from the very patches the model read), so
nothing is decoded again. They are written side by side into one JPEG that the player shows frame by frame.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from visualization.marks import Evidence
from visualization.palette import hex_colour, id_colour

MAX_WIDTH = 65_000  # JPEG's limit is 65,535 pixels a side


@dataclass(frozen=True)
class FilmStrip:
    path: Path  # one JPEG: the frames side by side, left to right in time order
    frame_width: int
    frame_height: int
    times: tuple[float, ...]  # seconds of the whole video, one per frame


def write_film_strip(thumbnails: np.ndarray, times: Sequence[float], out: str | Path) -> FilmStrip:
    """thumbnails: [T, h, w, 3] uint8 of the frames seen at `times` (seconds of the whole video)."""
    count, height, width, _ = thumbnails.shape
    if count != len(times):
        raise ValueError(f"{count} frames but {len(times)} times")
    count = min(count, MAX_WIDTH // width)
    row = np.ascontiguousarray(thumbnails[:count].transpose(1, 0, 2, 3).reshape(height, count * width, 3))
    out = Path(out)
    Image.fromarray(row).save(out, quality=85)
    return FilmStrip(out, width, height, tuple(float(t) for t in times[:count]))


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
