"""What a caller asks of Molmo2: a conversation with media, plus preprocessing and decoding settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_CROPS_LIMIT = 24  # §3.7: 8 is the reference default, 24 the Ai2 evaluation setting
MAX_FRAMES_LIMIT = 384  # §5.1: the long-context checkpoints were trained with up to 384 frames (2 at least)


class InvalidRequest(ValueError):
    """Settings out of their allowed range; the message names the setting and the range."""


@dataclass(frozen=True)
class Request:
    """One generation request.

    `messages` use the common chat format: `{"role": "user", "content": [{"type": "image", "image": PIL | path |
    bytes}, {"type": "video", "video": path}, {"type": "text", "text": "..."}]}`. A video may also be given as
    decoded frames: `{"type": "video", "video": frames [T, H, W, 3] uint8 or a list of PIL images,
    "timestamps": [seconds per frame]}`, or as an `inference.video.VideoClip`.
    """

    messages: list[dict[str, Any]]
    max_crops: int = 8
    max_frames: int = 128
    max_fps: float = 2.0
    clip: tuple[float | None, float | None] | None = None  # (start, end) seconds of the video to use
    # Decoding: greedy unless temperature > 0.
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    frequency_penalty: float = 0.0
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form settings recorded in manifests

    def __post_init__(self):
        checks = [
            (isinstance(self.max_crops, int) and 1 <= self.max_crops <= MAX_CROPS_LIMIT,
             f"max_crops must be a whole number from 1 to {MAX_CROPS_LIMIT}"),
            (isinstance(self.max_frames, int) and 2 <= self.max_frames <= MAX_FRAMES_LIMIT,
             f"max_frames must be a whole number from 2 to {MAX_FRAMES_LIMIT}"),
            (isinstance(self.max_fps, int | float) and self.max_fps > 0, "max_fps must be a positive number"),
            (isinstance(self.max_new_tokens, int) and self.max_new_tokens >= 1,
             "max_new_tokens must be a whole number of at least 1"),
            (isinstance(self.temperature, int | float) and self.temperature >= 0, "temperature must be >= 0"),
            (isinstance(self.top_p, int | float) and 0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (isinstance(self.top_k, int) and self.top_k >= 0, "top_k must be a whole number >= 0"),
            (isinstance(self.frequency_penalty, int | float), "frequency_penalty must be a number"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise InvalidRequest(message)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
