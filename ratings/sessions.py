"""Rating sessions: what is compared over which inputs, read from a JSON definition and a JSONL of inputs, and
the scheduling rules (which pairs to prepare, which battle a rater sees next).

Everything here is plain data and pure functions; `prepare_battles` and `battle_on_demand` drive a `Store`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ratings.store import ServedBattle, Store

TASK_TYPES = ("image", "multi-image", "video", "tracking")
# How many media files each task takes (inclusive range).
MEDIA_COUNTS = {"image": (1, 1), "multi-image": (2, 8), "video": (1, 1), "tracking": (1, 1)}
CHOICES = ("a", "b", "tie", "both_bad")
RUBRIC_QUESTIONS = ("answer_correct", "points_on_objects", "count_right", "ids_stable")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class RatingsError(Exception):
    """Something a caller (organiser, rater, tab) got wrong; the message says what and what is accepted."""


class SessionError(RatingsError):
    """A session definition or input that cannot be used."""


@dataclass(frozen=True)
class System:
    id: str  # opaque; never shown to raters before their vote
    name: str  # display name, revealed after the vote
    model: str  # hub repo id or checkpoint directory
    revision: str | None  # pin a hub commit so votes name exactly what was rated
    settings: Mapping[str, Any] = field(default_factory=dict)  # e.g. max_frames, sampling, temperature


@dataclass(frozen=True)
class Input:
    id: str
    task: str  # one of TASK_TYPES
    prompt: str
    media: tuple[str, ...]  # POSIX paths relative to the session's data directory

    @property
    def prompt_hash(self) -> str:
        """Identifies exactly what was asked (task, prompt, media); every answer, battle and vote carries it."""
        canonical = json.dumps([self.task, self.prompt, list(self.media)], ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Options:
    min_view_seconds: float = 0.0  # enforced by the store when a vote arrives
    rubric: bool = False  # raters may tick RUBRIC_QUESTIONS for each side
    rater_uploads: bool = False  # raters may bring their own inputs (answered on demand)


@dataclass(frozen=True)
class Session:
    id: str
    title: str
    systems: tuple[System, ...]
    inputs: tuple[Input, ...]  # the prepared set; rater uploads live in the store only
    options: Options
    data_dir: str  # absolute; media paths of inputs are relative to it

    def system(self, system_id: str) -> System:
        for system in self.systems:
            if system.id == system_id:
                return system
        raise SessionError(f"Session {self.id} has no system {system_id!r}.")

    def to_dict(self) -> dict:
        """The definition format of `session_from_dict`, with the inputs inline."""
        return {
            "id": self.id,
            "title": self.title,
            "data_dir": self.data_dir,
            "systems": [
                {"id": s.id, "name": s.name, "model": s.model, "revision": s.revision, "settings": dict(s.settings)}
                for s in self.systems
            ],
            "inputs": [{"id": i.id, "task": i.task, "prompt": i.prompt, "media": list(i.media)} for i in self.inputs],
            "options": vars(self.options).copy(),
        }


@dataclass(frozen=True)
class Answer:
    """One system's answer as stored and rendered; it carries nothing that names the system."""

    text: str  # raw model output
    grounding: Any = None  # parsed points / tracks as JSON-able data; the tab renders it
    artefacts: tuple[str, ...] = ()  # files the tab shows (overlays, videos); names must not reveal the system


class BattleLoad(NamedTuple):
    """What scheduling needs to know about one battle (a tuple: the store builds one per battle per request)."""

    battle_id: str
    pair: tuple[str, str]  # system ids, sorted
    served: int  # times shown to any rater


