"""Blind pairwise rating of grounded answers: sessions (what is compared over which inputs), the ratings database,
and the Bradley-Terry leaderboard. No UI and no models here: the rating tab and the engine call into this package.
"""
