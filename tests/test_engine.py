"""Molmo2Engine against transformers 5.23 on tiny checkpoints of both variants: logits, greedy tokens, reuse."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import inference.decoding
import inference.engine
from inference.checkpoint import CheckpointError
from inference.engine import Molmo2Engine
from inference.request import Request
from reference import load_reference, reference_inputs

TOLERANCE = 1e-4


def _image(width, height, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def _video(frames=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (frames, 90, 120, 3), dtype=np.uint8)


def _conversations():
    video = _video()
    times = [0.5 * k for k in range(len(video))]
    return {
        "image": ([_user({"type": "image", "image": _image(640, 480)}, "Point to the cat.")], None),
        "image_set": (
            [_user({"type": "image", "image": _image(300, 500, 1)}, {"type": "image", "image": _image(700, 200, 2)},
                   "Count the boats in all images.")],
            None,
        ),
        "video": ([_user({"type": "video", "video": video, "timestamps": times}, "Track the ball.")], (video, times)),
        "multi_turn": (
            [
                _user({"type": "image", "image": _image(500, 400, 3)}, "What is this?"),
                {"role": "assistant", "content": [{"type": "text", "text": "A test pattern."}]},
                _user("Point to the brightest spot."),
            ],
            None,
        ),
    }  # fmt: skip


def _user(*parts):
    content = [p if isinstance(p, dict) else {"type": "text", "text": p} for p in parts]
    return {"role": "user", "content": content}


@pytest.fixture(scope="module", params=["qwen3", "olmo"])
def pair(request):
    """(our engine, reference model, reference processor) on one tiny checkpoint."""
    path = request.getfixturevalue(f"tiny_{request.param}")
    model, processor = load_reference(path)
    return Molmo2Engine.load(path), model, processor


@pytest.mark.reference
@pytest.mark.parametrize("case", ["image", "image_set", "video", "multi_turn"])
def test_prompt_logits_and_greedy_tokens_match_reference(pair, case):
    engine, model, processor = pair
    messages, video = _conversations()[case]
    inputs = reference_inputs(processor, messages, video=video)
    with torch.no_grad():
        expected = model(**inputs).logits[0]
        expected_tokens = model.generate(**inputs, max_new_tokens=32, do_sample=False)[
            0, inputs["input_ids"].shape[1] :
        ]
    ours = engine.prefill_logits(Request(messages=messages))
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max().item() <= TOLERANCE
    engine.prefixes.entries.clear()
    result = engine.generate(Request(messages=messages, max_new_tokens=32))
    eos = set(engine.eos_ids)
    expected_list = [t for t in expected_tokens.tolist()]
    cut = next((i for i, t in enumerate(expected_list) if t in eos), len(expected_list))
    assert list(result.token_ids) == expected_list[:cut]


@pytest.mark.reference
def test_visual_block_rule_matters(pair, monkeypatch):
    """With a purely causal mask the prompt logits move away from the reference: the rule is load-bearing."""
    engine, model, processor = pair
    messages, _ = _conversations()["image"]
    with torch.no_grad():
        expected = model(**reference_inputs(processor, messages)).logits[0]
    causal = lambda qp, kp, qv, kv: kp[None, :] <= qp[:, None]  # noqa: E731
    monkeypatch.setattr(inference.engine, "attention_mask", causal)
    changed = engine.prefill_logits(Request(messages=messages))
    assert (changed - expected).abs().max().item() > 100 * TOLERANCE


@pytest.mark.reference
def test_prefix_reuse_gives_identical_answers(pair):
    engine, _, _ = pair
    image = _image(640, 480, 7)
    first = [_user({"type": "image", "image": image}, "Point to the cat.")]
    follow_up = [_user({"type": "image", "image": image}, "Count the dogs.")]
    engine.prefixes.entries.clear()
    cold = engine.generate(Request(messages=follow_up, max_new_tokens=32))
    engine.prefixes.entries.clear()
    engine.generate(Request(messages=first, max_new_tokens=8))
    warm = engine.generate(Request(messages=follow_up, max_new_tokens=32))
    visual_end = int(engine.processor(Request(messages=follow_up)).visual_mask.nonzero()[-1]) + 1
    assert warm.reused_tokens >= visual_end  # the whole image block came from the cache
    assert cold.reused_tokens == 0
    assert warm.token_ids == cold.token_ids
    # A multi-turn continuation reuses the image and the first question too.
    turns = [*first, {"role": "assistant", "content": [{"type": "text", "text": "There."}]}, _user("And now?")]
    engine.prefixes.entries.clear()
    cold_turn = engine.generate(Request(messages=turns, max_new_tokens=16))
    engine.prefixes.entries.clear()
    engine.generate(Request(messages=first, max_new_tokens=4))
    warm_turn = engine.generate(Request(messages=turns, max_new_tokens=16))
    assert warm_turn.reused_tokens > visual_end
    assert warm_turn.token_ids == cold_turn.token_ids


def test_prefix_is_not_reused_for_different_media_of_the_same_size(tiny_qwen3):
    engine = Molmo2Engine.load(tiny_qwen3)
    engine.generate(Request(messages=[_user({"type": "image", "image": _image(320, 240, 1)}, "Q")], max_new_tokens=2))
    other = engine.generate(
        Request(messages=[_user({"type": "image", "image": _image(320, 240, 2)}, "Q")], max_new_tokens=2)
    )
    assert other.reused_tokens == 1  # only BOS: the ids are equal but the pixels are not
    assert other.timings["vision"] > 0


def test_prefix_cache_is_bounded(tiny_qwen3):
    engine = Molmo2Engine.load(tiny_qwen3, prefix_cache_gib=0)
    engine.prefixes.max_bytes = 2**20  # about three 200x200-image prompts
    for seed in range(6):
        engine.generate(
            Request(messages=[_user({"type": "image", "image": _image(200, 200, seed)}, "Q")], max_new_tokens=1)
        )
    sizes = [entry.nbytes for entry in engine.prefixes.entries.values()]
    assert sum(sizes) <= engine.prefixes.max_bytes
    assert 0 < len(sizes) < 6


def test_stream_deltas_are_whole_characters(tiny_qwen3):
    """Random weights emit byte tokens that split UTF-8 characters; deltas must still be valid text."""
    engine = Molmo2Engine.load(tiny_qwen3)
    detokenizer = inference.decoding.Detokenizer(engine.processor.tokenizer, skip_ids=set())
    ids = engine.processor.encode_text("Zählen: 🐧🐧 ∑ über café")
    deltas = [detokenizer.push(i) for i in ids] + [detokenizer.flush()]
    assert "".join(deltas) == "Zählen: 🐧🐧 ∑ über café"
    assert all("\ufffd" not in d for d in deltas)
    assert any(d == "" for d in deltas[:-1])  # some tokens were held back until their character completed
    # Random weights also emit byte sequences that never form a character: those become U+FFFD once followed by
    # more text, and nothing already emitted ever changes (the deltas add up to the final text).
    stream = engine.stream(Request(messages=[_user("Say something long.")], max_new_tokens=48))
    text = "".join(stream)
    assert stream.result.text.rstrip("\ufffd") == text


def test_sampling_is_seeded_and_settings_apply(tiny_qwen3):
    engine = Molmo2Engine.load(tiny_qwen3)
    ask = [_user("Describe a scene.")]
    a = engine.generate(Request(messages=ask, max_new_tokens=24, temperature=0.7, top_p=0.95, seed=3))
    b = engine.generate(Request(messages=ask, max_new_tokens=24, temperature=0.7, top_p=0.95, seed=3))
    c = engine.generate(Request(messages=ask, max_new_tokens=24, temperature=0.7, top_p=0.95, seed=4))
    assert a.token_ids == b.token_ids != c.token_ids
    greedy = engine.generate(Request(messages=ask, max_new_tokens=24))
    penalised = engine.generate(Request(messages=ask, max_new_tokens=24, frequency_penalty=5.0))
    assert max(np.bincount(penalised.token_ids)) < max(np.bincount(greedy.token_ids))
    top1 = engine.generate(Request(messages=ask, max_new_tokens=24, temperature=1.0, top_k=1, seed=9))
    assert top1.token_ids == greedy.token_ids  # top-k 1 sampling is greedy


def test_cancel_stops_decoding_and_timings_are_reported(tiny_qwen3):
    engine = Molmo2Engine.load(tiny_qwen3)
    cancel = threading.Event()
    stream = engine.stream(Request(messages=[_user("Go on and on.")], max_new_tokens=200), cancel)
    for count, _ in enumerate(stream):
        if count == 3:
            cancel.set()
    result = stream.result
    assert result.finish_reason == "cancelled"
    assert 3 < len(result.token_ids) < 200
    full = engine.generate(
        Request(messages=[_user({"type": "image", "image": _image(300, 300)}, "Q")], max_new_tokens=5)
    )
    for stage in ("media_decode", "preprocess", "vision", "prefill", "decode", "total", "time_to_first_token"):
        assert full.timings[stage] >= 0
    assert full.timings["tokens_per_second"] > 0 and full.finish_reason == "length"


def test_end_of_turn_stops_generation(tiny_qwen3, monkeypatch):
    engine = Molmo2Engine.load(tiny_qwen3)
    eos = next(iter(engine.eos_ids))
    original = engine.model.logits

    def eos_after_three(hidden, calls=[0]):  # noqa: B006 - a counter shared across calls
        calls[0] += 1
        logits = original(hidden)
        if calls[0] > 3:
            logits[..., eos] = 1e4
        return logits

    monkeypatch.setattr(engine.model, "logits", eos_after_three)
    result = engine.generate(Request(messages=[_user("Q")], max_new_tokens=50))
    assert result.finish_reason == "stop" and len(result.token_ids) == 3


def test_broken_checkpoints_name_the_problem(tiny_qwen3, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_qwen3, broken)
    shard = sorted(broken.glob("model-*.safetensors"))[0]
    shard.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=shard.name):
        Molmo2Engine.load(broken)
    shard.unlink()
    with pytest.raises(CheckpointError, match=shard.name):
        Molmo2Engine.load(broken)


def test_prompt_longer_than_the_context_is_refused(tiny_qwen3, monkeypatch):
    engine = Molmo2Engine.load(tiny_qwen3)
    cfg = engine.model.cfg
    monkeypatch.setattr(engine.model, "cfg", replace(cfg, text=replace(cfg.text, max_position_embeddings=100)))
    with pytest.raises(inference.engine.PromptTooLong, match="at most 100"):
        engine.generate(Request(messages=[_user({"type": "image", "image": _image(64, 64)}, "Q")]))


def test_out_of_memory_becomes_a_message_and_the_next_request_works(tiny_qwen3, monkeypatch):
    engine = Molmo2Engine.load(tiny_qwen3)
    ask = Request(messages=[_user({"type": "image", "image": _image(200, 200)}, "Q")], max_new_tokens=3)
    engine.generate(ask)
    assert engine.prefixes.entries and engine._cache is not None

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(engine.model, "visual_features", exhausted)
        engine.prefixes.entries.clear()
        with pytest.raises(inference.engine.OutOfMemory, match="fewer video frames"):
            engine.generate(ask)
    assert not engine.prefixes.entries and engine._cache is None  # caches released
    assert len(engine.generate(ask).token_ids) == 3


def test_bf16_loading_never_holds_the_float32_model(tmp_path):
    """Load the ~380 MB float32 `small` checkpoint as bfloat16 in a child process while sampling its anonymous
    memory: the peak stays well under the float32 size (weights go in one tensor at a time)."""
    import json
    import subprocess
    import sys

    from inference.tiny import write_checkpoint

    path = write_checkpoint(tmp_path / "small", size="small")
    fp32_bytes = json.loads((path / "model.safetensors.index.json").read_text())["metadata"]["total_size"]
    probe = r"""
import sys, threading, time, torch
from inference.engine import Molmo2Engine
def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
base, peak, done = anon(), [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], anon()); time.sleep(0.002)
threading.Thread(target=sample, daemon=True).start()
engine = Molmo2Engine.load(sys.argv[1], dtype=torch.bfloat16)
done.set()
print(peak[0] - base, sum(p.numel() * p.element_size() for p in engine.model.parameters()))
"""
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    peak, bf16_bytes = map(int, out.stdout.split())
    assert bf16_bytes * 2 == pytest.approx(fp32_bytes, rel=0.01)
    assert peak < bf16_bytes + 0.35 * fp32_bytes, (peak, bf16_bytes, fp32_bytes)
