"""Plotly figures for the ratings leaderboard: scores with their bootstrap intervals, and the win-rate matrix."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ratings.leaderboard import ELO_CENTER, Leaderboard


def scores_figure(board: Leaderboard) -> go.Figure:
    """One row per scored system, best on top: the score and its interval as an error bar."""
    rated = [s for s in board.standings if math.isfinite(s.score)]
    level = f"{board.confidence:.0%}"
    figure = go.Figure(
        go.Scatter(
            x=[s.score for s in rated],
            y=[s.name for s in rated],
            mode="markers",
            marker={"size": 10},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [s.ci_high - s.score for s in rated],
                "arrayminus": [s.score - s.ci_low for s in rated],
            },
            customdata=[[s.ci_low, s.ci_high, s.votes] for s in rated],
            hovertemplate="%{y}<br>score %{x:.0f}, " + level + " interval %{customdata[0]:.0f} to "
            "%{customdata[1]:.0f}<br>%{customdata[2]} votes<extra></extra>",
        )
    )
    figure.add_vline(x=ELO_CENTER, line={"dash": "dot", "color": "gray"})
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(
        title=f"Bradley-Terry scores ({_task_label(board)}, {_votes(board.n_votes)}), {level} bootstrap intervals",
        xaxis_title=f"score (Elo scale: +400 = 10:1 odds; mean {ELO_CENTER:.0f})",
        height=160 + 40 * len(rated),
        showlegend=False,
    )
    if not rated:
        figure.add_annotation(text="No votes yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return figure


def win_rate_figure(board: Leaderboard) -> go.Figure:
    """Share of points (win 1, tie 1/2) of the row system against the column system, with the vote counts."""
    names = [s.name for s in board.standings]
    games = board.games.astype(int)
    text = [[f"{rate:.0%}<br>n={n}" if n else "" for rate, n in zip(rates, counts)]
            for rates, counts in zip(board.win_rate, games)]  # fmt: skip
    figure = go.Figure(
        go.Heatmap(
            z=np.where(games > 0, board.win_rate, np.nan),
            x=names,
            y=names,
            zmin=0,
            zmax=1,
            zmid=0.5,
            colorscale="RdBu",
            text=text,
            texttemplate="%{text}",
            customdata=games,
            hovertemplate="%{y} vs %{x}: %{z:.0%} of points over %{customdata} votes<extra></extra>",
            colorbar={"title": "win rate", "tickformat": ".0%"},
        )
    )
    figure.update_yaxes(autorange="reversed", title="system")
    figure.update_xaxes(title="against", side="top")
    figure.update_layout(title=f"Win rates ({_task_label(board)}; ties count half)", height=200 + 50 * len(names))
    return figure


def _votes(n: int) -> str:
    return "1 vote" if n == 1 else f"{n} votes"


def _task_label(board: Leaderboard) -> str:
    return "all tasks" if board.task == "all" else board.task
