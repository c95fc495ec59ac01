"""Molmo2's decoder (§8): Qwen3-style pre-norm or OLMo-style post-norm blocks, RoPE (plain or YaRN per layer),
a preallocated KV cache, and the one function that owns the visual attention rule (§8.3).

Module names mirror the checkpoint's `model.transformer.*`; `att_proj` ([q; k; v]) and `ff_proj` ([up; gate])
stay fused as stored, so each is one matmul.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from inference.config import RopeConfig, TextConfig


def attention_mask(
    query_positions: torch.Tensor, key_positions: torch.Tensor, query_visual: torch.Tensor, key_visual: torch.Tensor
) -> torch.Tensor:
    """THE attention rule of §8.3, as a [queries, keys] boolean mask (True = may attend).

    A query sees every key at or before its position; a visual-markup query additionally sees every visual-markup
    key, earlier or later, so all images/frames of a sample form one bidirectional block. Text stays causal.
    Any attention path that runs Molmo2 prefill must use this mask (flash kernels that ignore masks must not).
    """
    causal = key_positions[None, :] <= query_positions[:, None]
    return causal | (query_visual[:, None] & key_visual[None, :])


class RMSNorm(nn.Module):
    """x · rsqrt(mean(x²) + eps) computed in float32, cast back, then scaled (§8.5)."""

    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One native kernel for the normalisation (the decode step runs dozens of these per token).
        h = F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps)
        return self.weight * h.to(x.dtype)


@dataclass
class KVCache:
    """Static key/value buffers for every layer: [layers, kv_heads, capacity, head_dim] each (batch of one)."""

    keys: torch.Tensor
    values: torch.Tensor

    @classmethod
    def allocate(cls, cfg: TextConfig, capacity: int, device, dtype) -> KVCache:
        shape = (cfg.num_layers, cfg.num_kv_heads, capacity, cfg.head_dim)
        return cls(torch.empty(shape, device=device, dtype=dtype), torch.empty(shape, device=device, dtype=dtype))

    @property
    def capacity(self) -> int:
        return self.keys.shape[2]


class Attention(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.per_head_norm = cfg.qk_norm == "qwen3"
        self.att_proj = nn.Linear(cfg.hidden_size, (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim, bias=False)
        q_norm, k_norm = (
            (cfg.head_dim, cfg.head_dim)
            if self.per_head_norm
            else (cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim)
        )
        self.q_norm = RMSNorm(q_norm, cfg.rms_norm_eps)
        self.k_norm = RMSNorm(k_norm, cfg.rms_norm_eps)
        self.attn_out = nn.Linear(cfg.num_heads * cfg.head_dim, cfg.hidden_size, bias=False)

    def forward(self, x, rope, layer_k, layer_v, start: int, mask: torch.Tensor | None) -> torch.Tensor:
        """x [1, S, d]; writes this step's keys/values at [start, start + S) of the layer's cache."""
        s = x.shape[1]
        qkv = self.att_proj(x)
        q, k, v = qkv.split(
            [self.heads * self.head_dim, self.kv_heads * self.head_dim, self.kv_heads * self.head_dim], -1
        )
        if not self.per_head_norm:  # OLMo: norm over the whole projection, before splitting heads (§8.6)
            q, k = self.q_norm(q), self.k_norm(k)
        q = q.view(1, s, self.heads, self.head_dim)
        k = k.view(1, s, self.kv_heads, self.head_dim)
        if self.per_head_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        cos, sin = rope
        q = _rotate(q.transpose(1, 2), cos, sin)  # [1, heads, S, hd]
        k = _rotate(k.transpose(1, 2), cos, sin)
        layer_k[:, start : start + s] = k[0]
        layer_v[:, start : start + s] = v.view(s, self.kv_heads, self.head_dim).transpose(0, 1)
        keys, values = layer_k[:, : start + s], layer_v[:, : start + s]  # [kv_heads, L, hd]
        if mask is None:  # one new text token: it may see everything before it
            out = _single_query_attention(q[0], keys, values)
        else:
            out = F.scaled_dot_product_attention(
                q, keys[None], values[None], attn_mask=mask[None, None], enable_gqa=self.kv_heads != self.heads
            )[0]
        return self.attn_out(out.transpose(0, 1).reshape(1, s, -1))


class Block(nn.Module):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.norm_after = cfg.norm_after
        self.attn_norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.ff_norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = nn.ModuleDict(
            {
                "ff_proj": nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False),  # [up; gate] (§8.7)
                "ff_out": nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False),
            }
        )

    def forward(self, x, rope, layer_k, layer_v, start: int, mask) -> torch.Tensor:
        if self.norm_after:  # O-7B: normalise each sublayer's output (§8.5)
            h = x + self.attn_norm(self.self_attn(x, rope, layer_k, layer_v, start, mask))
            return h + self.ff_norm(self._mlp(h))
        h = x + self.self_attn(self.attn_norm(x), rope, layer_k, layer_v, start, mask)
        return h + self._mlp(self.ff_norm(h))

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        up, gate = self.mlp["ff_proj"](x).chunk(2, dim=-1)
        return self.mlp["ff_out"](F.silu(gate) * up)


class TextModel(nn.Module):
    """Embedding (base + extra vocabulary in one table), decoder blocks, final norm."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Parameter(torch.zeros(cfg.vocab_size + cfg.additional_vocab_size, cfg.hidden_size))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.ln_f = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self._rope: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(self, x: torch.Tensor, cache: KVCache, start: int, mask: torch.Tensor | None) -> torch.Tensor:
        """x [1, S, d] embeddings at positions [start, start + S) -> final-normed hidden states [1, S, d]."""
        positions = slice(start, start + x.shape[1])
        tables = self.rope_tables(start + x.shape[1], x.device, x.dtype)
        for i, block in enumerate(self.blocks):
            cos, sin = tables[i in self.cfg.rope.scaled_layers]
            x = block(x, (cos[positions], sin[positions]), cache.keys[i], cache.values[i], start, mask)
        return self.ln_f(x)

    def rope_tables(self, length: int, device, dtype) -> dict[bool, tuple[torch.Tensor, torch.Tensor]]:
        """{scaled?: (cos, sin) [capacity, head_dim]} for positions 0..capacity-1, grown in steps of 4096."""
        capacity = max(4096, math.ceil(length / 4096) * 4096)
        key = (capacity, str(device), dtype)
        if key not in self._rope:
            self._rope = {
                key: {
                    s: rope_table(self.cfg.rope, self.cfg.head_dim, capacity, s, device, dtype) for s in (False, True)
                }
            }
        return self._rope[key]


