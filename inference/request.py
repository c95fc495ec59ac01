"""What a caller asks of Molmo2: a conversation with media, plus preprocessing and decoding settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_CROPS_LIMIT = 24  # §3.7: 8 is the reference default, 24 the Ai2 evaluation setting
MAX_FRAMES_LIMIT = 384  # §5.1: the long-context checkpoints were trained with up to 384 frames


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
        if not 1 <= self.max_crops <= MAX_CROPS_LIMIT:
            raise ValueError(f"max_crops must be between 1 and {MAX_CROPS_LIMIT}, got {self.max_crops}")
        if not 1 <= self.max_frames <= MAX_FRAMES_LIMIT:
            raise ValueError(f"max_frames must be between 1 and {MAX_FRAMES_LIMIT}, got {self.max_frames}")
        if not self.max_fps > 0:
            raise ValueError(f"max_fps must be positive, got {self.max_fps}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError("temperature must be >= 0, top_p in (0, 1] and top_k >= 0")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
