"""Leaderboard math: Bradley-Terry scores on an Elo-like scale with bootstrap confidence intervals, win-rate
matrix and vote counts, overall and per task type. Pure numpy, recomputed from the votes on demand.

Model: P(i beats j) = 1 / (1 + 10^((s_j - s_i) / 400)), so 400 points are 10:1 odds. A tie counts as half a win
for each side; "both bad" votes are counted but carry no preference. Scores are anchored so that the mean score
of the systems that have been compared is 1000.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ratings.sessions import TASK_TYPES

ELO_CENTER = 1000.0
ELO_PER_NAT = 400 / np.log(10)
# A weak Gaussian prior on log-strengths (sd 4.5 nats, about 1,950 points): keeps scores finite for a system that
# never won (or never lost) and for comparison graphs that are not connected; negligible after a few dozen votes.
RIDGE = 0.05
_MAX_NEWTON_STEP = 2.0  # nats; damping keeps Newton safe far from the optimum
_POINTS_TO_A = {"a": 1.0, "b": 0.0, "tie": 0.5}  # the rest goes to b; "both_bad" carries no preference


@dataclass(frozen=True)
class Comparison:
    """One vote as the leaderboard reads it."""

    a: str  # system id shown on the left
    b: str
    choice: str  # "a", "b", "tie" or "both_bad"
    task: str


@dataclass(frozen=True)
class Standing:
    system: str
    name: str  # display name
    score: float  # Elo-like; NaN for a system with no vote that carries a preference
    ci_low: float
    ci_high: float
    votes: int  # every vote it appeared in, "both bad" included
    wins: int
    losses: int
    ties: int
    both_bad: int


@dataclass(frozen=True, eq=False)
class Leaderboard:
    task: str  # "all" or one of TASK_TYPES
    standings: tuple[Standing, ...]  # best first; systems without a score last
    win_rate: np.ndarray  # [n, n] row's share of points against column (ties half); NaN where never compared
    games: np.ndarray  # [n, n] votes between row and column that count for Bradley-Terry; order of standings
    n_votes: int
    confidence: float
    n_bootstrap: int


def leaderboards(
    comparisons: Iterable[Comparison], names: Mapping[str, str], *, n_bootstrap: int = 1000, seed: int = 0
) -> dict[str, Leaderboard]:
    """The overall leaderboard ("all") and one per task type that has votes."""
    comparisons = list(comparisons)
    boards = {"all": build_leaderboard(comparisons, names, n_bootstrap=n_bootstrap, seed=seed)}
    for task in TASK_TYPES:
        subset = [c for c in comparisons if c.task == task]
        if subset:
            boards[task] = build_leaderboard(subset, names, task=task, n_bootstrap=n_bootstrap, seed=seed)
    return boards


def build_leaderboard(
    comparisons: Iterable[Comparison],
    names: Mapping[str, str],
    *,
    task: str = "all",
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Leaderboard:
    """Scores, seeded percentile-bootstrap intervals (votes resampled with replacement), counts and win rates for
    the systems in `names` (id -> display name)."""
    ids = list(names)
    index = {system: i for i, system in enumerate(ids)}
    comparisons = list(comparisons)
    unknown = {s for c in comparisons for s in (c.a, c.b)} - index.keys()
    if unknown:
        raise ValueError(f"votes name systems that are not on the leaderboard: {sorted(unknown)}")
    cells, weights = _vote_cells(comparisons, index)
    credit = _credit(cells, weights[None], len(ids))[0]  # [n, n]
    games = credit + credit.T
    scores, low, high = _scores(cells, weights, len(ids), n_bootstrap, confidence, seed)
    unrated = games.sum(axis=1) == 0  # the prior alone would put them at the centre: say "no score" instead
    scores[unrated], low[unrated], high[unrated] = np.nan, np.nan, np.nan
    counts = _counts(comparisons, index)
    order = sorted(range(len(ids)), key=lambda i: (np.isnan(scores[i]), -np.nan_to_num(scores[i])))
    standings = tuple(
        Standing(
            ids[i],
            names[ids[i]],
            float(scores[i]),
            float(low[i]),
            float(high[i]),
            **{k: int(v[i]) for k, v in counts.items()},
        )
        for i in order
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = np.where(games > 0, credit / games, np.nan)
    reorder = np.ix_(order, order)
    return Leaderboard(task, standings, win_rate[reorder], games[reorder], len(comparisons), confidence, n_bootstrap)


def _scores(
    cells: np.ndarray, weights: np.ndarray, n: int, n_bootstrap: int, confidence: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point scores [n] and the percentile-bootstrap interval ends [n], [n]."""
    total = weights.sum()
    if total == 0:
        return np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    scores = to_elo(fit_log_strengths(_credit(cells, weights[None], n)[0]))
    resampled = np.random.default_rng(seed).multinomial(total, weights / total, size=n_bootstrap)  # [B, k]
    samples = to_elo(fit_log_strengths(_credit(cells, resampled, n)))  # [B, n]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return scores, low, high


