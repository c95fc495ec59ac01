"""The tiny checkpoints have the published layout: transformers 5.23 loads and runs them, keys and ids match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from inference.tiny import CHAT_TEMPLATE, DEMO_STYLES, MOLMO2_TOKENS
from reference import load_reference

PUBLISHED_TEMPLATE = Path(__file__).resolve().parents[2] / "shared/reference/molmo2-4b/chat_template.jinja"


def _image(w=640, h=480, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_legacy_config_schema(tiny_checkpoint):
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    assert {"vit_config", "adapter_config", "text_config"} <= config.keys()
    assert "vision_config" not in config
    text = config["text_config"]
    assert {"rope_theta", "qk_norm_type", "norm_after", "layer_norm_eps", "qkv_bias"} <= text.keys()
    vit_layers = config["adapter_config"]["vit_layers"]
    assert all(layer < 0 for layer in vit_layers)
    # Declared ViT depth is larger than what is stored, as in the real checkpoints (27 declared, 25 stored).
    index = json.loads((tiny_checkpoint / "model.safetensors.index.json").read_text())
    stored = {int(k.split(".")[5]) for k in index["weight_map"] if ".resblocks." in k}
    assert len(stored) == max(layer % config["vit_config"]["num_hidden_layers"] for layer in vit_layers) + 1
    assert len(stored) < config["vit_config"]["num_hidden_layers"]


def test_sharded_weights_under_published_names(tiny_checkpoint):
    index = json.loads((tiny_checkpoint / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 2
    names = set(index["weight_map"])
    for name in [
        "lm_head.weight",
        "model.transformer.wte.embedding",
        "model.transformer.wte.new_embedding",
        "model.transformer.blocks.0.self_attn.att_proj.weight",
        "model.transformer.blocks.0.mlp.ff_proj.weight",
        "model.vision_backbone.image_vit.transformer.resblocks.0.attention.wq.weight",
        "model.vision_backbone.image_pooling_2d.wq.weight",
        "model.vision_backbone.image_projector.w3.weight",
    ]:
        assert name in names
    total = 0
    for shard in shards:
        with safe_open(str(tiny_checkpoint / shard), "pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not a dict
                assert index["weight_map"][key] == shard
                t = f.get_tensor(key)
                assert t.dtype == torch.float32
                total += t.numel() * 4
    assert index["metadata"]["total_size"] == total


def test_special_tokens_at_published_relative_positions(tiny_qwen3, tiny_olmo):
    for path, bos, first_special in [
        (tiny_qwen3, "<|im_end|>", "<|endoftext|>"),
        (tiny_olmo, "<|endoftext|>", None),
    ]:
        config = json.loads((path / "config.json").read_text())
        vocab = config["text_config"]["vocab_size"]
        added = json.loads((path / "added_tokens.json").read_text())
        assert [added[t] for t in MOLMO2_TOKENS] == list(range(vocab, vocab + 10))
        assert config["image_patch_id"] == added["<im_patch>"] == vocab + 2
        assert added["<|im_end|>"] < vocab  # end of turn must be producible by the lm_head
        generation = json.loads((path / "generation_config.json").read_text())
        assert generation["bos_token_id"] == added[bos]
        assert generation["eos_token_id"] == added["<|im_end|>"]
        if first_special:  # Qwen: 151643 = 151936 - 293, then 267 |<EXTRA_TOKENS_k>| up to the vocab size
            assert added[first_special] == vocab - 293
            assert added["|<EXTRA_TOKENS_266>|"] == vocab - 1
        else:  # OLMo: <|endoftext|> 100257 = 100278 - 21, <|pad|> last
            assert added["<|endoftext|>"] == vocab - 21
            assert added["<|pad|>"] == vocab - 1


@pytest.mark.reference
def test_transformers_loads_and_generates(tiny_checkpoint):
    model, processor = load_reference(tiny_checkpoint)
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    assert model.config.vision_config.num_hidden_layers < config["vit_config"]["num_hidden_layers"]
    messages = [{"role": "user", "content": [{"type": "image", "image": _image()}, {"type": "text", "text": "Hi"}]}]
    inputs = processor.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    assert inputs["pixel_values"].shape == (5, 729, 588)  # 640x480 -> 2x2 tiling + global crop (§3.6)
    assert int(inputs["mm_token_type_ids"].sum()) == 752
    with torch.no_grad():
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert logits.shape == (1, inputs["input_ids"].shape[1], config["text_config"]["vocab_size"])
    assert torch.isfinite(logits).all()
    assert out.shape[1] == inputs["input_ids"].shape[1] + 5


@pytest.mark.reference
def test_chat_template_renders_the_published_prompts(tiny_qwen3):
    _, processor = load_reference(tiny_qwen3)

    def render(messages):
        return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    img = {"type": "image", "image": _image(32, 32)}
    assert render([{"role": "user", "content": [img, {"type": "text", "text": "Describe this image."}]}]) == (
        "<|image|><|im_start|>user\nDescribe this image.<|im_end|>\n<|im_start|>assistant\n"
    )
    two = [{"role": "user", "content": [img, img, {"type": "text", "text": "Compare these images."}]}]
    assert render(two).startswith("Image 1<|image|>Image 2<|image|><|im_start|>user\n")
    turns = [
        {"role": "user", "content": [{"type": "text", "text": "q1"}, {"type": "video", "video": "v.mp4"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a1"}]},
        {"role": "user", "content": [{"type": "text", "text": "q2", "style": "vqa2"}]},
    ]
    assert render(turns) == (
        "<|video|><|im_start|>user\nq1<|im_end|>\n <|im_start|>assistant\na1<|im_end|>\n"
        "<|im_start|>user\nvqa2: q2<|im_end|>\n<|im_start|>assistant\n"
    )
    with pytest.raises(Exception, match="alternate"):
        render([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}])


@pytest.mark.skipif(not PUBLISHED_TEMPLATE.exists(), reason="../shared/reference is not next to this checkout")
def test_chat_template_matches_published_one_on_many_conversations():
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def env():
        e = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])

        def raise_exception(message):
            raise jinja2.TemplateError(message)

        e.globals["raise_exception"] = raise_exception
        return e

    ours = env().from_string(CHAT_TEMPLATE.replace("STYLES", json.dumps(DEMO_STYLES)))
    published = env().from_string(PUBLISHED_TEMPLATE.read_text())
    image, video = {"type": "image", "image": "a.png"}, {"type": "video", "video": "v.mp4"}
    conversations = [
        [{"role": "user", "content": "plain string"}],
        [{"role": "user", "content": [image, {"type": "text", "text": "one"}]}],
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, image, {"type": "text", "text": "b"}, image],
            }
        ],
        [{"role": "user", "content": [video, {"type": "text", "text": "v", "style": "pointing"}]}],
        [{"role": "subtitle", "content": "subtitle\n0.0 - 1.0 hi\n"}, {"role": "user", "content": [video]}],
        [
            {"role": "user", "content": [image, {"type": "text", "text": "q1"}]},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": [image, {"type": "text", "text": "q2", "style": "a_okvqa"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "a2"}]},
        ],
    ]
    for messages in conversations:
        for add_generation_prompt in (True, False):
            kwargs = {"messages": messages, "add_generation_prompt": add_generation_prompt}
            assert ours.render(**kwargs) == published.render(**kwargs)
