"""visualization/masks.py: COCO-RLE masks shown on the right frames and their coverage in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from visualization.masks import decode, mask_set


def rle(mask: np.ndarray) -> dict:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(encoded["size"]), "counts": encoded["counts"].decode()}


def export(frames_by_id: dict[int, list[int]], fps: float = 10.0, n_frames: int = 40) -> dict:
    mask = np.zeros((24, 32), bool)
    mask[4:10, 6:20] = True
    return {
        "info": {"width": 32, "height": 24, "frame_times": [i / fps for i in range(n_frames)]},
        "objects": {
            str(id): {"label": "thing", "frames": {str(f): {"rle": rle(mask), "bbox": [6, 4, 14, 6], "area": 84}
                                                   for f in frames}}
            for id, frames in frames_by_id.items()
        },
        "summary": {},
    }  # fmt: skip


def test_rle_round_trip():
    mask = np.zeros((24, 32), bool)
    mask[3:7, 5:9] = True
    decoded = decode(rle(mask))
    assert decoded.dtype == bool and decoded.shape == (24, 32) and np.array_equal(decoded, mask)


def test_subsampled_masks_hold_until_the_next_one_is_due():
    masks = mask_set(export({3: [0, 3, 6, 9], 5: [3, 6]}))
    assert masks.hold == 3 and (masks.width, masks.height) == (32, 24)
    assert sorted(masks.at(0)) == [3]
    assert masks.at(2)[3][0] == 0  # frame 2 shows frame 0's mask
    assert sorted(masks.at(4)) == [3, 5] and masks.at(4)[5][0] == 3
    assert sorted(masks.at(9)) == [3] and sorted(masks.at(11)) == [3]  # id 5 ended at 6 (+2 frames held)
    assert masks.at(12) == {}


def test_every_frame_masked_means_no_hold():
    masks = mask_set(export({1: [0, 1, 2, 10]}))
    assert masks.hold == 1
    assert sorted(masks.at(2)) == [1] and masks.at(3) == {} and sorted(masks.at(10)) == [1]


def test_coverage_in_seconds():
    masks = mask_set(export({3: [0, 3, 6, 9, 30, 33]}))
    assert masks.coverage() == {3: [(0.0, pytest.approx(1.2)), (3.0, pytest.approx(3.6))]}
    no_times = export({3: [0, 3]})
    del no_times["info"]["frame_times"]
    assert mask_set(no_times).coverage(fps=30) == {3: [(0.0, pytest.approx(0.2))]}
    with pytest.raises(ValueError, match="fps"):
        mask_set(no_times).coverage()
