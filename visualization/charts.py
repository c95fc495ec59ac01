"""Plotly charts of a video answer in the overlay colours: count over time, track lanes, x/y trajectories.

Hovering any mark shows its id, time and coordinates (pixels when the media size is given, else 0-1).
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from visualization.marks import Evidence, Point, count_at
from visualization.palette import hex_colour, id_colour

HOVER = "%{customdata[0]}<br>t = %{customdata[1]:.2f} s<br>x = %{customdata[2]:.4~g}, y = %{customdata[3]:.4~g}"


def count_chart(evidence: Evidence, duration: float | None = None, size: tuple[int, int] | None = None) -> go.Figure:
    """Running count (a step line) with a marker per pointed or tracked object at its first evidence."""
    firsts = evidence.firsts
    end = max([duration or 0.0, *(p.key for p in firsts)])
    times = [0.0, *(p.key for p in firsts), end]
    figure = go.Figure(
        go.Scatter(
            x=times,
            y=[count_at(evidence, t) for t in times],
            mode="lines",
            line={"shape": "hv", "color": "#888"},
            name="count",
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for p in firsts:
        figure.add_trace(_marker_trace([p], [count_at(evidence, p.key)], size))
    step = max(1, math.ceil(evidence.total / 6))  # whole numbers only
    return _layout(figure, "Count over time", "count").update_yaxes(rangemode="tozero", dtick=step)


def lanes_chart(evidence: Evidence, duration: float | None = None, size: tuple[int, int] | None = None) -> go.Figure:
    """One lane per track id: a bar across each stretch where the track is on screen, a dot per keyframe."""
    figure = go.Figure()
    for track in evidence.tracks:
        colour, lane = hex_colour(id_colour(track.slot)), f"{track.label} {track.id}"
        for run in track.runs:
            figure.add_trace(
                go.Scatter(
                    x=[run.start, run.end],
                    y=[lane, lane],
                    mode="lines",
                    hoverinfo="skip",
                    line={"color": colour, "width": 10},
                    opacity=0.45,
                    showlegend=False,
                )
            )
            figure.add_trace(_marker_trace(run.keys, [lane] * len(run.keys), size))
    if duration:
        figure.update_xaxes(range=[0, duration])
    return _layout(figure, "Track lanes", "id").update_layout(height=120 + 40 * len(evidence.tracks))


def trajectory_chart(evidence: Evidence, size: tuple[int, int] | None = None) -> go.Figure:
    """x and y of every track (lines through keyframes) and point over time; pixels when size = (W, H)."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    groups = [list(run.keys) for track in evidence.tracks for run in track.runs] + [[p] for p in evidence.points]
    scale_x, scale_y = size or (1, 1)
    for keys in groups:
        for row, axis, scale in ((1, "x", scale_x), (2, "y", scale_y)):
            trace = _marker_trace(keys, [getattr(k, axis) * scale for k in keys], size)
            figure.add_trace(trace.update(mode="lines+markers" if len(keys) > 1 else "markers"), row=row, col=1)
    figure.update_yaxes(title_text="x (px)" if size else "x (0-1)", row=1, col=1)
    figure.update_yaxes(title_text="y (px)" if size else "y (0-1)", autorange="reversed", row=2, col=1)
    return _layout(figure, "Trajectories", None).update_xaxes(title_text=None, row=1, col=1)


def _marker_trace(points: list[Point] | tuple[Point, ...], ys: list, size: tuple[int, int] | None) -> go.Scatter:
    """Markers for points of one id/label, hover showing id, time and coordinates."""
    w, h = size or (1, 1)
    first = points[0]
    return go.Scatter(
        x=[p.key for p in points],
        y=ys,
        mode="markers",
        marker={"color": hex_colour(id_colour(first.slot)), "size": 10, "line": {"color": "#141414", "width": 1}},
        name=f"{first.label} {first.id}",
        customdata=[[f"{p.label} {p.id}", p.key, p.x * w, p.y * h] for p in points],
        hovertemplate=HOVER + "<extra></extra>",
        showlegend=False,
    )


def _layout(figure: go.Figure, title: str, y_title: str | None) -> go.Figure:
    figure.update_layout(title=title, margin={"l": 50, "r": 10, "t": 40, "b": 40}, height=320, hovermode="closest")
    figure.update_xaxes(title_text="time (s)")
    if y_title:
        figure.update_yaxes(title_text=y_title)
    return figure
