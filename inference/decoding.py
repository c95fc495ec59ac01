"""Choosing the next token (greedy or sampled) and turning token ids into text deltas that are safe to show."""

from __future__ import annotations

import torch

from inference.request import Request


class TokenChooser:
    """Greedy argmax, or temperature / top-k / top-p sampling; both with an optional frequency penalty
    (logits of already generated tokens lowered by penalty × count, as in the paper's caption settings)."""

    def __init__(self, request: Request, vocab_size: int, device):
        self.request = request
        self.counts = torch.zeros(vocab_size, device=device) if request.frequency_penalty else None
        self.generator = None
        if not request.greedy:
            self.generator = torch.Generator(device=device)
            self.generator.manual_seed(request.seed if request.seed is not None else torch.seed())

    def __call__(self, logits: torch.Tensor) -> int:
        """logits [vocab] (float32) -> the next token id."""
        r = self.request
        if self.counts is not None:
            logits = logits - r.frequency_penalty * self.counts
        if r.greedy:
            token = int(logits.argmax())
        else:
            token = int(torch.multinomial(self._probabilities(logits), 1, generator=self.generator))
        if self.counts is not None:
            self.counts[token] += 1
        return token

    def _probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        r = self.request
        logits = logits / r.temperature
        if r.top_k and r.top_k < logits.numel():
            threshold = torch.topk(logits, r.top_k).values[-1]
            logits = logits.masked_fill(logits < threshold, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if r.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            # Keep the smallest set whose mass reaches top_p (the most likely token is always kept).
            drop = sorted_probs.cumsum(0) - sorted_probs >= r.top_p
            probs = probs.scatter(0, order[drop], 0.0)
        return probs


class Detokenizer:
    """Incremental decoding: emits only complete characters of complete tokens, never a broken UTF-8 sequence.

    Byte-level BPE tokens can end in the middle of a multi-byte character; the text of such a token decodes to
    U+FFFD until the next token completes it, so a delta is held back while the new text ends with U+FFFD.
    """

    def __init__(self, tokenizer, skip_ids: set[int]):
        self.tokenizer = tokenizer
        self.skip_ids = skip_ids
        self.ids: list[int] = []
        self.prefix_offset = 0  # start of the window re-decoded for context
        self.read_offset = 0  # tokens before this were already emitted

    def push(self, token: int) -> str:
        if token in self.skip_ids:
            return ""
        self.ids.append(token)
        before = self._decode(self.ids[self.prefix_offset : self.read_offset])
        after = self._decode(self.ids[self.prefix_offset :])
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
        return after[len(before) :]

    def flush(self) -> str:
        """What is still held back at the end (a final incomplete character is dropped)."""
        before = self._decode(self.ids[self.prefix_offset : self.read_offset])
        after = self._decode(self.ids[self.prefix_offset :]).rstrip("\ufffd")
        self.prefix_offset = self.read_offset = len(self.ids)
        return after[len(before) :] if len(after) > len(before) else ""

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True) if ids else ""
