"""visualization/charts.py: count, lanes and trajectories in the overlay colours, with id/time/coordinates on hover."""

from __future__ import annotations

import pytest

from visualization.charts import count_chart, lanes_chart, trajectory_chart
from visualization.marks import video_evidence
from visualization.palette import hex_colour, id_colour

FRAME_TIMES = [0.5 * i for i in range(13)]


def evidence():
    return video_evidence({"objects": [
        {"kind": "points", "label": "apple", "points": [{"key": 1.0, "id": 1, "x": 0.2, "y": 0.3},
                                                       {"key": 2.0, "id": 2, "x": 0.4, "y": 0.6}]},
        {"kind": "tracks", "label": "car", "points": [{"key": t, "id": 5, "x": 0.1 * t, "y": 0.5}
                                                     for t in (0.5, 1.0, 1.5, 4.0, 4.5)]},
    ]}, FRAME_TIMES)  # fmt: skip


def test_count_over_time_steps_at_each_first_appearance():
    figure = count_chart(evidence(), duration=6.0, size=(640, 360))
    line, *markers = figure.data
    assert line.line.shape == "hv" and list(line.x) == [0.0, 0.5, 1.0, 2.0, 6.0]
    assert list(line.y) == [0, 1, 2, 3, 3]
    assert [m.marker.color for m in markers] == [hex_colour(id_colour(5)), *[hex_colour(id_colour(0))] * 2]
    apple = markers[1]
    assert list(apple.customdata[0]) == ["apple 1", 1.0, pytest.approx(128.0), pytest.approx(108.0)]
    assert "t = %{customdata[1]" in apple.hovertemplate and "x = %{customdata[2]" in apple.hovertemplate


def test_lanes_show_each_track_where_it_is_on_screen():
    figure = lanes_chart(evidence(), duration=6.0)
    bars = [trace for trace in figure.data if trace.mode == "lines"]
    assert [(tuple(b.x), b.y[0], b.line.color) for b in bars] == [
        ((0.25, 1.75), "car 5", hex_colour(id_colour(5))),
        ((3.75, 4.75), "car 5", hex_colour(id_colour(5))),
    ]  # lost between 1.5 and 4.0
    keyframes = [trace for trace in figure.data if trace.mode == "markers"]
    assert sum(len(k.x) for k in keyframes) == 5
    assert tuple(figure.layout.xaxis.range) == (0, 6.0)


def test_trajectories_in_pixels_with_y_pointing_down():
    figure = trajectory_chart(evidence(), size=(640, 360))
    car_x = next(t for t in figure.data if t.name == "car 5" and t.yaxis == "y")
    assert list(car_x.x) == [0.5, 1.0, 1.5] and list(car_x.y) == pytest.approx([32.0, 64.0, 96.0])
    assert car_x.mode == "lines+markers" and car_x.marker.color == hex_colour(id_colour(5))
    apple_y = next(t for t in figure.data if t.name == "apple 2" and t.yaxis == "y2")
    assert list(apple_y.y) == pytest.approx([216.0]) and apple_y.mode == "markers"
    assert figure.layout.yaxis2.autorange == "reversed" and figure.layout.yaxis.title.text == "x (px)"
    assert trajectory_chart(evidence()).layout.yaxis.title.text == "x (0-1)"
