"""The Molmo2 network (vision encoder, connector, decoder, lm_head) and loading of published checkpoints.

Weights are read tensor by tensor from the safetensors shards, cast, and copied into parameters already allocated
on the target device in the target dtype, so a float32 checkpoint never exists whole in host memory (§9).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from inference.checkpoint import CheckpointError, weight_files
from inference.config import Molmo2Config
from inference.language_model import KVCache, TextModel
from inference.vision import Connector, VisionTransformer


class Molmo2(nn.Module):
    def __init__(self, cfg: Molmo2Config):
        super().__init__()
        self.cfg = cfg
        self.vision = VisionTransformer(cfg.vision, cfg.adapter.feature_layers)
        self.connector = Connector(cfg.adapter)
        self.text = TextModel(cfg.text)
        self.lm_head = nn.Linear(cfg.text.hidden_size, cfg.text.vocab_size, bias=False)

    @property
    def device(self) -> torch.device:
        return self.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm_head.weight.dtype

    def visual_features(self, pixels: torch.Tensor, pooling: torch.Tensor, crops_per_pass: int = 64) -> torch.Tensor:
        """[n_crops, 729, 588] pixels + pooling rows -> [n_patch_tokens, d_llm], in the order of the `<im_patch>`
        tokens. The ViT runs over the crops in slices to bound activation memory (crops are independent)."""
        pixels = pixels.to(self.device)
        features = torch.cat(
            [self.vision(pixels[i : i + crops_per_pass]) for i in range(0, len(pixels), crops_per_pass)]
        )
        return self.connector(features, pooling.to(self.device))

    def embed(self, input_ids: torch.Tensor, visual: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings [1, S, d]; visual vectors are ADDED at the `<im_patch>` positions (§8.2, §14.1)."""
        x = self.text.embedding[input_ids.to(self.device)]
        if visual is not None:
            slots = input_ids.to(self.device) == self.cfg.image_patch_id
            if int(slots.sum()) != visual.shape[0]:
                raise ValueError(f"{int(slots.sum())} <im_patch> tokens for {visual.shape[0]} visual vectors")
            x[slots] += visual.to(x.dtype)
        return x[None]

    def forward_hidden(
        self, embeds: torch.Tensor, cache: KVCache, start: int, mask: torch.Tensor | None
    ) -> torch.Tensor:
        return self.text(embeds, cache, start, mask)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden)


# Checkpoint name -> (our parameter, rows of it), §9.1. Fused tensors receive several checkpoint tensors.
_RENAMES = [
    (r"^model\.vision_backbone\.image_vit\.transformer\.resblocks\.(\d+)\.attention\.w([qkv])\.(weight|bias)$",
     r"vision.resblocks.\1.attention.wqkv.\3"),
    (r"^model\.vision_backbone\.image_vit\.transformer\.resblocks\.(\d+)\.(.+)$", r"vision.resblocks.\1.\2"),
    (r"^model\.vision_backbone\.image_vit\.(.+)$", r"vision.\1"),
    (r"^model\.vision_backbone\.(image_pooling_2d|image_projector)\.(.+)$", r"connector.\1.\2"),
    (r"^model\.transformer\.wte\.(embedding|new_embedding)$", r"text.embedding"),
    (r"^model\.transformer\.(.+)$", r"text.\1"),
    (r"^lm_head\.weight$", r"lm_head.weight"),
]  # fmt: skip


def checkpoint_target(name: str, cfg: Molmo2Config) -> tuple[str, slice | None] | None:
    """Where a checkpoint tensor goes: (parameter name, row slice or None), or None to skip it."""
    for pattern, target in _RENAMES:
        match = re.match(pattern, name)
        if not match:
            continue
        param = match.expand(target)
        block = re.match(r"^vision\.resblocks\.(\d+)\.", param)
        if block and int(block.group(1)) >= cfg.vision.num_layers:
            return None  # blocks after the deepest feature layer are never used (§14.2)
        if param.endswith("wqkv.weight") or param.endswith("wqkv.bias"):
            inner = cfg.vision.num_heads * cfg.vision.head_dim
            part = "qkv".index(match.group(2))
            return param, slice(part * inner, (part + 1) * inner)
        if param == "text.embedding":
            vocab = cfg.text.vocab_size
            return param, slice(0, vocab) if name.endswith(".embedding") else slice(vocab, None)
        return param, None
    return None


def build(cfg: Molmo2Config, device: str | torch.device, dtype: torch.dtype) -> Molmo2:
    """The module with uninitialised parameters allocated directly on `device` in `dtype`."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device("meta"):
            model = Molmo2(cfg)
    finally:
        torch.set_default_dtype(previous)
    return model.to_empty(device=device).eval().requires_grad_(False)


def load_weights(model: Molmo2, path: Path) -> None:
    """Copy every checkpoint tensor into its place; error naming the file or tensor when something is wrong."""
    params = dict(model.named_parameters())
    filled: dict[str, int] = dict.fromkeys(params, 0)
    for file in weight_files(path):
        try:
            handle = safe_open(str(file), framework="pt", device="cpu")
        except Exception as err:
            raise CheckpointError(f"Weight file {file.name} cannot be read ({err}); download it again.") from err
        with handle:
            for name in handle.keys():  # noqa: SIM118 - not a dict
                target = checkpoint_target(name, model.cfg)
                if target is None:
                    continue
                param_name, rows = target
                if param_name not in params:
                    raise CheckpointError(f"{file.name}: tensor {name} has no place in the model ({param_name}).")
                dest = params[param_name].data if rows is None else params[param_name].data[rows]
                try:
                    tensor = handle.get_tensor(name)
                except Exception as err:
                    raise CheckpointError(f"{file.name}: tensor {name} is corrupt ({err}).") from err
                if tuple(tensor.shape) != tuple(dest.shape):
                    raise CheckpointError(
                        f"{file.name}: tensor {name} has shape {tuple(tensor.shape)}, "
                        f"the config implies {tuple(dest.shape)}."
                    )
                dest.copy_(tensor.to(dest.dtype))  # one tensor at a time: host memory holds one fp32 tensor at most
                filled[param_name] += dest.numel()
                del tensor
    missing = [n for n, p in params.items() if filled[n] != p.numel()]
    if missing:
        raise CheckpointError(f"Checkpoint {path} lacks weights for {', '.join(missing[:5])}.")
