"""The leaderboard figures (visualization/leaderboard_charts.py) show the leaderboard's numbers, in its order."""

from __future__ import annotations

import numpy as np

from ratings.leaderboard import Comparison, build_leaderboard
from visualization.leaderboard_charts import scores_figure, win_rate_figure

NAMES = {"x": "Molmo2-4B", "y": "Molmo2-8B", "z": "Molmo2-O-7B"}


def _board():
    votes = [Comparison("x", "y", "b", "video")] * 6 + [Comparison("y", "x", "tie", "video")] * 2
    votes += [Comparison("z", "x", "a", "video")] * 3 + [Comparison("y", "z", "both_bad", "video")]
    return build_leaderboard(votes, NAMES, n_bootstrap=200)


def test_scores_figure_has_one_row_per_system_with_its_interval():
    board = _board()
    trace = scores_figure(board).data[0]
    assert list(trace.y) == [s.name for s in board.standings]
    np.testing.assert_allclose(trace.x, [s.score for s in board.standings])
    np.testing.assert_allclose(np.array(trace.x) + trace.error_x.array, [s.ci_high for s in board.standings])
    np.testing.assert_allclose(np.array(trace.x) - trace.error_x.arrayminus, [s.ci_low for s in board.standings])
    assert [row[2] for row in trace.customdata] == [s.votes for s in board.standings]
    assert "(all tasks, 12 votes), 95% bootstrap intervals" in scores_figure(board).layout.title.text


def test_scores_figure_leaves_out_unscored_systems():
    board = build_leaderboard([Comparison("x", "y", "a", "image")], NAMES, task="image", n_bootstrap=50)
    figure = scores_figure(board)
    assert list(figure.data[0].y) == ["Molmo2-4B", "Molmo2-8B"]
    assert "(image, 1 vote)" in figure.layout.title.text
    empty = scores_figure(build_leaderboard([], NAMES))
    assert len(empty.data[0].x) == 0 and empty.layout.annotations[0].text == "No votes yet"


def test_win_rate_heatmap_matches_the_matrix():
    board = _board()
    heatmap = win_rate_figure(board).data[0]
    names = [s.name for s in board.standings]
    assert list(heatmap.x) == list(heatmap.y) == names
    z = np.array(heatmap.z, dtype=float)
    np.testing.assert_allclose(z, board.win_rate)  # NaN where two systems never met
    y, x = names.index("Molmo2-8B"), names.index("Molmo2-4B")
    assert z[y, x] == 7 / 8  # 6 wins and 2 ties out of 8 votes
    assert heatmap.text[y][x] == "88%<br>n=8"
    assert heatmap.text[y][names.index("Molmo2-O-7B")] == ""  # only a "both bad" vote between them
