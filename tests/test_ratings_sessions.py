"""Session definitions, JSONL inputs and the scheduling rules of ratings/sessions.py."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from ratings.sessions import (
    Answer,
    BattleLoad,
    SessionError,
    choose_battle,
    choose_pair,
    load_session,
    plan_pairs,
    prepare_battles,
    session_from_dict,
)
from ratings.store import Store

SYSTEMS = [
    {"id": "s1", "name": "Molmo2-4B", "model": "allenai/Molmo2-4B", "revision": "c0ffee", "settings": {}},
    {
        "id": "s2",
        "name": "Molmo2-8B",
        "model": "allenai/Molmo2-8B",
        "revision": "beefcafe1234",
        "settings": {"max_frames": 384},
    },
    {"id": "s3", "name": "Molmo2-4B sampling", "model": "allenai/Molmo2-4B", "settings": {"temperature": 0.7}},
]


def write_session(root: Path, *, n_inputs: int = 4, systems=None, options=None, session_id: str = "demo") -> Path:
    """A session folder: session.json, inputs.jsonl and one small media file per input under media/."""
    (root / "media").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n_inputs):
        (root / "media" / f"clip{i}.mp4").write_bytes(b"\x00" * 8)
        lines.append({"id": f"q{i}", "task": "video", "prompt": f"How many cars? ({i})", "media": [f"clip{i}.mp4"]})
    (root / "inputs.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    spec = {"id": session_id, "title": "4B vs 8B", "inputs": "inputs.jsonl", "data_dir": "media"}
    spec |= {"systems": SYSTEMS if systems is None else systems, "options": options or {}}
    (root / "session.json").write_text(json.dumps(spec))
    return root / "session.json"


def fake_answer(system, item) -> Answer:
    """An answer that names nothing: what a real engine run would store (text, grounding, neutral file names)."""
    return Answer(f"There are {len(system.id) + len(item.id)} cars.", {"points": [[1.0, 10, 20]]}, (f"{item.id}.png",))


def _spec(tmp_path: Path, **changes) -> dict:
    spec = json.loads(write_session(tmp_path).read_text())
    spec["data_dir"] = str(tmp_path / "media")
    spec["inputs"] = [json.loads(line) for line in (tmp_path / "inputs.jsonl").read_text().splitlines()]
    return spec | changes


def test_load_session_reads_definition_and_jsonl(tmp_path):
    session = load_session(write_session(tmp_path, options={"min_view_seconds": 5, "rubric": True}))
    assert session.id == "demo"
    assert [s.id for s in session.systems] == ["s1", "s2", "s3"]
    assert session.system("s2").settings == {"max_frames": 384}
    assert session.system("s3").revision is None
    assert [i.id for i in session.inputs] == ["q0", "q1", "q2", "q3"]
    assert session.inputs[0].media == ("clip0.mp4",)
    assert session.data_dir == str((tmp_path / "media").resolve())
    assert session.options.min_view_seconds == 5
    assert session.options.rubric and not session.options.rater_uploads


def test_definition_round_trips_through_to_dict(tmp_path):
    session = load_session(write_session(tmp_path))
    assert session_from_dict(json.loads(json.dumps(session.to_dict()))) == session


def test_input_id_defaults_to_content_hash(tmp_path):
    spec = _spec(tmp_path)
    for record in spec["inputs"]:
        del record["id"]
    first, second = session_from_dict(spec), session_from_dict(spec)
    assert first.inputs[0].id == second.inputs[0].id == "in-" + first.inputs[0].prompt_hash[:12]
    assert len({i.id for i in first.inputs}) == 4


def test_prompt_hash_changes_with_prompt_and_media(tmp_path):
    spec = _spec(tmp_path)
    base = session_from_dict(spec).inputs[0].prompt_hash
    spec["inputs"][0]["prompt"] += "?"
    assert session_from_dict(spec).inputs[0].prompt_hash != base
    spec = _spec(tmp_path)
    spec["inputs"][0]["media"] = ["clip1.mp4"]
    assert session_from_dict(spec).inputs[0].prompt_hash != base


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(sytems=[]), "unknown key 'sytems'"),
        (lambda s: s.update(systems=SYSTEMS[:1]), "at least two systems"),
        (lambda s: s.update(systems=[SYSTEMS[0], SYSTEMS[0]]), "Duplicate system id 's1'"),
        (lambda s: s["inputs"].append(dict(s["inputs"][0])), "Duplicate input id 'q0'"),
        (lambda s: s.update(id="no spaces"), "session id"),
        (lambda s: s["inputs"][0].update(task="audio"), "task 'audio' is not one of"),
        (lambda s: s["inputs"][0].update(prompt="  "), "prompt must be non-empty"),
        (lambda s: s["inputs"][0].update(media=["missing.mp4"]), "not found"),
        (lambda s: s["inputs"][0].update(media=["../secret.mp4"]), "without '..'"),
        (lambda s: s["inputs"][0].update(media=["/etc/passwd"]), "relative to the data directory"),
        (lambda s: s["inputs"][0].update(media=["clip0.mp4", "clip1.mp4"]), "takes 1-1 media files, got 2"),
        (lambda s: s["inputs"][0].update(task="multi-image"), "takes 2-8 media files, got 1"),
        (lambda s: s.update(options={"min_view_seconds": -1}), "min_view_seconds"),
        (lambda s: s.update(options={"min_view_second": 3}), "unknown key 'min_view_second'"),
        (lambda s: s["systems"][0].update(settings=[1]), "settings must be a JSON object"),
    ],
)
def test_invalid_definitions_are_rejected_with_a_reason(tmp_path, change, message):
    spec = _spec(tmp_path)
    change(spec)
    with pytest.raises(SessionError, match=message):
        session_from_dict(spec)


def test_stored_definition_reads_back_without_its_media(tmp_path):
    spec = _spec(tmp_path)
    spec["data_dir"] = str(tmp_path / "moved")
    with pytest.raises(SessionError, match="not found"):
        session_from_dict(spec)
    assert len(session_from_dict(spec, check_files=False).inputs) == 4


def test_jsonl_errors_name_the_line(tmp_path):
    path = write_session(tmp_path)
    (tmp_path / "inputs.jsonl").write_text('{"task": "video", "prompt": "a", "media": ["clip0.mp4"]}\n{oops\n')
    with pytest.raises(SessionError, match=r"inputs.jsonl, line 2: not valid JSON"):
        load_session(path)


def test_plan_covers_every_pair_of_every_input(tmp_path):
    session = load_session(write_session(tmp_path))
    plan = plan_pairs(session)
    assert len(plan) == 4 * 3
    assert set(plan) == {(i.id, p) for i in session.inputs for p in [("s1", "s2"), ("s1", "s3"), ("s2", "s3")]}


def test_plan_with_fewer_pairs_per_input_stays_balanced(tmp_path):
    session = load_session(write_session(tmp_path, n_inputs=10))
    plan = plan_pairs(session, pairs_per_input=1, seed=3)
    assert [input_id for input_id, _ in plan] == [i.id for i in session.inputs]
    counts = Counter(pair for _, pair in plan)
    assert sorted(counts.values()) == [3, 3, 4]
    assert plan == plan_pairs(session, pairs_per_input=1, seed=3)


def test_choose_battle_prefers_least_shown_pair_then_battle():
    unseen = [
        BattleLoad("ab1", ("a", "b"), 3),
        BattleLoad("ab2", ("a", "b"), 0),
        BattleLoad("ac1", ("a", "c"), 1),
        BattleLoad("ac2", ("a", "c"), 1),
        BattleLoad("bc2", ("b", "c"), 2),
    ]
    pair_served = {("a", "b"): 3, ("a", "c"): 2, ("b", "c"): 2}
    # ac and bc are the least-shown pairs; their least-shown unseen battles are ac1 and ac2: chance decides.
    picks = Counter(choose_battle(unseen, pair_served, random.Random(seed)) for seed in range(200))
    assert set(picks) == {"ac1", "ac2"}
    assert picks["ac1"] > 60 and picks["ac2"] > 60
    assert choose_battle(unseen[:2], pair_served, random.Random(0)) == "ab2"
    assert choose_battle([], pair_served, random.Random(0)) is None


def test_choose_pair_takes_least_shown(tmp_path):
    session = load_session(write_session(tmp_path))
    pair_served = {("s1", "s2"): 2, ("s1", "s3"): 1, ("s2", "s3"): 1}
    picks = {choose_pair(session, pair_served, random.Random(seed)) for seed in range(50)}
    assert picks == {("s1", "s3"), ("s2", "s3")}
    assert choose_pair(session, pair_served | {("s1", "s3"): 2}, random.Random(0)) == ("s2", "s3")
    assert choose_pair(session, {("s1", "s2"): 1, ("s2", "s3"): 1}, random.Random(0)) == ("s1", "s3")


def test_prepare_battles_answers_each_input_once_per_system_and_resumes(tmp_path):
    session = load_session(write_session(tmp_path / "session", n_inputs=5))
    store = Store(f"sqlite:///{tmp_path / 'ratings.sqlite'}", salt="salt", app_version="test")
    store.create_session(session)
    calls = Counter()

    def answer(system, item):
        calls[(system.id, item.id)] += 1
        if sum(calls.values()) == 7:
            raise InterruptedError("the organiser stops the batch half-way")
        return fake_answer(system, item)

    with pytest.raises(InterruptedError):
        prepare_battles(store, session, answer)
    done = len(store.battle_pairs("demo"))
    assert 0 < done < 15
    assert prepare_battles(store, session, answer) == 15 - done
    assert prepare_battles(store, session, answer) == 0
    assert store.battle_pairs("demo") == set(plan_pairs(session))
    assert set(calls) == {(s.id, i.id) for s in session.systems for i in session.inputs}
    assert sum(calls.values()) == 15 + 1  # every answer computed once, plus the call that was interrupted
