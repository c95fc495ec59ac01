"""Molmo2 vision side: the SigLIP2 ViT (§6) and the connector that pools patches into LLM vectors (§7).

Module names mirror the checkpoint's (`model.vision_backbone.image_vit...`, `...image_pooling_2d`,
`...image_projector`) except where we fuse matrices for speed: the ViT's wq/wk/wv are one `wqkv` matmul.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inference.config import AdapterConfig, VisionConfig


class VitAttention(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.heads, self.head_dim = cfg.num_heads, cfg.head_dim
        inner = cfg.num_heads * cfg.head_dim
        self.wqkv = nn.Linear(cfg.hidden_size, 3 * inner)  # checkpoint wq | wk | wv, each with bias
        self.wo = nn.Linear(inner, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, s, _ = x.shape
        q, k, v = self.wqkv(x).view(n, s, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # full bidirectional attention within a crop, no mask
        return self.wo(out.transpose(1, 2).reshape(n, s, -1))


class VitBlock(nn.Module):
    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.attention_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.attention = VitAttention(cfg)
        self.ffn_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.feed_forward = nn.ModuleDict(
            {
                "w1": nn.Linear(cfg.hidden_size, cfg.intermediate_size),
                "w2": nn.Linear(cfg.intermediate_size, cfg.hidden_size),
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x))
        h = F.gelu(self.feed_forward["w1"](self.ffn_norm(x)), approximate="tanh")
        return x + self.feed_forward["w2"](h)


class VisionTransformer(nn.Module):
    """Patch embedding + position table + the pre-LN blocks that exist; no CLS, no final norm (§6)."""

    def __init__(self, cfg: VisionConfig, feature_layers: tuple[int, ...]):
        super().__init__()
        self.feature_layers = feature_layers
        self.patch_embedding = nn.Linear(cfg.patch_size * cfg.patch_size * 3, cfg.hidden_size)
        self.positional_embedding = nn.Parameter(torch.zeros(cfg.num_positions, cfg.hidden_size))
        self.resblocks = nn.ModuleList(VitBlock(cfg) for _ in range(cfg.num_layers))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N, 729, 588] -> [N, 729, hidden · len(feature_layers)]: the outputs of the feature layers, concatenated
        in the configured order ([24, 18] for the released checkpoints)."""
        x = self.patch_embedding(pixels.to(self.positional_embedding.dtype)) + self.positional_embedding
        kept: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.resblocks):
            x = block(x)
            if i in self.feature_layers:
                kept[i] = x
        return torch.cat([kept[i] for i in self.feature_layers], dim=-1)


class Connector(nn.Module):
    """Masked-mean query attention over each pooling window, then the SwiGLU projector (§7)."""

    def __init__(self, cfg: AdapterConfig):
        super().__init__()
        self.heads, self.head_dim = cfg.num_heads, cfg.head_dim
        features = cfg.hidden_size * len(cfg.feature_layers)
        inner = cfg.num_heads * cfg.head_dim
        self.image_pooling_2d = nn.ModuleDict(
            {
                "wq": nn.Linear(features, inner),
                "wk": nn.Linear(features, inner),
                "wv": nn.Linear(features, inner),
                "wo": nn.Linear(inner, cfg.hidden_size),
            }
        )
        self.image_projector = nn.ModuleDict(
            {
                "w1": nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False),  # gate
                "w3": nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False),  # up
                "w2": nn.Linear(cfg.intermediate_size, cfg.text_hidden_size, bias=False),  # down
            }
        )

    def forward(self, features: torch.Tensor, pooling: torch.Tensor) -> torch.Tensor:
        """features [N, 729, F] of all crops, pooling [T, k] (-1 = empty) -> [T', d_llm] for windows with a patch."""
        flat = features.reshape(-1, features.shape[-1])
        valid = pooling >= 0  # [T, k]
        window = flat[pooling.clamp(min=0)] * valid.to(flat.dtype)[..., None]  # [T, k, F]
        count = valid.float().sum(-1).clamp(min=1).to(flat.dtype)
        query = window.sum(-2, keepdim=True) / count[:, None, None]  # [T, 1, F]: mean of the valid patches
        pool = self.image_pooling_2d
        t, k = pooling.shape
        q = pool["wq"](query).view(t, 1, self.heads, self.head_dim).transpose(1, 2)
        kk = pool["wk"](window).view(t, k, self.heads, self.head_dim).transpose(1, 2)
        v = pool["wv"](window).view(t, k, self.heads, self.head_dim).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, kk, v, attn_mask=valid[:, None, None, :])  # [T, heads, 1, hd]
        pooled = pool["wo"](out.transpose(1, 2).reshape(t, -1))
        proj = self.image_projector
        projected = proj["w2"](F.silu(proj["w1"](pooled)) * proj["w3"](pooled))
        return projected[valid.any(-1)]
