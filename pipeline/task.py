"""What a user asks in one of the app's tasks, and the settings it runs with (the defaults of product.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from inference.request import Request

TaskKind = Literal["image", "multi_image", "video", "tracking"]
TASKS: tuple[TaskKind, ...] = ("image", "multi_image", "video", "tracking")
SAM2_SIZES = ("off", "tiny", "small", "base+", "large")
# Grounded answers get long: a 128-frame tracking answer lists every id on every frame it saw.
DEFAULT_NEW_TOKENS = {"image": 512, "multi_image": 1024, "video": 1024, "tracking": 2048}


@dataclass(frozen=True)
class Settings:
    max_new_tokens: int | None = None  # None: the task's default
    sampling: bool = False  # greedy by default; sampling uses the paper's caption settings below
    temperature: float = 0.7
    top_p: float = 0.95
    frequency_penalty: float = 0.1
    seed: int | None = None
    max_crops: int = 8
    max_frames: int = 128
    max_fps: float = 2.0
    clip_start: float | None = None
    clip_end: float | None = None
    sam2: str = "off"  # SAM 2 masks: "off" or a size; tracking turns them on with the app's default size

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Task:
    kind: TaskKind
    media: tuple[str, ...]  # image paths (1 for image, 2-8 for multi_image) or one video path
    prompt: str
    history: tuple[tuple[str, str], ...] = ()  # earlier (question, answer) turns about the same media
    settings: Settings = field(default_factory=Settings)

    def __post_init__(self):
        if self.kind not in TASKS:
            raise ValueError(f"unknown task {self.kind!r}")
        if not self.prompt.strip():
            raise TaskError("Type a question first.")
        need = {"image": (1, 1), "multi_image": (2, 8), "video": (1, 1), "tracking": (1, 1)}[self.kind]
        if not need[0] <= len(self.media) <= need[1]:
            what = "one image" if self.kind == "image" else "2 to 8 images" if self.kind == "multi_image" else "a video"
            raise TaskError(f"This task needs {what}; got {len(self.media)}.")

    @property
    def is_video(self) -> bool:
        return self.kind in ("video", "tracking")

    def request(self) -> Request:
        """The Molmo2 request: the media with the first question, then the earlier turns, then this prompt."""
        s = self.settings
        media = [{"type": "video", "video": self.media[0]}] if self.is_video else [
            {"type": "image", "image": path} for path in self.media
        ]  # fmt: skip
        questions = [q for q, _ in self.history] + [self.prompt]
        messages = [{"role": "user", "content": [*media, {"type": "text", "text": questions[0]}]}]
        for (_, answer), question in zip(self.history, questions[1:]):
            messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
            messages.append({"role": "user", "content": [{"type": "text", "text": question}]})
        return Request(
            messages=messages,
            max_crops=s.max_crops,
            max_frames=s.max_frames,
            max_fps=s.max_fps,
            clip=(s.clip_start, s.clip_end) if self.is_video and (s.clip_start or s.clip_end) else None,
            max_new_tokens=s.max_new_tokens or DEFAULT_NEW_TOKENS[self.kind],
            temperature=s.temperature if s.sampling else 0.0,
            top_p=s.top_p if s.sampling else 1.0,
            frequency_penalty=s.frequency_penalty if s.sampling else 0.0,
            seed=s.seed,
        )

    def media_names(self) -> list[str]:
        return [Path(p).name for p in self.media]


class TaskError(ValueError):
    """A request the user must change (no media, wrong number of images, empty question)."""
