"""SAM 2's result as plain data: per object, per frame, a COCO-RLE mask with its box and area at the original
resolution, the COCO-style export keyed by Molmo2 id, and the count summary. No model code here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


@dataclass(frozen=True)
class FrameMask:
    rle: dict[str, Any]  # COCO compressed RLE: {"size": [H, W], "counts": str}
    bbox: tuple[int, int, int, int]  # x, y, w, h in original pixels
    area: int  # mask pixels


@dataclass(frozen=True)
class ObjectMasks:
    id: int  # the Molmo2 id
    label: str
    kind: str  # "tracks" (propagated through its life) or "points" (a mask on each point's own frame)
    keyframes: tuple[int, ...]  # frames (or image numbers) where SAM 2 was prompted with Molmo2's point
    spans: tuple[tuple[int, int], ...]  # inclusive frame ranges SAM 2 tracked the id over: its life
    frames: Mapping[int, FrameMask]  # frame index of the original video (or image number) -> mask; no empty masks


@dataclass(frozen=True)
class Masks:
    width: int  # of the original video (for images: the first image; each RLE carries its own size)
    height: int
    frame_times: tuple[float, ...]  # seconds of original frame i, from frame 0 to the last tracked one; () for images
    model: str  # e.g. "sam2.1-hiera-small"
    objects: tuple[ObjectMasks, ...]  # in order of first appearance
    molmo2_count: int | None  # Grounding.count: what Molmo2 said, or the ids it marked
    stride: int = 1  # SAM 2 saw every stride-th frame of the range; masks exist on those frames only
    image_sizes: tuple[tuple[int, int], ...] = ()  # (width, height) of each image, for image requests
    random_weights: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def sam2_objects(self) -> int:
        """Ids with at least one non-empty mask."""
        return sum(1 for o in self.objects if o.frames)

    def at(self, frame_index: int) -> dict[int, np.ndarray]:
        """id -> boolean mask [H, W] on one frame (or image number), decoding only that frame's masks."""
        return {o.id: decode(o.frames[frame_index].rle) for o in self.objects if frame_index in o.frames}

    def summary(self) -> dict[str, Any]:
        sam2 = self.sam2_objects
        return {
            "molmo2_count": self.molmo2_count,
            "sam2_objects": sam2,
            "agree": (self.molmo2_count or 0) == sam2,
            "ids_without_masks": [o.id for o in self.objects if not o.frames],
            "warnings": list(self.warnings),
        }

    def to_coco(self) -> dict[str, Any]:
        """COCO-style export (README "SAM 2 masks"): object keys are Molmo2 ids, frame keys original frame indices."""
        info: dict[str, Any] = {
            "width": self.width,
            "height": self.height,
            "frame_times": list(self.frame_times),
            "model": self.model,
            "random_weights": self.random_weights,
            "stride": self.stride,
        }
        if self.image_sizes:
            info["image_sizes"] = [list(size) for size in self.image_sizes]
        objects = {
            str(o.id): {
                "label": o.label,
                "kind": o.kind,
                "keyframes": list(o.keyframes),
                "spans": [list(span) for span in o.spans],
                "frames": {
                    str(f): {"rle": m.rle, "bbox": list(m.bbox), "area": m.area} for f, m in sorted(o.frames.items())
                },
            }
            for o in self.objects
        }
        return {"info": info, "objects": objects, "summary": self.summary()}


def encode(masks: np.ndarray) -> list[FrameMask | None]:
    """Boolean masks [N, H, W] -> one FrameMask each, None for an empty mask."""
    if len(masks) == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))  # wants [H, W, N]
    areas, boxes = mask_utils.area(rles), mask_utils.toBbox(rles)
    return [
        FrameMask({"size": list(r["size"]), "counts": r["counts"].decode("ascii")}, tuple(map(int, box)), int(area))
        if area
        else None
        for r, area, box in zip(rles, areas, boxes)
    ]


def decode(rle: Mapping[str, Any]) -> np.ndarray:
    """COCO RLE (counts as str or bytes) -> boolean mask [H, W]."""
    counts = rle["counts"].encode() if isinstance(rle["counts"], str) else rle["counts"]
    return mask_utils.decode({"size": list(rle["size"]), "counts": counts}).astype(bool)
