"""The ratings database: sessions, their inputs and answers, battles, servings and votes, through SQLAlchemy Core.

SQLite (the default) runs in WAL mode with a busy timeout, and every write transaction starts with BEGIN IMMEDIATE:
a deferred transaction that reads and then writes fails at once with "database is locked" when another writer got
in first, whatever the busy timeout. `synchronous=NORMAL`: a commit survives the app being killed (kill -9), and a
power cut can lose only the last commits, never corrupt the file; FULL would add an fsync to every vote. Any other
SQLAlchemy URL (e.g. PostgreSQL) works for a shared server; there the unique constraints keep one vote per battle
and rater.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import json
import math
import os
import random
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from ratings.leaderboard import Comparison
from ratings.schema import (
    TAGS,
    answers_table,
    battles_table,
    inputs_table,
    metadata,
    servings_table,
    sessions_table,
    votes_table,
)
from ratings.sessions import (
    CHOICES,
    RUBRIC_QUESTIONS,
    Answer,
    BattleLoad,
    Input,
    RatingsError,
    Session,
    SessionError,
    System,
    choose_battle,
    parse_input,
    session_from_dict,
)

MAX_REASON_CHARS = 2000
_WRITE = "ratings_write"  # execution option that makes the SQLite BEGIN immediate


class UnknownSession(RatingsError):
    pass


class UnknownBattle(RatingsError):
    pass


class InvalidVote(RatingsError):
    pass


class TooEarly(InvalidVote):
    def __init__(self, wait_s: float):
        super().__init__(f"Please look at both answers a little longer: voting opens in {math.ceil(wait_s)} s.")
        self.wait_s = wait_s


class DuplicateVote(RatingsError):
    pass


class Unsupported(RatingsError):
    pass


_B, _S, _V, _I, _A = battles_table.c, servings_table.c, votes_table.c, inputs_table.c, answers_table.c
_p = sa.bindparam
# The queries of the voting path, built once: building a statement costs several times more than running it.
_BATTLE = sa.select(battles_table).where(_B.id == _p("battle_id"))
_INPUT = sa.select(inputs_table).where(_I.session_id == _p("session_id"), _I.id == _p("input_id"))
_ANSWER = sa.select(_A.text, _A.grounding, _A.artefacts).where(
    _A.session_id == _p("session_id"), _A.input_id == _p("input_id"), _A.system_id == _p("system_id")
)
_SERVED_AT = sa.select(_S.served_at).where(_S.battle_id == _p("battle_id"), _S.rater_hash == _p("rater_hash"))
_VOTE = sa.select(votes_table).where(_V.battle_id == _p("battle_id"), _V.rater_hash == _p("rater_hash"))
_UNVOTED = (  # served to the rater and not voted on yet, oldest first
    sa.select(_S.battle_id)
    .outerjoin(votes_table, (_V.battle_id == _S.battle_id) & (_V.rater_hash == _S.rater_hash))
    .where(_S.session_id == _p("session_id"), _S.rater_hash == _p("rater_hash"), _V.id.is_(None))
    .order_by(_S.served_at)
    .limit(1)
)
_UNSEEN = sa.select(_B.id, _B.system_a, _B.system_b, _B.served).where(  # shared battles the rater has not seen
    _B.session_id == _p("session_id"),
    _B.private.is_(False),
    ~sa.exists().where(_S.battle_id == _B.id, _S.rater_hash == _p("rater_hash")),
)
_PAIR_SERVED = (
    sa.select(_B.system_a, _B.system_b, sa.func.sum(_B.served))
    .where(_B.session_id == _p("session_id"))
    .group_by(_B.system_a, _B.system_b)
)


@dataclass(frozen=True)
class ServedBattle:
    """What the rating page shows: the input and two anonymous answers, left (a) and right (b)."""

    battle_id: str
    session_id: str
    input: Input
    a: Answer
    b: Answer
    served_at: float  # epoch seconds
    votable_at: float  # served_at + the session's minimum viewing time


@dataclass(frozen=True)
class Vote:
    """One stored vote; the fields are the columns of the votes table and of the export."""

    id: int
    battle_id: str
    session_id: str
    input_id: str
    task: str
    prompt_hash: str
    system_a: str
    model_a: str
    revision_a: str | None
    settings_a: dict
    system_b: str
    model_b: str
    revision_b: str | None
    settings_b: dict
    choice: str
    rubric: dict
    reason: str
    rater_hash: str
    ip_hash: str | None
    served_at: float
    voted_at: float
    app_version: str


@dataclass(frozen=True)
class Reveal:
    battle_id: str
    choice: str
    a: System
    b: System


class Store:
    """All reads and writes of ratings. Thread-safe; one instance per process is enough.

    `salt` keys the hashes of rater and IP identifiers (keep it outside the database: a dump without it does not
    reveal who voted); `app_version` tags every row; `rng` randomises sides and breaks scheduling ties.
    """

    def __init__(
        self,
        url: str,
        *,
        salt: str | bytes,
        app_version: str,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 30.0,
    ):
        if not salt:
            raise RatingsError("The ratings store needs a non-empty salt (MOLMO2_RATINGS_SALT).")
        self._salt = salt.encode() if isinstance(salt, str) else salt
        self.app_version = app_version
        self.rng = rng or random.SystemRandom()
        self._clock = clock
        self._engine = _create_engine(url, busy_timeout_s)
        self._sessions: dict[str, Session] = {}  # sessions never change once created
        sqlite = self._engine.dialect.name == "sqlite"
        self._write_lock: AbstractContextManager = threading.Lock() if sqlite else nullcontext()
        metadata.create_all(self._engine)

    @property
    def url(self) -> sa.URL:
        return self._engine.url

    def close(self) -> None:
        self._engine.dispose()

    def files(self) -> list[Path]:
        """The database's files on this machine (a SQLite file and its WAL companions), for a server to block."""
        if self._engine.url.get_backend_name() != "sqlite" or not self._engine.url.database:
            return []
        base = Path(self._engine.url.database).resolve()
        return [base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")]

    def hash_id(self, kind: str, value: str) -> str:
        """Keyed hash of a rater or IP identifier; the raw value is never stored."""
        return hmac.new(self._salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    # Sessions, inputs, answers, battles ------------------------------------------------------------------------

    def create_session(self, session: Session) -> None:
        """Store a session and its inputs; storing the identical definition again is a no-op."""
        definition = session.to_dict()
        with self._write() as conn:
            stored = conn.scalar(sa.select(sessions_table.c.definition).where(sessions_table.c.id == session.id))
            if stored is not None:
                if stored != definition:
                    raise SessionError(f"Session {session.id} exists with another definition; give it a new id.")
                return
            now = self._clock()
            row = {"id": session.id, "definition": definition, "created_at": now, "app_version": self.app_version}
            conn.execute(sa.insert(sessions_table), row)
            if session.inputs:
                conn.execute(sa.insert(inputs_table), [_input_row(session.id, i, None, now) for i in session.inputs])

    def session(self, session_id: str) -> Session:
        if session_id not in self._sessions:
            with self._engine.connect() as conn:
                where = sessions_table.c.id == session_id
                definition = conn.scalar(sa.select(sessions_table.c.definition).where(where))
            if definition is None:
                raise UnknownSession(f"There is no rating session {session_id!r}.")
            self._sessions[session_id] = session_from_dict(definition, check_files=False)
        return self._sessions[session_id]

    def sessions(self) -> list[Session]:
        with self._engine.connect() as conn:
            ids = conn.scalars(sa.select(sessions_table.c.id).order_by(sessions_table.c.created_at)).all()
        return [self.session(i) for i in ids]

    def add_input(self, session_id: str, task: str, prompt: str, media: Sequence[str], rater: str) -> Input:
        """A rater's own input (media already saved under the session's data_dir), validated like a JSONL line."""
        session = self.session(session_id)
        if not session.options.rater_uploads:
            raise SessionError(f"Session {session.title!r} rates a prepared set of inputs; uploads are off.")
        record = {"task": task, "prompt": prompt, "media": list(media)}
        item = parse_input(record, Path(session.data_dir), where="upload")
        with self._write() as conn:
            if self._input(conn, session_id, item.id) is None:
                row = _input_row(session_id, item, self.hash_id("rater", rater), self._clock())
                conn.execute(sa.insert(inputs_table), row)
        return item

    def add_answer(self, session_id: str, input_id: str, system_id: str, answer: Answer) -> None:
        """Store one system's answer to one input; the same answer again is a no-op, a different one an error."""
        system = self.session(session_id).system(system_id)
        _check_anonymous(answer, system)
        row = {"session_id": session_id, "input_id": input_id, "system_id": system_id, **_answer_columns(answer)}
        with self._write() as conn:
            item = self._existing_input(conn, session_id, input_id)
            stored = self._answer(conn, session_id, input_id, system_id)
            if stored is not None:
                if stored != Answer(row["text"], row["grounding"], tuple(row["artefacts"])):
                    raise SessionError(f"Another answer of {system_id} to input {input_id} is already stored.")
                return
            tags = {"model": system.model, "revision": system.revision, "settings": dict(system.settings)}
            row |= tags | {"prompt_hash": item.prompt_hash, "app_version": self.app_version}
            conn.execute(sa.insert(answers_table), row | {"created_at": self._clock()})

    def answer(self, session_id: str, input_id: str, system_id: str) -> Answer | None:
        with self._engine.connect() as conn:
            return self._answer(conn, session_id, input_id, system_id)

    def add_battle(self, session_id: str, input_id: str, pair: tuple[str, str]) -> str:
        """A battle between the stored answers of two systems, sides drawn at random; returns its id."""
        session = self.session(session_id)
        first, second = (session.system(s) for s in pair)
        if first.id == second.id:
            raise SessionError("A battle compares two different systems.")
        left, right = (first, second) if self.rng.random() < 0.5 else (second, first)
        battle_id = secrets.token_urlsafe(16)  # unguessable, whatever rng is
        with self._write() as conn:
            item = self._existing_input(conn, session_id, input_id)
            for system in (left, right):
                if self._answer(conn, session_id, input_id, system.id) is None:
                    raise SessionError(f"No stored answer of {system.id} to input {input_id}; add it first.")
            row = {"id": battle_id, "session_id": session_id, "input_id": input_id, "task": item.task}
            row |= {"prompt_hash": item.prompt_hash, "private": item.uploaded_by is not None, "served": 0}
            row |= {"created_at": self._clock(), "app_version": self.app_version}
            for side, system in (("a", left), ("b", right)):
                row |= {f"system_{side}": system.id, f"model_{side}": system.model}
                row |= {f"revision_{side}": system.revision, f"settings_{side}": dict(system.settings)}
            conn.execute(sa.insert(battles_table), row)
        return battle_id

    def battle_pairs(self, session_id: str) -> set[tuple[str, tuple[str, str]]]:
        """(input id, sorted system pair) of every stored battle."""
        query = sa.select(_B.input_id, _B.system_a, _B.system_b).where(_B.session_id == session_id)
        with self._engine.connect() as conn:
            return {(input_id, _sorted_pair(x, y)) for input_id, x, y in conn.execute(query)}

    def pair_served(self, session_id: str) -> dict[tuple[str, str], int]:
        """How often each pair of systems (sorted) has been shown to a rater."""
        with self._engine.connect() as conn:
            return self._pair_served(conn, session_id)

    # Serving and voting ----------------------------------------------------------------------------------------

    def next_battle(self, session_id: str, rater: str, *, ip: str | None = None) -> ServedBattle | None:
        """The battle to show `rater` now: the one served but not yet voted on if any (a reload keeps its timer),
        else a new one chosen by `sessions.choose_battle`; None when the rater has seen every battle."""
        self.session(session_id)
        key = {"session_id": session_id, "rater_hash": self.hash_id("rater", rater)}
        with self._write() as conn:
            battle_id = conn.scalar(_UNVOTED, key)
            if battle_id is None:
                unseen = [BattleLoad(i, _sorted_pair(x, y), n) for i, x, y, n in conn.execute(_UNSEEN, key)]
                battle_id = choose_battle(unseen, self._pair_served(conn, session_id), self.rng)
            if battle_id is None:
                return None
            return self._serve(conn, session_id, battle_id, key["rater_hash"], ip)

    def serve(self, session_id: str, battle_id: str, rater: str, *, ip: str | None = None) -> ServedBattle:
        """Show a given battle to `rater` (used for on-demand battles); serving it again keeps the first time."""
        self.session(session_id)
        with self._write() as conn:
            return self._serve(conn, session_id, battle_id, self.hash_id("rater", rater), ip)

    def vote(
        self,
        session_id: str,
        battle_id: str,
        rater: str,
        choice: str,
        *,
        rubric: Mapping[str, Mapping[str, bool]] | None = None,
        reason: str = "",
        ip: str | None = None,
    ) -> Vote:
        """Record `rater`'s vote on a battle served to them, after the minimum viewing time.

        An identical retry returns the stored vote; a different second vote raises DuplicateVote."""
        session = self.session(session_id)
        rubric = _check_rubric(rubric or {}, session.options.rubric)
        if choice not in CHOICES:
            raise InvalidVote(f"Vote {choice!r} is not one of {', '.join(CHOICES)}.")
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise InvalidVote(f"The reason is text of at most {MAX_REASON_CHARS} characters.")
        args = (session, battle_id, self.hash_id("rater", rater), choice, rubric, reason, self._ip_hash(ip))
        try:
            with self._write() as conn:
                return self._vote(conn, *args)
        except sa.exc.IntegrityError:
            # A concurrent request stored this vote between our check and insert (possible where writes are not
            # serialised, e.g. PostgreSQL): answer as if this request had come second.
            with self._write() as conn:
                return self._vote(conn, *args)

    def reveal(self, session_id: str, battle_id: str, rater: str) -> Reveal:
        """Which system was on which side; only for a rater who has voted on the battle."""
        session = self.session(session_id)
        with self._engine.connect() as conn:
            row = conn.execute(_VOTE, {"battle_id": battle_id, "rater_hash": self.hash_id("rater", rater)}).first()
        if row is None or row.session_id != session_id:
            raise InvalidVote("The systems are revealed after your vote.")
        return Reveal(battle_id, row.choice, session.system(row.system_a), session.system(row.system_b))

    # Reading votes, export, backup -----------------------------------------------------------------------------

    def votes(self, session_id: str | None = None) -> list[Vote]:
        query = sa.select(votes_table).order_by(_V.id)
        if session_id is not None:
            query = query.where(_V.session_id == session_id)
        with self._engine.connect() as conn:
            return [Vote(**row._mapping) for row in conn.execute(query)]

    def comparisons(self, session_id: str) -> list[Comparison]:
        """The votes of a session as the leaderboard reads them."""
        query = sa.select(_V.system_a, _V.system_b, _V.choice, _V.task).where(_V.session_id == session_id)
        with self._engine.connect() as conn:
            return [Comparison(*row) for row in conn.execute(query.order_by(_V.id))]

    def write_votes(self, out: TextIO, fmt: str, session_id: str | None = None) -> int:
        """Export votes as JSON lines or CSV (rubric flattened to rubric_<side>_<question>); returns the count."""
        if fmt not in ("jsonl", "csv"):
            raise RatingsError(f"Export format {fmt!r} is not one of jsonl, csv.")
        rows = [_export_row(vote) for vote in self.votes(session_id)]
        if fmt == "jsonl":
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            return len(rows)
        fields = [f.name for f in dataclasses.fields(Vote) if f.name != "rubric"]
        writer = csv.DictWriter(out, fieldnames=fields + [f"rubric_{s}_{q}" for s in "ab" for q in RUBRIC_QUESTIONS])
        writer.writeheader()
        writer.writerows(_flat_row(row) for row in rows)
        return len(rows)

    def backup(self, dest: str | Path) -> Path:
        """A consistent copy of a SQLite database through SQLite's online backup API, safe while votes arrive;
        written to a temporary name and renamed, so `dest` is never half-written."""
        self._require_sqlite("backup", "pg_dump (PostgreSQL) or your server's own backup tool")
        dest = Path(dest)
        partial = dest.with_name(dest.name + ".partial")
        partial.unlink(missing_ok=True)
        with self._engine.connect() as conn:
            target = sqlite3.connect(partial)
            try:
                conn.connection.driver_connection.backup(target)
            finally:
                target.close()
        os.replace(partial, dest)
        return dest

    def integrity_problems(self) -> list[str]:
        """SQLite's integrity and foreign-key checks; an empty list means the database is sound."""
        self._require_sqlite("integrity check", "your server's own tools (e.g. amcheck on PostgreSQL)")
        with self._engine.connect() as conn:
            problems = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"foreign key: {tuple(r)}" for r in conn.exec_driver_sql("PRAGMA foreign_key_check")]
        return problems

    # Internals -------------------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        # Threads of this process queue on a lock rather than in SQLite's busy handler, which polls with sleeps of
        # up to 100 ms and so leaves the database idle under contention; other processes still meet busy_timeout.
        with self._write_lock, self._engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def _ip_hash(self, ip: str | None) -> str | None:
        return self.hash_id("ip", ip) if ip else None

    def _require_sqlite(self, what: str, instead: str) -> None:
        if self._engine.dialect.name != "sqlite":
            raise Unsupported(f"The {what} here is for SQLite; for {self._engine.dialect.name} use {instead}.")

    def _input(self, conn: sa.Connection, session_id: str, input_id: str) -> sa.Row | None:
        return conn.execute(_INPUT, {"session_id": session_id, "input_id": input_id}).first()

    def _existing_input(self, conn: sa.Connection, session_id: str, input_id: str) -> sa.Row:
        item = self._input(conn, session_id, input_id)
        if item is None:
            raise SessionError(f"Session {session_id} has no input {input_id!r}.")
        return item

    def _answer(self, conn: sa.Connection, session_id: str, input_id: str, system_id: str) -> Answer | None:
        key = {"session_id": session_id, "input_id": input_id, "system_id": system_id}
        row = conn.execute(_ANSWER, key).first()
        return row and Answer(row.text, row.grounding, tuple(row.artefacts))

    def _pair_served(self, conn: sa.Connection, session_id: str) -> dict[tuple[str, str], int]:
        totals: dict[tuple[str, str], int] = {}
        for x, y, served in conn.execute(_PAIR_SERVED, {"session_id": session_id}):
            pair = _sorted_pair(x, y)
            totals[pair] = totals.get(pair, 0) + served
        return totals

    def _serve(
        self, conn: sa.Connection, session_id: str, battle_id: str, rater_hash: str, ip: str | None
    ) -> ServedBattle:
        battle = conn.execute(_BATTLE, {"battle_id": battle_id}).first()
        item = battle and self._input(conn, session_id, battle.input_id)
        # Another rater's upload is as unknown to this rater as a battle that does not exist.
        if item is None or battle.session_id != session_id or item.uploaded_by not in (None, rater_hash):
            raise UnknownBattle(f"Battle {battle_id!r} is not part of session {session_id}.")
        served_at = conn.scalar(_SERVED_AT, {"battle_id": battle_id, "rater_hash": rater_hash})
        if served_at is None:
            served_at = self._clock()
            row = {"battle_id": battle_id, "rater_hash": rater_hash, "session_id": session_id}
            conn.execute(sa.insert(servings_table), row | {"served_at": served_at, "ip_hash": self._ip_hash(ip)})
            conn.execute(sa.update(battles_table).where(_B.id == battle_id).values(served=_B.served + 1))
        return ServedBattle(
            battle_id=battle_id,
            session_id=session_id,
            input=Input(item.id, item.task, item.prompt, tuple(item.media)),
            a=self._answer(conn, session_id, item.id, battle.system_a),
            b=self._answer(conn, session_id, item.id, battle.system_b),
            served_at=served_at,
            votable_at=served_at + self.session(session_id).options.min_view_seconds,
        )

    def _vote(
        self,
        conn: sa.Connection,
        session: Session,
        battle_id: str,
        rater_hash: str,
        choice: str,
        rubric: dict,
        reason: str,
        ip_hash: str | None,
    ) -> Vote:
        battle = conn.execute(_BATTLE, {"battle_id": battle_id}).first()
        if battle is None or battle.session_id != session.id:
            raise UnknownBattle(f"Battle {battle_id!r} is not part of session {session.id}.")
        key = {"battle_id": battle_id, "rater_hash": rater_hash}
        stored = conn.execute(_VOTE, key).first()
        if stored is not None:
            if (stored.choice, stored.rubric, stored.reason) == (choice, rubric, reason):
                return Vote(**stored._mapping)
            raise DuplicateVote("You have already voted on this battle; a vote cannot be changed.")
        served_at = conn.scalar(_SERVED_AT, key)
        if served_at is None:
            raise InvalidVote("This battle was not shown to you; load the next battle to vote.")
        now = self._clock()
        wait = served_at + session.options.min_view_seconds - now
        if wait > 0:
            raise TooEarly(wait)
        row = key | {"session_id": session.id, **{tag: battle._mapping[tag] for tag in TAGS}}
        row |= {"choice": choice, "rubric": rubric, "reason": reason, "ip_hash": ip_hash}
        row |= {"served_at": served_at, "voted_at": now, "app_version": self.app_version}
        vote_id = conn.execute(sa.insert(votes_table), row).inserted_primary_key[0]
        return Vote(id=vote_id, **row)


def open_store(app_version: str, cache_dir: str | Path, env: Mapping[str, str] | None = None) -> Store:
    """The store the app uses: MOLMO2_RATINGS_DB (any SQLAlchemy URL; default a SQLite file in `cache_dir`) and
    MOLMO2_RATINGS_SALT (default: a random salt created once in `cache_dir`/ratings.salt, mode 0600)."""
    env = os.environ if env is None else env
    cache_dir = Path(cache_dir).expanduser()
    url = env.get("MOLMO2_RATINGS_DB") or f"sqlite:///{cache_dir / 'ratings.sqlite'}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    salt = env.get("MOLMO2_RATINGS_SALT") or _salt_file(cache_dir / "ratings.salt")
    return Store(url, salt=salt, app_version=app_version)


def _salt_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_hex(32).encode())
    return path.read_bytes()


