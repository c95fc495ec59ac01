"""Molmo2Engine: load a checkpoint and answer requests with streaming, KV-cached decoding and prefix reuse.

engine = Molmo2Engine.load("allenai/Molmo2-4B" or local_dir, device="cuda", dtype=torch.bfloat16)
logits = engine.prefill_logits(request)      # [seq, vocab] float32 logits of the prompt
result = engine.generate(request)            # .text, .token_ids, .timings
stream = engine.stream(request)              # iterate for text deltas; stream.result at the end
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from inference.checkpoint import Checkpoint, resolve
from inference.decoding import Detokenizer, TokenChooser
from inference.language_model import KVCache, attention_mask
from inference.model import Molmo2, build, load_weights
from inference.preprocess import Batch, Molmo2Processor
from inference.request import Request

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class PromptTooLong(ValueError):
    """The prompt plus the answer would not fit in the model's context; the message says by how much."""


class OutOfMemory(RuntimeError):
    """The request needed more accelerator memory than was free; caches were freed, the next request works."""


@dataclass(frozen=True)
class GenerationResult:
    text: str
    token_ids: tuple[int, ...]
    finish_reason: str  # "stop" (end of turn), "length" (max_new_tokens) or "cancelled"
    prompt_tokens: int
    reused_tokens: int  # prompt tokens whose keys/values came from the prefix cache
    timings: dict[str, float]  # seconds per stage, plus tokens_per_second
    frame_times: tuple[float, ...] | None = None
    frame_indices: tuple[int, ...] | None = None
    media_sizes: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = ()
    clip_start: float | None = None  # video files: where the sampled range starts (seconds)
    video: Any | None = None  # video files: the inference.video.VideoInfo of the upload
    frame_thumbnails: Any | None = None  # video: [T, h, w, 3] uint8 of the frames the model saw (film strip)


class TextStream:
    """Iterate for text deltas; `.result` holds the GenerationResult once the iteration has finished."""

    def __init__(self, deltas: Iterator[str], holder: dict):
        self._deltas, self._holder = deltas, holder

    def __iter__(self) -> Iterator[str]:
        yield from self._deltas

    @property
    def result(self) -> GenerationResult | None:
        return self._holder.get("result")


@dataclass
class _Prefix:
    ids: torch.Tensor  # [n] int64, cpu
    visual: torch.Tensor  # [n] bool, cpu
    media_keys: tuple[str, ...]
    keys: torch.Tensor  # [layers, kv_heads, n, head_dim] on the model's device
    values: torch.Tensor

    @property
    def nbytes(self) -> int:
        return 2 * self.keys.numel() * self.keys.element_size()


@dataclass
class PrefixCache:
    """Keys/values of recent prompts, least recently used dropped first, bounded in bytes."""

    max_bytes: int
    entries: OrderedDict[int, _Prefix] = field(default_factory=OrderedDict)

    def lookup(self, batch: Batch) -> tuple[_Prefix | None, int]:
        best, best_len = None, 0
        for key, entry in self.entries.items():
            length = reusable_length(entry, batch)
            if length > best_len:
                best, best_len, best_key = entry, length, key
        if best is not None:
            self.entries.move_to_end(best_key)
        return best, best_len

    def store(self, batch: Batch, cache: KVCache) -> None:
        n = len(batch.input_ids)
        entry = _Prefix(
            batch.input_ids,
            batch.visual_mask,
            batch.media_keys,
            cache.keys[:, :, :n].clone(),
            cache.values[:, :, :n].clone(),
        )
        if entry.nbytes > self.max_bytes:
            return
        key = hash((tuple(batch.input_ids.tolist()), batch.media_keys))
        self.entries.pop(key, None)
        self.entries[key] = entry
        while sum(e.nbytes for e in self.entries.values()) > self.max_bytes:
            self.entries.popitem(last=False)