def _vote_cells(comparisons: list[Comparison], index: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct kinds of preference vote as [k, 3] rows (index of a, index of b, points to a: 1, 0 or 0.5)
    and how many votes of each kind, [k]; resampling votes is then a multinomial draw over the kinds."""
    rows = [(index[c.a], index[c.b], _POINTS_TO_A[c.choice]) for c in comparisons if c.choice in _POINTS_TO_A]
    if not rows:
        return np.zeros((0, 3)), np.zeros(0, dtype=int)
    cells, weights = np.unique(np.array(rows), axis=0, return_counts=True)
    return cells, weights


def _credit(cells: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """[batch, n, n] points of row against column from vote-kind counts [batch, k]."""
    credit = np.zeros((len(weights), n, n))
    for (a, b, to_a), count in zip(cells, weights.T):
        credit[:, int(a), int(b)] += count * to_a
        credit[:, int(b), int(a)] += count * (1 - to_a)
    return credit


def fit_log_strengths(credit: np.ndarray) -> np.ndarray:
    """Maximum a-posteriori Bradley-Terry log-strengths by damped Newton, for one [n, n] points matrix or a batch
    [..., n, n]; returns [..., n] with mean zero (the ridge prior fixes the free offset)."""
    games = credit + np.swapaxes(credit, -1, -2)
    n = credit.shape[-1]
    theta = np.zeros(credit.shape[:-1])
    for _ in range(100):
        p = 1 / (1 + np.exp(theta[..., None, :] - theta[..., :, None]))  # [..., n, n] P(row beats column)
        gradient = (credit - games * p).sum(axis=-1) - RIDGE * theta
        weight = games * p * (1 - p)
        hessian = weight - np.eye(n) * (weight.sum(axis=-1)[..., None] + RIDGE)  # negative definite
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        size = np.abs(step).max(axis=-1, keepdims=True)
        theta = theta - step * np.minimum(1, _MAX_NEWTON_STEP / np.maximum(size, 1e-300))
        if size.max() < 1e-9:
            break
    return theta


def to_elo(theta: np.ndarray) -> np.ndarray:
    return ELO_CENTER + ELO_PER_NAT * theta


def _counts(comparisons: list[Comparison], index: Mapping[str, int]) -> dict[str, np.ndarray]:
    counts = {k: np.zeros(len(index), dtype=int) for k in ("votes", "wins", "losses", "ties", "both_bad")}
    for c in comparisons:
        a, b = index[c.a], index[c.b]
        counts["votes"][[a, b]] += 1
        if c.choice == "a":
            counts["wins"][a] += 1
            counts["losses"][b] += 1
        elif c.choice == "b":
            counts["wins"][b] += 1
            counts["losses"][a] += 1
        else:
            counts["ties" if c.choice == "tie" else "both_bad"][[a, b]] += 1
    return counts
