"""The ratings database (ratings/store.py): server-side vote validation, idempotent retries, anonymity, hashed
identifiers, export, backup, and SQLite under concurrent writers and kill -9."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ratings.leaderboard import leaderboards
from ratings.sessions import Answer, SessionError, battle_on_demand, load_session, prepare_battles
from ratings.store import DuplicateVote, InvalidVote, Store, TooEarly, UnknownBattle, UnknownSession, open_store
from test_ratings_sessions import fake_answer, write_session

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A settable clock, so minimum viewing times are tested without sleeping."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def make_store(tmp_path: Path, *, clock=time.time, seed: int = 0, salt: str = "test-salt") -> Store:
    url = f"sqlite:///{tmp_path / 'ratings.sqlite'}"
    return Store(url, salt=salt, app_version="9.9.9", rng=random.Random(seed), clock=clock)


def prepared(tmp_path: Path, *, n_inputs: int = 4, options=None, clock=time.time):
    """A store holding a prepared session: n_inputs x 3 pairs of systems = 3 * n_inputs battles."""
    session = load_session(write_session(tmp_path / "session", n_inputs=n_inputs, options=options))
    store = make_store(tmp_path, clock=clock)
    store.create_session(session)
    prepare_battles(store, session, fake_answer)
    return store, session


def test_create_session_is_idempotent_and_rejects_a_changed_definition(tmp_path):
    store, session = prepared(tmp_path)
    store.create_session(session)
    assert store.sessions() == [session]
    changed = load_session(write_session(tmp_path / "other", n_inputs=2))
    with pytest.raises(SessionError, match="exists with another definition"):
        store.create_session(changed)
    with pytest.raises(UnknownSession):
        store.session("nope")


def test_a_rater_sees_every_battle_once_with_pairs_balanced(tmp_path):
    store, _ = prepared(tmp_path)
    seen, pairs = [], []
    while (battle := store.next_battle("demo", "hf:alice")) is not None:
        vote = store.vote("demo", battle.battle_id, "hf:alice", "tie")
        seen.append(battle.battle_id)
        pairs.append(tuple(sorted((vote.system_a, vote.system_b))))
    assert len(seen) == len(set(seen)) == 12
    # Least-served pair first: every block of three battles covers the three pairs once.
    for block in range(4):
        assert len(set(pairs[3 * block : 3 * block + 3])) == 3


def test_raters_arriving_together_get_different_pairs(tmp_path):
    store, _ = prepared(tmp_path)
    raters = ("a", "b", "c")
    served = [store.next_battle("demo", rater) for rater in raters]
    votes = [store.vote("demo", battle.battle_id, rater, "a") for rater, battle in zip(raters, served)]
    assert len({frozenset((v.system_a, v.system_b)) for v in votes}) == 3


def test_reload_before_voting_returns_the_same_battle_and_keeps_its_timer(tmp_path):
    clock = Clock()
    store, _ = prepared(tmp_path, clock=clock, options={"min_view_seconds": 10})
    battle = store.next_battle("demo", "alice")
    clock.now += 4
    again = store.next_battle("demo", "alice")
    assert again == battle
    assert again.votable_at == battle.served_at + 10


def test_served_battle_carries_no_identity_and_sides_are_recorded(tmp_path):
    store, session = prepared(tmp_path, n_inputs=20)
    lefts = Counter()
    for _ in range(60):
        battle = store.next_battle("demo", "alice")
        shown = repr(battle)
        for system in session.systems:
            for identity in (system.name, system.model, system.revision, "max_frames", "temperature"):
                assert not identity or identity not in shown
        vote = store.vote("demo", battle.battle_id, "alice", "a")
        item = battle.input
        # What was shown on the left is what the vote records as system_a.
        assert battle.a == fake_answer(session.system(vote.system_a), item)
        assert battle.b == fake_answer(session.system(vote.system_b), item)
        lefts[(vote.system_a, vote.system_b)] += 1
    for x, y in [("s1", "s2"), ("s1", "s3"), ("s2", "s3")]:
        assert lefts[(x, y)] > 3 and lefts[(y, x)] > 3, lefts  # both orientations happen


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"choice": "left"}, InvalidVote, "not one of a, b, tie, both_bad"),
        ({"rubric": {"a": {"count_right": True}}}, InvalidVote, "no rubric"),
        ({"reason": "x" * 2001}, InvalidVote, "at most 2000"),
        ({"battle_id": "forged-id"}, UnknownBattle, "not part of session"),
        ({"rater": "mallory"}, InvalidVote, "not shown to you"),
    ],
)
def test_invalid_votes_are_rejected_server_side(tmp_path, kwargs, error, message):
    store, _ = prepared(tmp_path)
    battle = store.next_battle("demo", "alice")
    args = {"battle_id": battle.battle_id, "rater": "alice", "choice": "a"} | kwargs
    with pytest.raises(error, match=message):
        store.vote("demo", args.pop("battle_id"), args.pop("rater"), args.pop("choice"), **args)
    assert store.votes() == []


def test_rubric_is_validated_and_stored(tmp_path):
    store, _ = prepared(tmp_path, options={"rubric": True})
    battle = store.next_battle("demo", "alice")
    for rubric, message in [({"c": {}}, "side 'a' or 'b'"), ({"a": {"pretty": True}}, "questions are"),
                            ({"b": {"ids_stable": "yes"}}, "true or false")]:  # fmt: skip
        with pytest.raises(InvalidVote, match=message):
            store.vote("demo", battle.battle_id, "alice", "b", rubric=rubric)
    rubric = {"a": {"answer_correct": False}, "b": {"answer_correct": True, "count_right": True}}
    assert store.vote("demo", battle.battle_id, "alice", "b", rubric=rubric).rubric == rubric


def test_a_battle_of_another_session_is_refused(tmp_path):
    store, _ = prepared(tmp_path)
    other = load_session(write_session(tmp_path / "s2", n_inputs=1, session_id="second"))
    store.create_session(other)
    prepare_battles(store, other, fake_answer)
    battle = store.next_battle("second", "alice")
    with pytest.raises(UnknownBattle):
        store.vote("demo", battle.battle_id, "alice", "a")


def test_minimum_viewing_time_is_enforced_server_side(tmp_path):
    clock = Clock()
    store, _ = prepared(tmp_path, clock=clock, options={"min_view_seconds": 8})
    battle = store.next_battle("demo", "alice")
    clock.now += 5.5
    with pytest.raises(TooEarly, match="opens in 3 s") as caught:
        store.vote("demo", battle.battle_id, "alice", "a")
    assert caught.value.wait_s == pytest.approx(2.5)
    clock.now += 2.5
    vote = store.vote("demo", battle.battle_id, "alice", "a")
    assert vote.voted_at - vote.served_at == pytest.approx(8)


def test_identical_retry_returns_the_first_vote_and_a_change_is_rejected(tmp_path):
    store, _ = prepared(tmp_path)
    battle = store.next_battle("demo", "alice")
    first = store.vote("demo", battle.battle_id, "alice", "both_bad", reason="both miss the cat", ip="10.0.0.1")
    assert store.vote("demo", battle.battle_id, "alice", "both_bad", reason="both miss the cat") == first
    with pytest.raises(DuplicateVote):
        store.vote("demo", battle.battle_id, "alice", "a", reason="both miss the cat")
    with pytest.raises(DuplicateVote):
        store.vote("demo", battle.battle_id, "alice", "both_bad", reason="changed my mind")
    assert store.votes() == [first]


def test_identities_are_revealed_only_after_the_vote(tmp_path):
    store, session = prepared(tmp_path)
    battle = store.next_battle("demo", "alice")
    with pytest.raises(InvalidVote, match="revealed after your vote"):
        store.reveal("demo", battle.battle_id, "alice")
    vote = store.vote("demo", battle.battle_id, "alice", "b")
    reveal = store.reveal("demo", battle.battle_id, "alice")
    assert (reveal.a, reveal.b, reveal.choice) == (session.system(vote.system_a), session.system(vote.system_b), "b")
    with pytest.raises(InvalidVote):
        store.reveal("demo", battle.battle_id, "bob")


def test_votes_are_tagged_with_versions(tmp_path):
    store, session = prepared(tmp_path)
    battle = store.next_battle("demo", "alice")
    vote = store.vote("demo", battle.battle_id, "alice", "a")
    item = next(i for i in session.inputs if i.id == vote.input_id)
    assert vote.app_version == "9.9.9"
    assert vote.prompt_hash == item.prompt_hash and vote.task == "video"
    for side in "ab":
        system = session.system(getattr(vote, f"system_{side}"))
        assert getattr(vote, f"model_{side}") == system.model
        assert getattr(vote, f"revision_{side}") == system.revision
        assert getattr(vote, f"settings_{side}") == system.settings


def test_rater_and_ip_are_stored_only_as_salted_hashes(tmp_path):
    store, _ = prepared(tmp_path)
    battle = store.next_battle("demo", "hf:alice-the-rater", ip="203.0.113.77")
    vote = store.vote("demo", battle.battle_id, "hf:alice-the-rater", "a", ip="203.0.113.77")
    assert vote.rater_hash == store.hash_id("rater", "hf:alice-the-rater")
    assert vote.ip_hash == store.hash_id("ip", "203.0.113.77")
    other_salt = make_store(tmp_path, salt="another-salt")
    assert other_salt.hash_id("rater", "hf:alice-the-rater") != vote.rater_hash
    store.backup(tmp_path / "copy.sqlite")
    dump = "\n".join(sqlite3.connect(tmp_path / "copy.sqlite").iterdump())
    assert vote.rater_hash in dump
    for secret in ("alice-the-rater", "203.0.113.77", "test-salt"):
        assert secret not in dump


def test_uploads_are_answered_on_demand_and_shown_only_to_their_uploader(tmp_path):
    store, _ = prepared(tmp_path, n_inputs=1)
    with pytest.raises(SessionError, match="uploads are off"):
        store.add_input("demo", "video", "Count the dogs", ["clip0.mp4"], "alice")
    uploads = load_session(
        write_session(tmp_path / "u", n_inputs=1, session_id="open", options={"rater_uploads": True})
    )
    store.create_session(uploads)
    (Path(uploads.data_dir) / "upload-1.mp4").write_bytes(b"\x01")
    with pytest.raises(SessionError, match="not found"):
        store.add_input("open", "video", "Count the dogs", ["upload-2.mp4"], "alice")
    item = store.add_input("open", "video", "Count the dogs", ["upload-1.mp4"], "alice")
    served = battle_on_demand(store, uploads, item, fake_answer, "alice")
    assert served.input == item
    assert store.next_battle("open", "alice") == served  # still pending for alice
    assert store.next_battle("open", "bob") is None  # nothing prepared, and alice's upload is hers
    with pytest.raises(UnknownBattle):
        store.serve("open", served.battle_id, "bob")  # not even by a direct call
    with pytest.raises(UnknownBattle):
        store.serve("demo", served.battle_id, "alice")
    vote = store.vote("open", served.battle_id, "alice", "tie")
    assert (vote.input_id, vote.prompt_hash) == (item.id, item.prompt_hash)


def test_answers_with_revealing_file_names_are_refused(tmp_path):
    session = load_session(write_session(tmp_path / "session", n_inputs=1))
    store = make_store(tmp_path)
    store.create_session(session)
    for path in ("out/Molmo2-8B/overlay.png", "out/molmo2_8b.mp4", "s2-overlay.png", "x/MOLMO2 8B overlay.png"):
        with pytest.raises(SessionError, match="reveals the system"):
            store.add_answer("demo", "q0", "s2", Answer("text", None, (path,)))
    store.add_answer("demo", "q0", "s2", Answer("text", None, ("out/8f3a/overlay-0.png",)))  # "8f3a" is no name
    assert store.answer("demo", "q0", "s2").artefacts == ("out/8f3a/overlay-0.png",)


def test_stored_answers_are_immutable(tmp_path):
    store, session = prepared(tmp_path, n_inputs=1)
    item = session.inputs[0]
    stored = store.answer("demo", item.id, "s1")
    assert stored == fake_answer(session.system("s1"), item)
    store.add_answer("demo", item.id, "s1", stored)  # the same again: no-op
    with pytest.raises(SessionError, match="already stored"):
        store.add_answer("demo", item.id, "s1", Answer("another text"))
    with pytest.raises(SessionError, match="no input"):
        store.add_answer("demo", "q9", "s1", stored)


def _vote_everything(store: Store, rater: str) -> list:
    votes = []
    while (battle := store.next_battle("demo", rater)) is not None:
        votes.append(store.vote("demo", battle.battle_id, rater, random.Random(battle.battle_id).choice("ab")))
    return votes


def test_export_jsonl_and_csv(tmp_path):
    store, _ = prepared(tmp_path, options={"rubric": True})
    battle = store.next_battle("demo", "alice")
    store.vote("demo", battle.battle_id, "alice", "a", rubric={"b": {"count_right": False}}, reason='said "3", is 4')
    _vote_everything(store, "bob")
    votes = store.votes()
    out = io.StringIO()
    assert store.write_votes(out, "jsonl") == len(votes) == 13
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [v.id for v in votes]
    assert rows[0]["rubric"] == {"b": {"count_right": False}} and rows[0]["reason"] == 'said "3", is 4'
    assert rows[0]["voted_at"].endswith("+00:00")
    out = io.StringIO()
    store.write_votes(out, "csv", session_id="demo")
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(table) == 13
    assert table[0]["rubric_b_count_right"] == "False" and table[0]["rubric_a_count_right"] == ""
    assert table[0]["reason"] == 'said "3", is 4' and table[0]["choice"] == "a"
    assert json.loads(table[0]["settings_a"]) == votes[0].settings_a


def test_backup_while_votes_arrive_is_a_consistent_copy(tmp_path):
    store, _ = prepared(tmp_path, n_inputs=30)
    writer = threading.Thread(target=_vote_everything, args=(store, "alice"))
    writer.start()
    time.sleep(0.05)
    store.backup(tmp_path / "backup.sqlite")
    writer.join()
    copy = Store(f"sqlite:///{tmp_path / 'backup.sqlite'}", salt="test-salt", app_version="9.9.9")
    assert copy.integrity_problems() == []
    copied = copy.votes()
    assert copied == store.votes()[: len(copied)]  # a prefix: every vote committed before the copy, none torn
    assert copy.session("demo") == store.session("demo")


def test_open_store_defaults_to_sqlite_in_cache_dir_with_a_private_salt(tmp_path):
    first = open_store("1.0", tmp_path / "cache", env={})
    assert first.url.database == str(tmp_path / "cache" / "ratings.sqlite")
    salt_file = tmp_path / "cache" / "ratings.salt"
    assert salt_file.stat().st_mode & 0o777 == 0o600
    again = open_store("1.0", tmp_path / "cache", env={})
    assert again.hash_id("rater", "x") == first.hash_id("rater", "x")
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    env = {"MOLMO2_RATINGS_DB": url, "MOLMO2_RATINGS_SALT": "s3cret"}
    chosen = open_store("1.0", tmp_path / "cache", env=env)
    assert chosen.url.database == str(tmp_path / "elsewhere.db")
    assert chosen.hash_id("rater", "x") != first.hash_id("rater", "x")


def test_two_raters_run_a_session_from_jsonl_to_the_leaderboard(tmp_path):
    session = load_session(write_session(tmp_path / "session", n_inputs=30, options={"rubric": True}))
    store = make_store(tmp_path)
    store.create_session(session)
    error = {"s1": 3, "s2": 1, "s3": 0}  # how far each system's count is from the truth (7)

    def answer(system, item):
        return Answer(f"I count {7 + error[system.id]} cars.", {"count": 7 + error[system.id]})

    prepare_battles(store, session, answer)

    def rate(rater: str) -> None:  # judges only what is shown: the count closer to 7 wins
        while (battle := store.next_battle("demo", rater)) is not None:
            off_a, off_b = abs(battle.a.grounding["count"] - 7), abs(battle.b.grounding["count"] - 7)
            choice = "tie" if off_a == off_b else "a" if off_a < off_b else "b"
            store.vote("demo", battle.battle_id, rater, choice, rubric={"a": {"count_right": off_a == 0}})

    raters = [threading.Thread(target=rate, args=(name,)) for name in ("hf:alice", "session:bob")]
    for t in raters:
        t.start()
    for t in raters:
        t.join()
    assert len(store.votes("demo")) == 2 * 90
    board = leaderboards(store.comparisons("demo"), {s.id: s.name for s in session.systems})["all"]
    assert [s.system for s in board.standings] == ["s3", "s2", "s1"]
    assert all(s.ci_low < s.score < s.ci_high and s.votes == 120 for s in board.standings)
    assert board.standings[0].ci_low > board.standings[1].ci_high  # clearly separated


# Concurrency -------------------------------------------------------------------------------------------------


def test_16_threads_x_300_votes_each_sent_twice_give_exactly_4800_rows(tmp_path):
    store, _ = prepared(tmp_path, n_inputs=100)  # 300 battles
    barrier, errors, results = threading.Barrier(16), [], {}

    def rater(number: int) -> None:
        name, returned = f"rater-{number}", []
        barrier.wait()
        try:
            for _ in range(300):
                battle = store.next_battle("demo", name)
                choice = random.Random(f"{name}{battle.battle_id}").choice(["a", "b", "tie", "both_bad"])
                first = store.vote("demo", battle.battle_id, name, choice, ip=f"10.0.0.{number}")
                retry = store.vote("demo", battle.battle_id, name, choice, ip=f"10.0.0.{number}")
                assert retry == first
                returned.append(first.id)
            results[name] = returned
        except Exception as err:  # reported below; a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=rater, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    votes = store.votes()
    assert len(votes) == 4800
    assert len({(v.battle_id, v.rater_hash) for v in votes}) == 4800
    assert sorted(v.id for v in votes) == sorted(i for ids in results.values() for i in ids)
    assert Counter(v.rater_hash for v in votes) == {store.hash_id("rater", f"rater-{n}"): 300 for n in range(16)}
    assert store.integrity_problems() == []


def test_racing_duplicate_votes_store_one_row(tmp_path):
    store, _ = prepared(tmp_path)
    served = [(f"rater-{n}", store.next_battle("demo", f"rater-{n}").battle_id) for n in range(30)]
    returned: list[list] = [[], []]
    barrier = threading.Barrier(2)

    def send(slot: int) -> None:
        for rater, battle_id in served:
            barrier.wait()  # both copies of the vote leave at the same moment
            returned[slot].append(store.vote("demo", battle_id, rater, "tie", reason="same"))

    threads = [threading.Thread(target=send, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert returned[0] == returned[1] == store.votes()
    assert len(store.votes()) == 30


def test_a_writer_holding_the_lock_for_seconds_loses_no_votes(tmp_path):
    store, _ = prepared(tmp_path)
    served = {rater: store.next_battle("demo", rater) for rater in ("a", "b", "c", "d")}
    holder = sqlite3.connect(tmp_path / "ratings.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    durations, errors = {}, []

    def vote(rater: str) -> None:
        start = time.monotonic()
        try:
            store.vote("demo", served[rater].battle_id, rater, "b")
        except Exception as err:  # reported below
            errors.append(err)
        durations[rater] = time.monotonic() - start

    threads = [threading.Thread(target=vote, args=(r,)) for r in served]
    for t in threads:
        t.start()
    time.sleep(2.0)
    assert store.votes() == []  # readers are not blocked in WAL mode, and nothing got through
    holder.execute("COMMIT")
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.votes()) == 4
    assert min(durations.values()) >= 1.9  # they waited for the lock instead of failing


KILL_SCRIPT = """
import sys, threading
from ratings.store import Store
store = Store(sys.argv[1], salt="test-salt", app_version="9.9.9")
lock = threading.Lock()
def rater(name):
    while True:
        battle = store.next_battle("demo", name)
        vote = store.vote("demo", battle.battle_id, name, "a")
        with lock:
            print(vote.id, flush=True)  # only after the commit returned
threads = [threading.Thread(target=rater, args=(f"r{i}",)) for i in range(4)]
for t in threads:
    t.start()
"""


def test_kill_9_during_voting_loses_nothing_committed(tmp_path):
    store, _ = prepared(tmp_path, n_inputs=100)
    store.close()
    url = f"sqlite:///{tmp_path / 'ratings.sqlite'}"
    child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, url], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    reported = []
    for line in child.stdout:
        reported.append(int(line))
        if len(reported) == 300:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait()
    reported += [int(line) for line in child.stdout.read().split()]  # printed before the kill landed
    assert child.returncode == -signal.SIGKILL
    reopened = make_store(tmp_path)
    assert reopened.integrity_problems() == []
    stored = {v.id for v in reopened.votes()}
    assert set(reported) <= stored
    assert len(reported) >= 300
