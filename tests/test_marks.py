"""visualization/marks.py: colour slots, on-screen windows, track interpolation and loss, the running count."""

from __future__ import annotations

import pytest

from inference.grounding import parse
from visualization.marks import (
    DEFAULT_INTERVAL,
    count_at,
    image_points,
    legend,
    sampling_timing,
    track_dots,
    video_evidence,
    visible_points,
)

FRAME_TIMES = [0.5 * i for i in range(21)]  # a 10 s clip sampled at 2 fps


def grounding() -> dict:
    return {
        "objects": [
            {"kind": "points", "label": "apple", "alt": None,
             "points": [{"key": 1.0, "id": 1, "x": 0.2, "y": 0.3}, {"key": 1.0, "id": 2, "x": 0.4, "y": 0.3}]},
            {"kind": "points", "label": "pear", "alt": None, "points": [{"key": 4.0, "id": 3, "x": 0.5, "y": 0.5}]},
            {"kind": "tracks", "label": "car", "alt": None,
             "points": [{"key": t, "id": 7, "x": 0.1 * t, "y": 0.5} for t in (2.0, 2.5, 3.0, 6.0)]},
        ],
        "count": 3,
        "warnings": [],
    }  # fmt: skip


class GroundingObject:
    def to_dict(self):
        return grounding()


def test_colour_slots_follow_labels_for_points_and_ids_for_tracks():
    evidence = video_evidence(grounding(), FRAME_TIMES)
    assert [(p.id, p.label, p.slot) for p in evidence.points] == [(1, "apple", 0), (2, "apple", 0), (3, "pear", 1)]
    assert [(t.id, t.slot) for t in evidence.tracks] == [(7, 7)]
    assert evidence.slot_of(7) == 7 and evidence.slot_of(3) == 1 and evidence.slot_of(99) == 99
    assert [(e.label, e.count) for e in legend(evidence.points)] == [("apple", 2), ("pear", 1)]


def test_timing_comes_from_the_frames_the_model_saw():
    assert sampling_timing(FRAME_TIMES).interval == 0.5
    assert sampling_timing([0.0, 2.0, 4.0, 5.9]).interval == 2.0
    assert sampling_timing(None).interval == DEFAULT_INTERVAL
    timing = sampling_timing([0.0, 2.0, 4.0])
    assert (timing.half_window, timing.observed, timing.max_gap) == (1.0, 0.5, 3.0)
    assert sampling_timing([0.0, 0.125, 0.25]).half_window == 0.25  # never shorter than a quarter second


def test_points_show_around_their_timestamp():
    evidence = video_evidence(grounding(), FRAME_TIMES)
    assert [p.id for p in visible_points(evidence, 1.0)] == [1, 2]
    assert [p.id for p in visible_points(evidence, 1.24)] == [1, 2]
    assert visible_points(evidence, 1.3) == [] and visible_points(evidence, 0.7) == []


def test_tracks_interpolate_between_keyframes_and_vanish_when_lost():
    evidence = video_evidence(grounding(), FRAME_TIMES)
    (track,) = evidence.tracks
    assert [(r.start, r.end, len(r.keys)) for r in track.runs] == [(1.75, 3.25, 3), (5.75, 6.25, 1)]
    (dot,) = track_dots(evidence, 2.25)
    assert dot.x == pytest.approx(0.225) and not dot.observed  # halfway between keyframes, drawn as a ring
    (dot,) = track_dots(evidence, 2.1)
    assert dot.x == pytest.approx(0.21) and dot.observed  # within a quarter interval of a keyframe
    assert track_dots(evidence, 4.5) == []  # 3.0 -> 6.0 is longer than 1.5 intervals: lost, not interpolated
    (dot,) = track_dots(evidence, 3.2)
    assert dot.x == pytest.approx(0.3)  # held at the run's last keyframe until its window closes
    assert track_dots(evidence, 1.7) == []


def test_running_count_and_navigation_stops():
    evidence = video_evidence(GroundingObject(), FRAME_TIMES)
    assert evidence.total == 4
    assert [count_at(evidence, t) for t in (0.0, 1.0, 1.9, 2.0, 4.0, 9.0)] == [0, 2, 2, 3, 4, 4]
    assert evidence.stops == (1.0, 2.0, 2.5, 3.0, 4.0, 6.0)
    assert evidence.sampled == tuple(FRAME_TIMES)


def test_image_points_group_by_image_index():
    multi = {"objects": [
        {"kind": "points", "label": "cat", "points": [{"key": 1, "id": 1, "x": 0.1, "y": 0.1},
                                                     {"key": 2, "id": 2, "x": 0.5, "y": 0.5},
                                                     {"key": 2, "id": 3, "x": 0.6, "y": 0.5}]},
        {"kind": "points", "label": "dog", "points": [{"key": 2, "id": 4, "x": 0.9, "y": 0.9}]},
    ]}  # fmt: skip
    by_image = image_points(multi)
    assert sorted(by_image) == [1, 2]
    assert [p.id for p in by_image[2]] == [2, 3, 4]
    assert [(e.label, e.count, e.slot) for e in legend(by_image[2])] == [("cat", 2, 0), ("dog", 1, 1)]


def test_parsed_answers_from_the_grounding_parser():
    video = parse('<tracks alt="dog" coords="0.0 1 635 522;0.5 1 606 490;2.0 1 500 500">the dog</tracks>')
    evidence = video_evidence(video, FRAME_TIMES)
    (track,) = evidence.tracks
    assert (track.id, track.label, [len(r.keys) for r in track.runs]) == (1, "the dog", [2, 1])
    assert track.runs[0].keys[1].x == pytest.approx(0.606)
    images = parse('Counting the <points coords="1 1 555 169;2 2 649 154">boats</points> shows a total of 2.')
    assert {index: [p.id for p in points] for index, points in image_points(images).items()} == {1: [1], 2: [2]}
