"""Write random-weight Molmo2 checkpoints in the published hub layout, for tests and benchmarks offline.

    python -m inference.tiny OUT_DIR [--variant qwen3|olmo] [--seed N] [--size tiny|small]

The files imitate allenai/Molmo2-4B (qwen3: pre-norm, per-head qk-norm, grouped-query attention) and
allenai/Molmo2-O-7B (olmo: post-norm, full-width qk-norm, multi-head attention, YaRN on some layers): the legacy
config.json schema, a ViT that declares more blocks than are stored, sharded safetensors under the published key
names, a byte-level BPE tokenizer whose special tokens sit where the real vocabularies put them, the processor
configs and a chat template that renders like the published one (../shared/docs/molmo2-inference.md §2, §9, §10).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

# Pre-tokenizer split rule of the Qwen2 tokenizer family (digits are single tokens).
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
    "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>",
    "</tool_response>", "<think>", "</think>",
]  # fmt: skip
QWEN_EXTRA_TOKENS = 267  # "|<EXTRA_TOKENS_k>|" padding up to the embedding size (§2.4)
# OLMo-3 layout (derived, §2.4): 21 ids before the end of a 100278-row vocabulary, `<|pad|>` last.
OLMO_SPECIAL_TOKENS = {
    0: "<|endoftext|>", 1: "<|fim_prefix|>", 2: "<|fim_middle|>", 3: "<|fim_suffix|>",
    7: "<|im_start|>", 8: "<|im_end|>", 19: "<|endofprompt|>", 20: "<|pad|>",
}  # fmt: skip
OLMO_SPECIAL_SPAN = 21
# Molmo2 tokens at vocab_size + k, k = 0..9 (§2.4).
MOLMO2_TOKENS = [
    "<im_start>", "<im_end>", "<im_patch>", "<im_col>", "<low_res_im_start>", "<|image|>", "<im_low>",
    "<frame_start>", "<frame_end>", "<|video|>",
]  # fmt: skip

# Task styles that add no "{style}: " prefix to the user text (§10.1).
DEMO_STYLES = [
    "point_count", "pointing", "cosyn_point", "user_qa", "long_caption", "short_caption", "video_long_caption",
    "video_short_caption", "video_point_track_per_frame", "video_point_track_start_end",
    "video_point_track_all_frames", "video_single_point_track_start_end", "video_transcript",
    "video_clip_caption_start_end", "video_clip_caption_start_end_in_seconds", "video_clip_transcript_start_end",
    "video_clip_transcript_start_end_in_seconds", "video_frame_caption_timestamp",
    "video_frame_caption_timestamp_in_seconds", "correction_qa", "text_sft", "video_point", "video_point_count",
    "video_count", "video_count_point", "multi_image_pointing", "multi_image_counting",
    "multi_image_point_then_count", "multi_image_count_then_point", "demo", "a_okvqa_mc", "ai2_diagram_no_letter",
    "ai2_diagram", "science_qa", "multi_image_mc", "multi_image_mc_exp", "mantis_instruct_mc",
    "video_multiple_choice", "video_multiple_choice_count_without_pointing",
    "video_multiple_choice_multiple_correct", "video_multiple_choice_w_subtitle",
]  # fmt: skip

# Our own template text with the published template's behaviour (§10.1): every image and video first
# ("Image k" labels when there are several), an optional subtitle message, then strictly alternating
# user/assistant turns; no system role. Whitespace control makes it independent of trim/lstrip settings.
CHAT_TEMPLATE = """\
{%- set plain_styles = STYLES -%}
{%- set seen = namespace(images=0, videos=0) -%}
{%- for message in messages if message['content'] is not string -%}
  {%- for part in message['content'] -%}
    {%- if part['type'] == 'image' or 'image' in part or 'image_url' in part -%}
      {%- set seen.images = seen.images + 1 -%}
    {%- elif part['type'] == 'video' or 'video' in part or 'video_url' in part -%}
      {%- set seen.videos = seen.videos + 1 -%}
    {%- endif -%}
  {%- endfor -%}
{%- endfor -%}
{%- if seen.images == 1 -%}
  {{- '<|image|>' -}}
{%- else -%}
  {%- for k in range(seen.images) -%}{{- 'Image ' ~ (k + 1) ~ '<|image|>' -}}{%- endfor -%}
{%- endif -%}
{%- for k in range(seen.videos) -%}{{- '<|video|>' -}}{%- endfor -%}
{%- set subtitled = messages and messages[0]['role'].lower() == 'subtitle' -%}
{%- if subtitled -%}{{- messages[0]['content'] -}}{%- endif -%}
{%- for message in (messages[1:] if subtitled else messages) -%}
  {%- set role = message['role'].lower() -%}
  {%- if role != ['user', 'assistant'][loop.index0 % 2] -%}
    {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
  {%- endif -%}
  {%- if message['content'] is string -%}
    {%- set text = message['content'] -%}
  {%- else -%}
    {%- set joined = namespace(text='') -%}
    {%- for part in message['content'] if part['type'] == 'text' -%}
      {%- if part['style'] is defined and part['style'] not in plain_styles -%}
        {%- set piece = part['style'] ~ ': ' ~ part['text'] -%}
      {%- else -%}
        {%- set piece = part['text'] -%}
      {%- endif -%}
      {%- set joined.text = joined.text ~ (' ' if joined.text else '') ~ piece -%}
    {%- endfor -%}
    {%- set text = joined.text -%}
  {%- endif -%}
  {%- if role == 'user' -%}
    {{- ('' if loop.first else '<|im_end|>\\n') ~ '<|im_start|>user\\n' ~ text ~ '<|im_end|>\\n' -}}
  {%- else -%}
    {#- The published template emits a space before an earlier assistant turn; kept for identical prompts. -#}
    {{- ' <|im_start|>assistant\\n' ~ text -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}
"""

# Text the tiny BPE learns its merges from: words the app's prompts and answers use.
_CORPUS = (
    "Point to the penguins. Count the boats. How many people are there? Track the player who is dunking. "
    "Describe this image. Counting the points shows a total of 12. There are none. Image 1 Image 2 "
    "In this captivating image, a large, chubby cat sits on the sofa next to the window. "
    "The red ball moves from the left to the right of the video. What is happening in the video? "
    "points coords tracks alt label the of and to in is a on with for at by from this that there "
)


@dataclass(frozen=True)
class TinySpec:
    vocab_size: int
    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    text_head_dim: int
    text_intermediate: int
    vit_hidden: int
    vit_heads: int
    vit_intermediate: int
    vit_declared_layers: int
    vit_layers: tuple[int, int]  # legacy negative indices, as in the hub config ([-3, -9] for the real ones)
    num_shards: int


SPECS = {
    "tiny": TinySpec(
        vocab_size=1024, text_hidden=64, text_layers=3, text_heads=4, text_kv_heads=2, text_head_dim=16,
        text_intermediate=96, vit_hidden=32, vit_heads=4, vit_intermediate=64, vit_declared_layers=6,
        vit_layers=(-3, -5), num_shards=2,
    ),
    "small": TinySpec(
        vocab_size=16384, text_hidden=768, text_layers=8, text_heads=12, text_kv_heads=4, text_head_dim=64,
        text_intermediate=2048, vit_hidden=384, vit_heads=6, vit_intermediate=1536, vit_declared_layers=10,
        vit_layers=(-3, -9), num_shards=3,
    ),
}  # fmt: skip


def write_checkpoint(out_dir: str | Path, variant: str = "qwen3", size: str = "tiny", seed: int = 0) -> Path:
    """Write a complete random-weight checkpoint directory and return its path."""
    if variant not in ("qwen3", "olmo"):
        raise ValueError(f"variant must be 'qwen3' or 'olmo', got {variant!r}")
    spec = SPECS[size]
    if variant == "olmo":  # multi-head attention, like O-7B
        spec = TinySpec(**{**spec.__dict__, "text_kv_heads": spec.text_heads})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    ids = _write_tokenizer(out, variant, spec.vocab_size)
    config = _config(spec, variant)
    _dump(out / "config.json", config)
    _dump(out / "generation_config.json", {
        "bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "pad_token_id": ids["pad"],
        "transformers_version": "4.57.1",
    })  # fmt: skip
    _write_processor_configs(out)
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE.replace("STYLES", json.dumps(DEMO_STYLES)), encoding="utf-8")
    _write_weights(out, spec, variant, seed)
    return out


def _config(spec: TinySpec, variant: str) -> dict:
    v = spec.vocab_size
    olmo = variant == "olmo"
    text = {
        "additional_vocab_size": 128,
        "attention_dropout": 0.0,
        "attn_implementation": "sdpa",
        "embedding_dropout": 0.0,
        "head_dim": spec.text_head_dim,
        "hidden_act": "silu",
        "hidden_size": spec.text_hidden,
        "initializer_range": 0.02,
        "intermediate_size": spec.text_intermediate,
        "layer_norm_eps": 1e-06,
        "max_position_embeddings": 65536 if olmo else 36864,
        "model_type": "molmo2_text",
        "norm_after": olmo,
        "num_attention_heads": spec.text_heads,
        "num_hidden_layers": spec.text_layers,
        "num_key_value_heads": spec.text_kv_heads,
        "qk_norm_type": "olmo" if olmo else "qwen3",
        "qkv_bias": False,
        "residual_dropout": 0.0,
        "rope_scaling": None,
        "rope_scaling_layers": None,
        "rope_theta": 500000.0 if olmo else 5000000.0,
        "use_cache": True,
        "use_qk_norm": True,
        "vocab_size": v,
    }
    if olmo:  # YaRN on every fourth layer, counted like O-7B's {3, 7, 11, ...} (§2.3)
        text["rope_scaling"] = {
            "rope_type": "yarn", "factor": 8.0, "attention_factor": 1.2079441541679836, "beta_fast": 32.0,
            "beta_slow": 1.0, "original_max_position_embeddings": 8192,
        }  # fmt: skip
        text["rope_scaling_layers"] = [i for i in range(spec.text_layers) if i % 4 == 3] or [spec.text_layers - 1]
    vit = {
        "attention_dropout": 0.0,
        "attn_implementation": "sdpa",
        "float32_attention": True,
        "head_dim": spec.vit_hidden // spec.vit_heads,
        "hidden_act": "gelu_pytorch_tanh",
        "hidden_size": spec.vit_hidden,
        "image_default_input_size": [378, 378],
        "image_num_pos": 729,
        "image_patch_size": 14,
        "initializer_range": 0.02,
        "intermediate_size": spec.vit_intermediate,
        "layer_norm_eps": 1e-06,
        "model_type": "molmo2",
        "num_hidden_layers": spec.vit_declared_layers,
        "num_key_value_heads": spec.vit_heads,
        "num_attention_heads": spec.vit_heads,
        "residual_dropout": 0.0,
    }
    adapter = {
        "attention_dropout": 0.0,
        "attn_implementation": "sdpa",
        "float32_attention": True,
        "head_dim": spec.vit_hidden // spec.vit_heads,
        "hidden_act": "silu",
        "hidden_size": spec.vit_hidden,
        "image_feature_dropout": 0.0,
        "initializer_range": 0.02,
        "intermediate_size": spec.text_intermediate,
        "model_type": "molmo2",
        "num_attention_heads": spec.vit_heads,
        "num_key_value_heads": spec.vit_heads,
        "pooling_attention_mask": True,
        "residual_dropout": 0.0,
        "text_hidden_size": spec.text_hidden,
        "vit_layers": list(spec.vit_layers),
    }
    molmo = {name: v + k for k, name in enumerate(MOLMO2_TOKENS)}
    return {
        "adapter_config": adapter,
        "architectures": ["Molmo2ForConditionalGeneration"],
        "dtype": "float32",
        "frame_end_token_id": molmo["<frame_end>"],
        "frame_start_token_id": molmo["<frame_start>"],
        "image_col_id": molmo["<im_col>"],
        "image_end_token_id": molmo["<im_end>"],
        "image_high_res_id": molmo["<im_patch>"],
        "image_low_res_id": molmo["<im_low>"],
        "image_patch_id": molmo["<im_patch>"],
        "image_start_token_id": molmo["<im_start>"],
        "initializer_range": 0.02,
        "low_res_image_start_token_id": molmo["<low_res_im_start>"],
        "model_type": "molmo2",
        "text_config": text,
        "tie_word_embeddings": False,
        "transformers_version": "4.57.1",
        "use_cache": True,
        "use_frame_special_tokens": False,
        "vit_config": vit,
    }


def _write_processor_configs(out: Path) -> None:
    mean_std = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    _dump(out / "preprocessor_config.json", {
        "do_convert_rgb": True, **mean_std, "image_processor_type": "Molmo2ImageProcessor", "max_crops": 8,
        "overlap_margins": [4, 4], "patch_size": 14, "pooling_size": [2, 2], "processor_class": "Molmo2Processor",
        "resample": 2, "size": {"height": 378, "width": 378},
    })  # fmt: skip
    # The transformers video processor class has no rescale/normalise defaults: the hub file must carry them.
    _dump(out / "video_preprocessor_config.json", {
        "do_convert_rgb": True, "do_resize": True, "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, **mean_std, "video_processor_type": "Molmo2VideoProcessor", "num_frames": 384,
        "max_fps": 2, "do_sample_frames": True, "patch_size": 14, "pooling_size": [3, 3],
        "processor_class": "Molmo2Processor", "resample": 2, "size": {"height": 378, "width": 378},
    })  # fmt: skip
    _dump(out / "processor_config.json", {
        "processor_class": "Molmo2Processor", "image_use_col_tokens": True, "use_single_crop_col_tokens": False,
        "use_single_crop_start_token": True, "video_use_col_tokens": False, "use_frame_special_tokens": False,
    })  # fmt: skip


def _write_tokenizer(out: Path, variant: str, vocab_size: int) -> dict[str, int]:
    """Byte-level BPE with a few learned merges, specials at the real vocabularies' relative positions."""
    split = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])  # fmt: skip
    learner = Tokenizer(models.BPE())
    learner.normalizer = normalizers.NFC()
    learner.pre_tokenizer = split
    learner.train_from_iterator(
        [_CORPUS] * 4,
        trainers.BpeTrainer(
            vocab_size=256 + 160, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
        ),
    )
    learned = json.loads(learner.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]

    if variant == "olmo":
        specials = {vocab_size - OLMO_SPECIAL_SPAN + k: name for k, name in OLMO_SPECIAL_TOKENS.items()}
        specials.update({
            vocab_size - OLMO_SPECIAL_SPAN + k: f"<|extra_id_{k}|>"
            for k in range(OLMO_SPECIAL_SPAN) if k not in OLMO_SPECIAL_TOKENS
        })  # fmt: skip
    else:
        first = vocab_size - len(QWEN_SPECIAL_TOKENS) - QWEN_EXTRA_TOKENS
        specials = {first + k: name for k, name in enumerate(QWEN_SPECIAL_TOKENS)}
        specials.update({
            first + len(QWEN_SPECIAL_TOKENS) + k: f"|<EXTRA_TOKENS_{k}>|" for k in range(QWEN_EXTRA_TOKENS)
        })  # fmt: skip
    specials.update({vocab_size + k: name for k, name in enumerate(MOLMO2_TOKENS)})
    regular = min(specials)

    # Regular vocabulary: learned tokens first, then unreachable fillers (no merge produces them) up to the
    # first special id, so every id below it is an ordinary token as in the real vocabulary.
    vocab = dict(sorted(learned["vocab"].items(), key=lambda kv: kv[1]))
    filler = 0
    while len(vocab) < regular:
        vocab[f"ĠĠunused{filler}ĠĠ"] = len(vocab)
        filler += 1
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = split
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(specials[i], special=True, normalized=False) for i in sorted(specials)])
    assert all(tokenizer.token_to_id(name) == i for i, name in specials.items())
    tokenizer.save(str(out / "tokenizer.json"))

    _dump(out / "vocab.json", vocab)
    (out / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    added = {name: i for i, name in sorted(specials.items())}
    _dump(out / "added_tokens.json", added)
    bos = "<|endoftext|>" if variant == "olmo" else "<|im_end|>"
    pad = "<|pad|>" if variant == "olmo" else "<|endoftext|>"
    _dump(out / "special_tokens_map.json", {
        "bos_token": bos, "eos_token": "<|im_end|>", "pad_token": pad,
        "additional_special_tokens": MOLMO2_TOKENS,
    })  # fmt: skip
    _dump(out / "tokenizer_config.json", {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(i): {"content": name, "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True}
            for i, name in sorted(specials.items())
        },
        "bos_token": bos,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 1010000,
        "pad_token": pad,
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    })  # fmt: skip
    return {"bos": added[bos], "eos": added["<|im_end|>"], "pad": added[pad]}


def _tensor_shapes(spec: TinySpec, variant: str) -> dict[str, tuple[int, ...]]:
    """Every tensor of the checkpoint under its published name (§9.1)."""
    d, v = spec.text_hidden, spec.vocab_size
    nh, nkv, hd = spec.text_heads, spec.text_kv_heads, spec.text_head_dim
    inter = spec.text_intermediate
    olmo = variant == "olmo"
    shapes: dict[str, tuple[int, ...]] = {
        "lm_head.weight": (v, d),
        "model.transformer.wte.embedding": (v, d),
        "model.transformer.wte.new_embedding": (128, d),
        "model.transformer.ln_f.weight": (d,),
    }
    for i in range(spec.text_layers):
        p = f"model.transformer.blocks.{i}."
        shapes[p + "attn_norm.weight"] = (d,)
        shapes[p + "self_attn.att_proj.weight"] = ((nh + 2 * nkv) * hd, d)
        shapes[p + "self_attn.q_norm.weight"] = (nh * hd,) if olmo else (hd,)
        shapes[p + "self_attn.k_norm.weight"] = (nkv * hd,) if olmo else (hd,)
        shapes[p + "self_attn.attn_out.weight"] = (d, nh * hd)
        shapes[p + "ff_norm.weight"] = (d,)
        shapes[p + "mlp.ff_proj.weight"] = (2 * inter, d)
        shapes[p + "mlp.ff_out.weight"] = (d, inter)

    vh, vi = spec.vit_hidden, spec.vit_intermediate
    vit = "model.vision_backbone.image_vit."
    shapes[vit + "patch_embedding.weight"] = (vh, 14 * 14 * 3)
    shapes[vit + "patch_embedding.bias"] = (vh,)
    shapes[vit + "positional_embedding"] = (729, vh)
    stored = max(layer % spec.vit_declared_layers for layer in spec.vit_layers) + 1
    for i in range(stored):
        p = f"{vit}transformer.resblocks.{i}."
        for w in ("wq", "wk", "wv", "wo"):
            shapes[p + f"attention.{w}.weight"] = (vh, vh)
            shapes[p + f"attention.{w}.bias"] = (vh,)
        for norm in ("attention_norm", "ffn_norm"):
            shapes[p + f"{norm}.weight"] = (vh,)
            shapes[p + f"{norm}.bias"] = (vh,)
        shapes[p + "feed_forward.w1.weight"] = (vi, vh)
        shapes[p + "feed_forward.w1.bias"] = (vi,)
        shapes[p + "feed_forward.w2.weight"] = (vh, vi)
        shapes[p + "feed_forward.w2.bias"] = (vh,)
    pool = "model.vision_backbone.image_pooling_2d."
    for w in ("wq", "wk", "wv"):
        shapes[pool + f"{w}.weight"] = (vh, vh * len(spec.vit_layers))
        shapes[pool + f"{w}.bias"] = (vh,)
    shapes[pool + "wo.weight"] = (vh, vh)
    shapes[pool + "wo.bias"] = (vh,)
    proj = "model.vision_backbone.image_projector."
    shapes[proj + "w1.weight"] = (inter, vh)
    shapes[proj + "w3.weight"] = (inter, vh)
    shapes[proj + "w2.weight"] = (d, inter)
    return shapes


def _random_tensor(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Deterministic per-tensor values: unit-scale activations, so random logits are far from ties."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
    x = torch.randn(shape, generator=gen)
    if name.endswith(".weight") and len(shape) == 1:  # every 1-D weight is a norm scale
        return 1.0 + 0.1 * x
    if name.endswith(".bias"):
        return 0.02 * x
    if "embedding" in name and "patch_embedding" not in name:
        return x * (0.5 if "positional" in name else 1.0)
    return x / math.sqrt(shape[-1])


def _write_weights(out: Path, spec: TinySpec, variant: str, seed: int) -> None:
    shapes = _tensor_shapes(spec, variant)
    names = list(shapes)
    per_shard = math.ceil(len(names) / spec.num_shards)
    weight_map, total_size, total_params = {}, 0, 0
    for s in range(spec.num_shards):
        file = f"model-{s + 1:05d}-of-{spec.num_shards:05d}.safetensors"
        tensors = {n: _random_tensor(n, shapes[n], seed) for n in names[s * per_shard : (s + 1) * per_shard]}
        save_file(tensors, str(out / file), metadata={"format": "pt"})
        for n, t in tensors.items():
            weight_map[n] = file
            total_size += t.numel() * t.element_size()
            total_params += t.numel()
    _dump(out / "model.safetensors.index.json", {
        "metadata": {"total_parameters": total_params, "total_size": total_size},
        "weight_map": dict(sorted(weight_map.items())),
    })  # fmt: skip


def _dump(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--variant", choices=["qwen3", "olmo"], default="qwen3")
    parser.add_argument("--size", choices=sorted(SPECS), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = write_checkpoint(args.out_dir, args.variant, args.size, args.seed)
    print(f"wrote a random-weight {args.size} Molmo2 ({args.variant}) checkpoint to {path}")


if __name__ == "__main__":
    main()
