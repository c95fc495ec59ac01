"""Molmo2 architecture settings read from a checkpoint's config.json.

Reads the legacy hub schema that users download (`vit_config`, `vit_layers`, `rope_theta`, ...) and the newer
transformers schema (`vision_config`, `vision_feature_layer`, `rope_parameters`, ...); see
../shared/docs/molmo2-inference.md §2 and §9.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VisionConfig:
    hidden_size: int
    intermediate_size: int
    num_layers: int  # blocks actually built: max(feature layer) + 1, not the declared depth (§2.1, §14.2)
    num_heads: int
    head_dim: int
    patch_size: int
    image_size: int
    num_positions: int
    layer_norm_eps: float
    hidden_act: str


@dataclass(frozen=True)
class AdapterConfig:
    feature_layers: tuple[int, ...]  # absolute block indices, in concatenation order (§6: [24, 18])
    hidden_size: int
    num_heads: int
    head_dim: int
    intermediate_size: int
    text_hidden_size: int
    hidden_act: str


@dataclass(frozen=True)
class RopeConfig:
    theta: float
    scaling: dict[str, Any] | None  # YaRN parameters for the scaled layers (O-7B), None otherwise
    scaled_layers: tuple[int, ...]  # layers that use `scaling`; the others use plain RoPE with the same theta


@dataclass(frozen=True)
class TextConfig:
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int  # rows of lm_head (base vocabulary)
    additional_vocab_size: int  # extra embedding rows for the multimodal tokens (§8.1)
    qk_norm: str  # "qwen3": per head; "olmo": over the full projection (§8.6)
    norm_after: bool  # post-norm (O-7B) instead of pre-norm (§8.5)
    rms_norm_eps: float
    rope: RopeConfig
    max_position_embeddings: int
    hidden_act: str


@dataclass(frozen=True)
class Molmo2Config:
    vision: VisionConfig
    adapter: AdapterConfig
    text: TextConfig
    image_patch_id: int
    tie_word_embeddings: bool
    use_frame_special_tokens: bool

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Molmo2Config:
        """Parse a config.json dict in either schema."""
        legacy = "vit_config" in raw
        vit = raw["vit_config"] if legacy else raw["vision_config"]
        adapter = raw["adapter_config"]
        text = raw["text_config"]

        declared_layers = int(vit["num_hidden_layers"])
        layers = adapter.get("vit_layers", adapter.get("vision_feature_layer")) or [24, 18]
        # Negative indices count from the declared depth; only the blocks up to the deepest one used exist
        # in the checkpoint (§14.2), so that is what we build.
        feature_layers = tuple(int(layer) % declared_layers for layer in layers)
        built_layers = max(feature_layers) + 1 if legacy else declared_layers

        image_size = vit.get("image_default_input_size", vit.get("image_size", [378, 378]))
        patch_size = int(vit.get("image_patch_size", vit.get("patch_size", 14)))
        image_size = int(image_size[0] if isinstance(image_size, list | tuple) else image_size)
        num_positions = vit.get("image_num_pos", vit.get("num_position_embeddings"))
        vision = VisionConfig(
            hidden_size=int(vit["hidden_size"]),
            intermediate_size=int(vit["intermediate_size"]),
            num_layers=built_layers,
            num_heads=int(vit["num_attention_heads"]),
            head_dim=int(vit.get("head_dim") or vit["hidden_size"] // vit["num_attention_heads"]),
            patch_size=patch_size,
            image_size=image_size,
            num_positions=int(num_positions or (image_size // patch_size) ** 2),
            layer_norm_eps=float(vit.get("layer_norm_eps", 1e-6)),
            hidden_act=str(vit.get("hidden_act", "gelu_pytorch_tanh")),
        )
        adapter_cfg = AdapterConfig(
            feature_layers=feature_layers,
            hidden_size=int(adapter["hidden_size"]),
            num_heads=int(adapter["num_attention_heads"]),
            head_dim=int(adapter.get("head_dim") or adapter["hidden_size"] // adapter["num_attention_heads"]),
            intermediate_size=int(adapter["intermediate_size"]),
            text_hidden_size=int(adapter["text_hidden_size"]),
            hidden_act=str(adapter.get("hidden_act", "silu")),
        )
        return cls(
            vision=vision,
            adapter=adapter_cfg,
            text=_text_config(text),
            image_patch_id=int(raw.get("image_patch_id", 151938)),
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
            use_frame_special_tokens=bool(raw.get("use_frame_special_tokens", False)),
        )


def _text_config(text: dict[str, Any]) -> TextConfig:
    num_layers = int(text["num_hidden_layers"])
    if text.get("rope_parameters"):
        params = dict(text["rope_parameters"])
        theta = float(params.pop("rope_theta"))
        rope_type = params.get("rope_type", params.get("type", "default"))
        scaling = params if rope_type != "default" else None
    else:
        theta = float(text.get("rope_theta", 10000.0))
        scaling = text.get("rope_scaling")
        if scaling is not None:
            scaling = dict(scaling)
            if scaling.get("rope_type", scaling.get("type", "default")) == "default":
                scaling = None
    scaled_layers = text.get("rope_scaling_layers")
    scaled_layers = tuple(range(num_layers)) if scaled_layers is None else tuple(int(i) for i in scaled_layers)
    rope = RopeConfig(theta=theta, scaling=scaling, scaled_layers=scaled_layers if scaling else ())
    return TextConfig(
        hidden_size=int(text["hidden_size"]),
        intermediate_size=int(text["intermediate_size"]),
        num_layers=num_layers,
        num_heads=int(text["num_attention_heads"]),
        num_kv_heads=int(text.get("num_key_value_heads") or text["num_attention_heads"]),
        head_dim=int(text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]),
        vocab_size=int(text["vocab_size"]),
        additional_vocab_size=int(text.get("additional_vocab_size", 128)),
        qk_norm=str(text.get("qk_norm_type", "qwen3")),
        norm_after=bool(text.get("norm_after", False)),
        rms_norm_eps=float(text.get("layer_norm_eps", text.get("rms_norm_eps", 1e-6))),
        rope=rope,
        max_position_embeddings=int(text.get("max_position_embeddings", 36864)),
        hidden_act=str(text.get("hidden_act", "silu")),
    )