def load_session(path: str | Path) -> Session:
    """Read a session definition (JSON); `inputs` and `data_dir` in it are paths relative to the file."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SessionError(f"Cannot read session definition {path}: {err}") from err
    if not isinstance(spec, dict):
        raise SessionError(f"{path}: a session definition is a JSON object.")
    base = path.parent
    spec = {**spec, "data_dir": str((base / spec.get("data_dir", ".")).resolve())}
    if isinstance(spec.get("inputs"), str):
        spec["inputs"] = _read_jsonl(base / spec["inputs"])
    return session_from_dict(spec)


def _read_jsonl(path: Path) -> list[dict]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SessionError(f"Cannot read inputs file {path}: {err}") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise SessionError(f"{path}, line {number}: not valid JSON ({err.msg}).") from err
    return records


def session_from_dict(spec: Mapping[str, Any], *, check_files: bool = True) -> Session:
    """Validate a definition: ids, at least two systems, inputs whose media stay inside data_dir (and exist there,
    unless `check_files` is False: a stored session is read back even where its media are not present)."""
    _check_keys("session", spec, required={"id", "title", "systems", "inputs", "data_dir"}, optional={"options"})
    session_id = _check_id("session id", spec["id"])
    data_dir = Path(spec["data_dir"])
    systems = tuple(_system(s) for s in _list("systems", spec["systems"]))
    if len(systems) < 2:
        raise SessionError("A session compares at least two systems.")
    media_root = data_dir if check_files else None
    records = enumerate(_list("inputs", spec["inputs"]))
    inputs = tuple(parse_input(record, media_root, where=f"input {n}") for n, record in records)
    for what, ids in (("system", [s.id for s in systems]), ("input", [i.id for i in inputs])):
        duplicates = sorted({x for x in ids if ids.count(x) > 1})
        if duplicates:
            raise SessionError(f"Duplicate {what} id {duplicates[0]!r} in session {session_id}.")
    return Session(session_id, str(spec["title"]), systems, inputs, _options(spec.get("options", {})), str(data_dir))


def parse_input(record: Any, data_dir: Path | None, *, where: str = "input") -> Input:
    """One input (a JSONL line or an upload): task, prompt, media paths that stay inside the data directory and
    exist in `data_dir` (not checked when it is None)."""
    _check_keys(where, record, required={"task", "prompt", "media"}, optional={"id"})
    task, prompt = record["task"], record["prompt"]
    if task not in TASK_TYPES:
        raise SessionError(f"{where}: task {task!r} is not one of {', '.join(TASK_TYPES)}.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise SessionError(f"{where}: the prompt must be non-empty text.")
    media = record["media"]
    media = tuple(_list(f"{where} media", [media] if isinstance(media, str) else media))
    low, high = MEDIA_COUNTS[task]
    if not low <= len(media) <= high:
        raise SessionError(f"{where}: a {task} input takes {low}-{high} media files, got {len(media)}.")
    for item in media:
        _check_media_path(where, item, data_dir)
    provisional = Input("", task, prompt, media)
    input_id = _check_id(f"{where} id", record["id"]) if "id" in record else "in-" + provisional.prompt_hash[:12]
    return Input(input_id, task, prompt, media)


def plan_pairs(
    session: Session, *, pairs_per_input: int | None = None, seed: int = 0
) -> list[tuple[str, tuple[str, str]]]:
    """(input id, system pair) to prepare: every pair for every input, or the `pairs_per_input` least used so far
    (random among equals) so that each pair of systems is compared about equally often."""
    pairs = list(itertools.combinations(sorted(s.id for s in session.systems), 2))
    if pairs_per_input is None or pairs_per_input >= len(pairs):
        return [(i.id, pair) for i in session.inputs for pair in pairs]
    rng, used = random.Random(seed), dict.fromkeys(pairs, 0)
    plan = []
    for item in session.inputs:
        for pair in sorted(pairs, key=lambda p: (used[p], rng.random()))[:pairs_per_input]:
            used[pair] += 1
            plan.append((item.id, pair))
    return plan


def choose_battle(
    unseen: Sequence[BattleLoad], pair_served: Mapping[tuple[str, str], int], rng: random.Random
) -> str | None:
    """The scheduling rule. `unseen`: the shared battles this rater has not been shown; `pair_served`: how often each
    pair of systems has been shown to anyone. Take the least-shown pair, then its least-shown battle, then chance;
    None when nothing is left."""
    if not unseen:
        return None
    return min(unseen, key=lambda b: (pair_served.get(b.pair, 0), b.served, rng.random())).battle_id


def choose_pair(session: Session, pair_served: Mapping[tuple[str, str], int], rng: random.Random) -> tuple[str, str]:
    """For an on-demand battle: the pair of systems shown least so far, then chance."""
    pairs = itertools.combinations(sorted(s.id for s in session.systems), 2)
    return min(pairs, key=lambda p: (pair_served.get(p, 0), rng.random()))


AnswerFn = Callable[[System, Input], Answer]


def prepare_battles(
    store: Store, session: Session, answer: AnswerFn, *, pairs_per_input: int | None = None, seed: int = 0
) -> int:
    """Batch preparation: answer each planned (input, system) once and store a battle per planned pair, so raters
    never wait for a model. Resumable: answers and battles already stored are kept. Returns battles created."""
    inputs = {i.id: i for i in session.inputs}
    existing = store.battle_pairs(session.id)
    created = 0
    for input_id, pair in plan_pairs(session, pairs_per_input=pairs_per_input, seed=seed):
        if (input_id, pair) in existing:
            continue
        for system_id in pair:
            _ensure_answer(store, session, inputs[input_id], system_id, answer)
        store.add_battle(session.id, input_id, pair)
        created += 1
    return created


def battle_on_demand(
    store: Store, session: Session, item: Input, answer: AnswerFn, rater: str, *, ip: str | None = None
) -> ServedBattle:
    """A battle made now on `item` (a prepared input or the rater's own upload, see `Store.add_input`) between the
    least-compared pair of systems, served to `rater` at once."""
    pair = choose_pair(session, store.pair_served(session.id), store.rng)
    for system_id in pair:
        _ensure_answer(store, session, item, system_id, answer)
    battle_id = store.add_battle(session.id, item.id, pair)
    return store.serve(session.id, battle_id, rater, ip=ip)


def _ensure_answer(store: Store, session: Session, item: Input, system_id: str, answer: AnswerFn) -> None:
    if store.answer(session.id, item.id, system_id) is None:
        store.add_answer(session.id, item.id, system_id, answer(session.system(system_id), item))


def _system(spec: Any) -> System:
    _check_keys("system", spec, required={"id", "name", "model"}, optional={"revision", "settings"})
    settings = spec.get("settings", {})
    if not isinstance(settings, dict):
        raise SessionError(f"system {spec['id']!r}: settings must be a JSON object.")
    revision = spec.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise SessionError(f"system {spec['id']!r}: revision is a commit hash or tag (text).")
    return System(_check_id("system id", spec["id"]), str(spec["name"]), str(spec["model"]), revision, settings)


def _options(spec: Any) -> Options:
    _check_keys("options", spec, required=set(), optional=set(vars(Options())))
    options = Options(**spec)
    if not isinstance(options.min_view_seconds, int | float) or options.min_view_seconds < 0:
        raise SessionError("options: min_view_seconds must be a number >= 0.")
    if not isinstance(options.rubric, bool) or not isinstance(options.rater_uploads, bool):
        raise SessionError("options: rubric and rater_uploads are true or false.")
    return options


def _check_media_path(where: str, item: Any, data_dir: Path | None) -> None:
    if not isinstance(item, str) or not item:
        raise SessionError(f"{where}: media entries are file paths.")
    path = PurePosixPath(item)
    if path.is_absolute() or ".." in path.parts or "\\" in item:
        raise SessionError(f"{where}: media path {item!r} must be relative to the data directory, without '..'.")
    if data_dir is not None and not (data_dir / path).is_file():
        raise SessionError(f"{where}: media file {item!r} not found in {data_dir}.")


def _check_keys(where: str, spec: Any, *, required: set[str], optional: set[str]) -> None:
    if not isinstance(spec, Mapping):
        raise SessionError(f"{where}: expected a JSON object, got {type(spec).__name__}.")
    missing, unknown = required - spec.keys(), spec.keys() - required - optional
    if missing:
        raise SessionError(f"{where}: missing {', '.join(sorted(missing))}.")
    if unknown:
        accepted = ", ".join(sorted(required | optional))
        raise SessionError(f"{where}: unknown key {sorted(unknown)[0]!r} (accepted: {accepted}).")


def _check_id(what: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise SessionError(f"{what} {value!r}: use 1-64 letters, digits, '_', '-' or '.', not starting with '_-.'.")
    return value


def _list(what: str, value: Any) -> Sequence:
    if not isinstance(value, list | tuple):
        raise SessionError(f"{what}: expected a list.")
    return value