def rope_table(
    rope: RopeConfig, dim: int, length: int, scaled: bool, device, dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of 'rotate-half' RoPE computed in float32, then cast (§8.6); YaRN layers scale both."""
    inv_freq, factor = rope_frequencies(rope, dim, scaled)
    freqs = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv_freq.to(device)[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return (emb.cos() * factor).to(dtype), (emb.sin() * factor).to(dtype)


def rope_frequencies(rope: RopeConfig, dim: int, scaled: bool) -> tuple[torch.Tensor, float]:
    """Inverse frequencies [dim/2] and the cos/sin scale: plain RoPE, or YaRN on the scaled layers."""
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim
    if not scaled or rope.scaling is None:
        return 1.0 / (rope.theta**exponents), 1.0
    if rope.scaling.get("rope_type", rope.scaling.get("type")) != "yarn":
        raise ValueError(f"Unsupported RoPE scaling {rope.scaling}")
    return _yarn(rope.theta, dim, exponents, rope.scaling)


def _yarn(theta: float, dim: int, exponents: torch.Tensor, params: dict) -> tuple[torch.Tensor, float]:
    """YaRN: blend interpolated (÷factor) and original frequencies over a ramp of dimensions set by beta_fast and
    beta_slow rotations within the original context; scale cos/sin by the attention factor."""
    factor = float(params["factor"])
    original = float(params["original_max_position_embeddings"])
    beta_fast, beta_slow = float(params.get("beta_fast") or 32), float(params.get("beta_slow") or 1)
    attention_factor = params.get("attention_factor")
    if attention_factor is None:
        attention_factor = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0

    def dimension_of(rotations: float) -> float:
        return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))

    low, high = dimension_of(beta_fast), dimension_of(beta_slow)
    if params.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    keep_original = 1 - ramp
    base = theta**exponents
    inv_freq = (1.0 / (factor * base)) * (1 - keep_original) + (1.0 / base) * keep_original
    return inv_freq, float(attention_factor)


def _single_query_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Decode-step attention: q [heads, 1, hd] over keys/values [kv_heads, L, hd] -> [heads, 1, hd].

    Two small matmuls with the query heads grouped per key/value head (no repeated K/V); on CPU this is far
    faster than the fused SDPA kernels, which are tuned for long queries.
    """
    heads, _, head_dim = q.shape
    kv_heads = keys.shape[0]
    grouped = q.reshape(kv_heads, heads // kv_heads, head_dim)
    scores = torch.matmul(grouped, keys.transpose(1, 2)) * head_dim**-0.5  # [kv_heads, group, L]
    weights = torch.softmax(scores.float(), dim=-1).to(values.dtype)
    return torch.matmul(weights, values).reshape(heads, 1, head_dim)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin
