"""SAM 2 masks in their COCO-RLE export form: which mask shows on which frame, and where each id has masks.

Frames without an entry have no mask, except in a subsampled run: a mask stays on screen until the next masked
frame of the run would be due (`hold` frames), so masks computed every k-th frame do not flicker.
"""

from __future__ import annotations

import itertools
import statistics
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


@dataclass(frozen=True)
class MaskSet:
    width: int
    height: int
    frame_times: tuple[float, ...]  # time of each frame index of the original video (may be empty)
    rles: Mapping[int, Mapping[int, dict]]  # id -> frame index -> COCO RLE {"size": [H, W], "counts": str}
    hold: int  # frames a mask stays on screen: the usual spacing of masked frames

    def at(self, frame_index: int) -> dict[int, tuple[int, dict]]:
        """id -> (masked frame index, RLE) shown at `frame_index` (the nearest earlier mask within `hold`)."""
        shown = {}
        for id, frames in self.rles.items():
            keys = sorted(frames)
            i = bisect_right(keys, frame_index) - 1
            if i >= 0 and frame_index - keys[i] < self.hold:
                shown[id] = (keys[i], frames[keys[i]])
        return shown

    def coverage(self, fps: float | None = None) -> dict[int, list[tuple[float, float]]]:
        """id -> time spans (seconds) with a mask on screen, merging frames no more than `hold` apart."""
        spans: dict[int, list[tuple[float, float]]] = {}
        for id, frames in self.rles.items():
            runs: list[list[int]] = []
            for index in sorted(frames):
                if runs and index - runs[-1][1] <= self.hold:
                    runs[-1][1] = index
                else:
                    runs.append([index, index])
            spans[id] = [(self.time(a, fps), self.time(b + self.hold, fps)) for a, b in runs]
        return spans

    def time(self, frame_index: int, fps: float | None = None) -> float:
        """Seconds of a frame index: info.frame_times where it has the index, else index / fps."""
        if frame_index < len(self.frame_times):
            return self.frame_times[frame_index]
        if fps is None and len(self.frame_times) >= 2:
            fps = (len(self.frame_times) - 1) / (self.frame_times[-1] - self.frame_times[0])
        if not fps:
            raise ValueError("masks without info.frame_times need the video's fps to place frames in time")
        return frame_index / fps


def mask_set(coco: Mapping[str, Any]) -> MaskSet:
    """Read the COCO-style export: {"info": {...}, "objects": {"3": {"frames": {"12": {"rle": ...}}}}}."""
    info = coco.get("info", {})
    rles = {
        int(id): {int(frame): entry["rle"] for frame, entry in obj.get("frames", {}).items()}
        for id, obj in coco.get("objects", {}).items()
    }
    indices = sorted({frame for frames in rles.values() for frame in frames})
    gaps = [b - a for a, b in itertools.pairwise(indices)]
    return MaskSet(
        int(info.get("width", 0)),
        int(info.get("height", 0)),
        tuple(float(t) for t in info.get("frame_times", ())),
        rles,
        max(1, round(statistics.median(gaps))) if gaps else 1,
    )


def decode(rle: dict) -> np.ndarray:
    """COCO RLE -> boolean mask [H, W]."""
    rle = {"size": rle["size"], "counts": rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]}
    return mask_utils.decode(rle).view(bool)  # 0/1 bytes: a view, not a copy