def _create_engine(url: str, busy_timeout_s: float) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    # One connection per voting thread; SQLite serialises the writers itself.
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s}, pool_size=16, max_overflow=16)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            dbapi_connection.execute(f"PRAGMA {pragma}")
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def _sorted_pair(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x < y else (y, x)


def _input_row(session_id: str, item: Input, uploaded_by: str | None, now: float) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "id": item.id,
        "task": item.task,
        "prompt": item.prompt,
        "media": list(item.media),
        "prompt_hash": item.prompt_hash,
        "uploaded_by": uploaded_by,
        "created_at": now,
    }


def _answer_columns(answer: Answer) -> dict[str, Any]:
    try:
        grounding = json.loads(json.dumps(answer.grounding))  # as it will read back
    except (TypeError, ValueError) as err:
        raise SessionError(f"An answer's grounding must be JSON data ({err}).") from err
    return {"text": answer.text, "grounding": grounding, "artefacts": [str(p) for p in answer.artefacts]}


def _check_anonymous(answer: Answer, system: System) -> None:
    """Artefact file names reach the browser: none may contain the system's id, display name or model name as a
    run of whole words (compared case-insensitively, punctuation ignored)."""
    names = (system.id, system.name, system.model, system.model.rsplit("/", 1)[-1])
    for path in answer.artefacts:
        words = _words(str(path))
        for name in names:
            run = _words(name)
            if run and any(words[i : i + len(run)] == run for i in range(len(words))):
                raise SessionError(f"Artefact path {path} reveals the system ({name!r}); use neutral file names.")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _check_rubric(rubric: Mapping, enabled: bool) -> dict:
    if rubric and not enabled:
        raise InvalidVote("This session has no rubric.")
    checked = {}
    for side, answers in rubric.items():
        if side not in ("a", "b") or not isinstance(answers, Mapping):
            raise InvalidVote("The rubric maps side 'a' or 'b' to {question: true/false}.")
        unknown = set(answers) - set(RUBRIC_QUESTIONS)
        if unknown or not all(isinstance(x, bool) for x in answers.values()):
            raise InvalidVote(f"Rubric questions are {', '.join(RUBRIC_QUESTIONS)}, each answered true or false.")
        checked[side] = dict(answers)
    return checked


def _export_row(vote: Vote) -> dict[str, Any]:
    row = dataclasses.asdict(vote)
    for key in ("served_at", "voted_at"):
        row[key] = datetime.fromtimestamp(row[key], UTC).isoformat(timespec="milliseconds")
    return row


def _flat_row(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items() if k != "rubric"}
    for side, answers in row["rubric"].items():
        flat |= {f"rubric_{side}_{q}": value for q, value in answers.items()}
    return flat
