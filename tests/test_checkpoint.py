"""Checkpoint resolution and config parsing: both config schemas, clear errors for missing files."""

from __future__ import annotations

import json
import shutil

import pytest

from inference.checkpoint import CheckpointError, resolve, weight_files
from inference.config import Molmo2Config
from reference import load_reference


def test_legacy_config_values(tiny_qwen3, tiny_olmo):
    qwen = resolve(str(tiny_qwen3)).config
    assert qwen.vision.num_layers == 4  # declared 6, vit_layers [-3, -5] -> blocks [3, 1]
    assert qwen.adapter.feature_layers == (3, 1)
    assert (qwen.text.qk_norm, qwen.text.norm_after, qwen.text.rope.scaling) == ("qwen3", False, None)
    assert qwen.text.num_kv_heads < qwen.text.num_heads
    olmo = resolve(str(tiny_olmo)).config
    assert (olmo.text.qk_norm, olmo.text.norm_after) == ("olmo", True)
    assert olmo.text.num_kv_heads == olmo.text.num_heads
    assert olmo.text.rope.scaling["rope_type"] == "yarn"
    assert 0 < len(olmo.text.rope.scaled_layers) < olmo.text.num_layers


@pytest.mark.reference
def test_new_schema_written_by_transformers_parses_the_same(tiny_checkpoint, tmp_path):
    model, _ = load_reference(tiny_checkpoint)
    model.save_pretrained(tmp_path)
    new = json.loads((tmp_path / "config.json").read_text())
    assert "vision_config" in new and "vit_config" not in new
    legacy = Molmo2Config.from_dict(json.loads((tiny_checkpoint / "config.json").read_text()))
    assert Molmo2Config.from_dict(new) == legacy


def test_missing_and_corrupt_files_are_named(tiny_qwen3, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_qwen3, broken)
    shard = sorted(broken.glob("model-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=shard.name):
        weight_files(broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json"):
        resolve(str(broken))
    (broken / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json is missing"):
        resolve(str(broken))
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve(str(tmp_path / "nowhere" / "model"))


def test_uncached_hub_model_offline_says_how_to_fix(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError) as err:
        resolve("allenai/Molmo2-4B", cache_dir=tmp_path)
    message = str(err.value)
    assert "not in the local Hugging Face cache" in message
    assert "--model DIR" in message and "tiny-random" in message


def test_tiny_random_is_written_once(tmp_path):
    first = resolve("tiny-random", cache_dir=tmp_path)
    assert first.random_weights and first.revision is None
    mtime = (first.path / "config.json").stat().st_mtime_ns
    assert resolve("tiny-random", cache_dir=tmp_path).path == first.path
    assert (first.path / "config.json").stat().st_mtime_ns == mtime