def reusable_length(entry: _Prefix, batch: Batch) -> int:
    """How many leading prompt tokens can take their keys/values from `entry`.

    Token ids must agree; and since all visual tokens of a prompt attend to each other (§8.3), a prefix that
    contains visual tokens is only valid when it holds every visual token of both prompts and the media are the
    same (equal sizes give equal ids, so the content keys decide). At least one token is always recomputed, to
    produce the logits of the last position.
    """
    ids = batch.input_ids
    n = min(len(entry.ids), len(ids))
    differ = (entry.ids[:n] != ids[:n]).nonzero()
    length = int(differ[0]) if len(differ) else n
    old_visual, new_visual = entry.visual.nonzero(), batch.visual_mask.nonzero()
    whole_block = (len(old_visual) == 0 or int(old_visual[-1]) < length) and (
        len(new_visual) == 0 or int(new_visual[-1]) < length
    )
    if not whole_block or entry.media_keys != batch.media_keys:
        firsts = [int(v[0]) for v in (old_visual, new_visual) if len(v)]
        length = min([length, *firsts])
    return min(length, len(ids) - 1)


class Molmo2Engine:
    def __init__(
        self, model: Molmo2, processor: Molmo2Processor, checkpoint: Checkpoint, eos_ids: set[int], prefix_bytes: int
    ):
        self.model = model
        self.processor = processor
        self.checkpoint = checkpoint
        self.eos_ids = eos_ids
        self.prefixes = PrefixCache(prefix_bytes)
        self._cache: KVCache | None = None
        self._lock = threading.Lock()

    @property
    def random_weights(self) -> bool:
        return self.checkpoint.random_weights

    @classmethod
    def load(
        cls,
        name: str | Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str = torch.float32,
        prefix_cache_gib: float | None = None,
        revision: str | None = None,
    ) -> Molmo2Engine:
        checkpoint = resolve(str(name), revision=revision)
        dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
        model = build(checkpoint.config, device, dtype)
        load_weights(model, checkpoint.path)
        processor = Molmo2Processor.from_dir(checkpoint.path)
        eos = {processor.tokenizer.token_to_id("<|im_end|>")}
        generation = checkpoint.path / "generation_config.json"
        if generation.is_file():
            configured = json.loads(generation.read_text()).get("eos_token_id")
            eos |= set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        if prefix_cache_gib is None:
            prefix_cache_gib = 8.0 if torch.device(device).type == "cuda" else 1.0
        return cls(model, processor, checkpoint, {i for i in eos if i is not None}, int(prefix_cache_gib * 2**30))

    # -- public API ------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def prefill_logits(self, request: Request) -> torch.Tensor:
        """[seq, vocab] float32 logits of every prompt position, computed from scratch (for parity checks)."""
        with self._lock:
            batch = self.processor(request)
            n = len(batch.input_ids)
            cache = self._kv_cache(n)
            visual = self._visual(batch)
            hidden = self._prefill(batch, visual, cache, start=0)
            return self.model.logits(hidden)[0].float()

    def generate(self, request: Request, cancel: threading.Event | None = None) -> GenerationResult:
        stream = self.stream(request, cancel)
        for _ in stream:
            pass
        return stream.result

    def stream(self, request: Request, cancel: threading.Event | None = None) -> TextStream:
        holder: dict = {}
        return TextStream(self._run(request, cancel or threading.Event(), holder), holder)

    # -- internals -------------------------------------------------------------------------------------------

    def _run(self, request: Request, cancel: threading.Event, holder: dict) -> Iterator[str]:
        try:
            yield from self._answer(request, cancel, holder)
        except torch.OutOfMemoryError as err:
            self._free_memory()
            raise OutOfMemory(
                "Not enough GPU memory for this request. Try fewer video frames, fewer image crops or a shorter answer."
            ) from err

    def _free_memory(self) -> None:
        """Drop everything that can be rebuilt, so the next request starts from the model weights alone."""
        self._cache = None
        self.prefixes.entries.clear()
        if self.model.device.type == "cuda":
            torch.cuda.empty_cache()

    @torch.inference_mode()
    def _answer(self, request: Request, cancel: threading.Event, holder: dict) -> Iterator[str]:
        with self._lock:
            started = time.perf_counter()
            batch = self.processor(request)
            timings = dict(batch.timings)
            n = len(batch.input_ids)
            limit = self.model.cfg.text.max_position_embeddings
            if n + 1 > limit:
                raise PromptTooLong(
                    f"The prompt has {n} tokens; this model reads at most {limit}. Use fewer frames or crops."
                )
            max_new = min(request.max_new_tokens, limit - n)
            cache = self._kv_cache(n + max_new)
            entry, reused = self.prefixes.lookup(batch)
            if entry is not None and reused:
                cache.keys[:, :, :reused] = entry.keys[:, :, :reused]
                cache.values[:, :, :reused] = entry.values[:, :, :reused]

            def finish(reason: str, generated: list[int]) -> GenerationResult:
                timings["total"] = time.perf_counter() - started
                return GenerationResult(
                    text=self.processor.decode(generated),
                    token_ids=tuple(generated),
                    finish_reason=reason,
                    prompt_tokens=n,
                    reused_tokens=reused,
                    timings=timings,
                    frame_times=batch.frame_times,
                    frame_indices=batch.frame_indices,
                    media_sizes=batch.media_sizes,
                    notes=batch.notes,
                    clip_start=batch.clip_start,
                    video=batch.video_info,
                    frame_thumbnails=batch.frame_thumbnails,
                )

            if cancel.is_set():
                holder["result"] = finish("cancelled", [])
                return
            t = self._tick()
            needs_vision = bool(batch.visual_mask[reused:].any())
            visual = self._visual(batch) if needs_vision else None
            timings["vision"] = self._tick() - t
            hidden = self._prefill(batch, visual, cache, start=reused)
            logits = self.model.logits(hidden[:, -1])[0].float()
            self.prefixes.store(batch, cache)
            timings["prefill"] = self._tick() - t - timings["vision"]
            timings["time_to_first_token"] = time.perf_counter() - started

            chooser = TokenChooser(request, self.model.cfg.text.vocab_size, self.model.device)
            detokenizer = Detokenizer(self.processor.tokenizer, skip_ids=self.eos_ids)
            generated: list[int] = []
            reason = "length"
            decode_start = self._tick()
            position = n
            while True:
                token = chooser(logits)
                if token in self.eos_ids:
                    reason = "stop"
                    break
                generated.append(token)
                delta = detokenizer.push(token)
                if delta:
                    yield delta
                if len(generated) >= max_new:
                    break
                if cancel.is_set():
                    reason = "cancelled"
                    break
                x = self.model.embed(torch.tensor([token]), None)
                hidden = self.model.forward_hidden(x, cache, position, None)
                logits = self.model.logits(hidden[:, -1])[0].float()
                position += 1
            tail = detokenizer.flush()
            if tail:
                yield tail
            timings["decode"] = self._tick() - decode_start
            timings["decode_tokens"] = len(generated)
            timings["tokens_per_second"] = len(generated) / timings["decode"] if timings["decode"] > 0 else 0.0
            holder["result"] = finish(reason, generated)

    def _visual(self, batch: Batch) -> torch.Tensor | None:
        if batch.pixel_values is None:
            return None
        return self.model.visual_features(batch.pixel_values, batch.pooling)

    def _prefill(self, batch: Batch, visual: torch.Tensor | None, cache: KVCache, start: int) -> torch.Tensor:
        """Hidden states [1, n - start, d] of the prompt tokens from `start` on (earlier ones are in the cache)."""
        ids, is_visual = batch.input_ids, batch.visual_mask.to(self.model.device)
        embeds = self.model.embed(ids, visual)[:, start:] if visual is not None else self.model.embed(ids[start:], None)
        positions = torch.arange(len(ids), device=self.model.device)
        mask = attention_mask(positions[start:], positions, is_visual[start:], is_visual)
        return self.model.forward_hidden(embeds, cache, start, mask)

    def _kv_cache(self, tokens: int) -> KVCache:
        if self._cache is None or self._cache.capacity < tokens:
            self._cache = None  # free the old buffers before allocating larger ones
            capacity = -(-tokens // 1024) * 1024
            self._cache = KVCache.allocate(self.model.cfg.text, capacity, self.model.device, self.model.dtype)
        return self._cache

    def _tick(self) -> float:
        if self.model.device.type == "cuda":
            torch.cuda.synchronize(self.model.device)
        return time.perf_counter()
