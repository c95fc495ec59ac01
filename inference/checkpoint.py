"""Find a Molmo2 checkpoint (hub repo id, local directory or `tiny-random`) and check its files.

Hub ids go through huggingface_hub, which honours the local cache and HF_HUB_OFFLINE; every failure becomes a
`CheckpointError` whose message says what is wrong and how to fix it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from inference.config import Molmo2Config

DEFAULT_MODEL = "allenai/Molmo2-4B"
PUBLISHED_MODELS = ("allenai/Molmo2-4B", "allenai/Molmo2-8B", "allenai/Molmo2-O-7B")
TINY_RANDOM = "tiny-random"
# Files the engine reads; anything else in a hub repo (README, remote code, images) is not downloaded.
CHECKPOINT_PATTERNS = ["*.json", "*.jinja", "*.txt", "*.safetensors"]


class CheckpointError(Exception):
    """A checkpoint that cannot be found or read; the message is written for the person running the app."""


@dataclass(frozen=True)
class Checkpoint:
    name: str  # what the user asked for: a repo id, a directory or "tiny-random"
    path: Path  # local directory holding the files
    revision: str | None  # hub commit of the snapshot, when it came from the hub
    config: Molmo2Config
    random_weights: bool  # True for tiny-random: answers are meaningless


def resolve(name: str, *, revision: str | None = None, cache_dir: str | Path | None = None) -> Checkpoint:
    """Locate `name` (at hub commit `revision`, when given) and check its config, tokenizer and shards exist."""
    if name == TINY_RANDOM:
        path = _tiny_random(cache_dir)
    elif Path(name).expanduser().is_dir():
        path = Path(name).expanduser().resolve()
    elif _looks_like_path(name):
        raise CheckpointError(f"Model directory {name} does not exist.")
    else:
        path = _download(name, revision, cache_dir)
        revision = path.name if path.parent.name == "snapshots" else revision
    return Checkpoint(
        name=name,
        path=path,
        revision=revision,
        config=Molmo2Config.from_dict(read_json(path / "config.json")),
        random_weights=name == TINY_RANDOM,
    )


def weight_files(path: Path) -> list[Path]:
    """The safetensors shards of a checkpoint directory, checked to exist."""
    index = path / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(read_json(index)["weight_map"].values()))
    elif (path / "model.safetensors").exists():
        shards = ["model.safetensors"]
    else:
        raise CheckpointError(f"{path} has no model.safetensors.index.json and no model.safetensors.")
    missing = [s for s in shards if not (path / s).is_file()]
    if missing:
        raise CheckpointError(f"Checkpoint {path} is incomplete: missing weight file {missing[0]}.")
    return [path / s for s in shards]


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"Checkpoint file {path.name} is missing from {path.parent}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"Checkpoint file {path} is not valid JSON ({err}).") from err


def offline_help(name: str) -> str:
    return (
        f"Download it on a machine with network access (`hf download {name} --local-dir DIR`) and start the app "
        "with `python app.py --model DIR`, or try the app with random weights (meaningless answers): "
        f"`python app.py --model {TINY_RANDOM}`."
    )


def _download(repo_id: str, revision: str | None, cache_dir: str | Path | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(
            snapshot_download(repo_id, revision=revision, allow_patterns=CHECKPOINT_PATTERNS, cache_dir=cache_dir)
        )
    except RepositoryNotFoundError as err:
        raise CheckpointError(f"Model {repo_id} was not found on the Hugging Face hub.") from err
    except LocalEntryNotFoundError as err:
        # Raised both in offline mode and when the hub cannot be reached and nothing is cached.
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        why = "offline mode is on (HF_HUB_OFFLINE)" if offline else "the hub cannot be reached"
        raise CheckpointError(
            f"Model {repo_id} is not in the local Hugging Face cache and {why}. {offline_help(repo_id)}"
        ) from err
    except (HfHubHTTPError, OSError) as err:
        raise CheckpointError(f"Could not download {repo_id}: {err}. {offline_help(repo_id)}") from err


def _tiny_random(cache_dir: str | Path | None) -> Path:
    from inference.tiny import write_checkpoint

    root = Path(cache_dir or os.environ.get("MOLMO2_CACHE", Path.home() / ".cache" / "molmo2-demo"))
    path = root / "tiny-random-qwen3-seed0"
    if not (path / "model.safetensors.index.json").is_file():
        # Written beside the target and renamed, so a concurrent start never sees half a checkpoint.
        tmp = root / f".{path.name}.{os.getpid()}"
        write_checkpoint(tmp, variant="qwen3", size="tiny", seed=0)
        try:
            tmp.rename(path)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") != 1 or os.sep + os.sep in name
