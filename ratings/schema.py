"""The ratings database's tables (SQLAlchemy Core): sessions, inputs, answers, battles, servings and votes.
Every row carries the app version; votes also the models, revisions and settings of both systems."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import JSON, Column, Float, ForeignKeyConstraint, Integer, String, Text

metadata = sa.MetaData()
sessions_table = sa.Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("definition", JSON, nullable=False),  # Session.to_dict()
    Column("created_at", Float, nullable=False),
    Column("app_version", String(64), nullable=False),
)
inputs_table = sa.Table(
    "inputs",
    metadata,
    Column("session_id", String(64), sa.ForeignKey("sessions.id"), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("task", String(16), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("media", JSON, nullable=False),
    Column("prompt_hash", String(16), nullable=False),
    Column("uploaded_by", String(64)),  # rater hash; NULL for the session's prepared inputs
    Column("created_at", Float, nullable=False),
)
answers_table = sa.Table(
    "answers",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("input_id", String(64), primary_key=True),
    Column("system_id", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("grounding", JSON),
    Column("artefacts", JSON, nullable=False),
    Column("model", Text, nullable=False),
    Column("revision", Text),
    Column("settings", JSON, nullable=False),
    Column("prompt_hash", String(16), nullable=False),
    Column("app_version", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    ForeignKeyConstraint(["session_id", "input_id"], ["inputs.session_id", "inputs.id"]),
)


def _tag_columns() -> list[Column]:
    """What a battle and each of its votes carry to say exactly what was compared ("a" is shown on the left)."""
    columns = [
        Column("input_id", String(64), nullable=False),
        Column("task", String(16), nullable=False),
        Column("prompt_hash", String(16), nullable=False),
    ]
    for side in "ab":
        columns += [
            Column(f"system_{side}", String(64), nullable=False),
            Column(f"model_{side}", Text, nullable=False),
            Column(f"revision_{side}", Text),
            Column(f"settings_{side}", JSON, nullable=False),
        ]
    return columns


TAGS = tuple(c.name for c in _tag_columns())
battles_table = sa.Table(
    "battles",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("session_id", String(64), sa.ForeignKey("sessions.id"), nullable=False, index=True),
    *_tag_columns(),
    Column("private", sa.Boolean, nullable=False),  # on a rater's upload: served to that rater only
    Column("served", Integer, nullable=False),  # how many raters it was shown to, for scheduling
    Column("created_at", Float, nullable=False),
    Column("app_version", String(64), nullable=False),
    ForeignKeyConstraint(
        ["session_id", "input_id", "system_a"], ["answers.session_id", "answers.input_id", "answers.system_id"]
    ),
    ForeignKeyConstraint(
        ["session_id", "input_id", "system_b"], ["answers.session_id", "answers.input_id", "answers.system_id"]
    ),
)
servings_table = sa.Table(
    "servings",
    metadata,
    Column("battle_id", String(32), sa.ForeignKey("battles.id"), primary_key=True),
    Column("rater_hash", String(64), primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("served_at", Float, nullable=False),  # the minimum viewing time counts from here
    Column("ip_hash", String(64)),
    sa.Index("servings_by_rater", "session_id", "rater_hash"),
)
votes_table = sa.Table(
    "votes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("battle_id", String(32), sa.ForeignKey("battles.id"), nullable=False),
    Column("session_id", String(64), nullable=False, index=True),
    *_tag_columns(),
    Column("choice", String(8), nullable=False),  # one of CHOICES; "a" is the left answer
    Column("rubric", JSON, nullable=False),  # {"a": {question: bool}, "b": {...}}, only what was ticked
    Column("reason", Text, nullable=False),
    Column("rater_hash", String(64), nullable=False),
    Column("ip_hash", String(64)),
    Column("served_at", Float, nullable=False),
    Column("voted_at", Float, nullable=False),
    Column("app_version", String(64), nullable=False),
    sa.UniqueConstraint("battle_id", "rater_hash", name="one_vote_per_battle_and_rater"),
)
