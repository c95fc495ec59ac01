"""The bridge from a tab's handler to the pipeline: the model, a stop switch, a work folder, user-facing errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from pipeline import Task, run
from ui.backend import Backend


@dataclass(frozen=True)
class Failed:
    """The request ended with a message for the user (already shown as a toast too)."""

    message: str


def run_events(
    backend: Backend, make_task: Callable[[], Task], request: gr.Request | None, *, raise_errors: bool = False
) -> Iterator[Any]:
    """pipeline.run's events for the task `make_task()` builds. Failures end the events: with `raise_errors`
    (API endpoints) as gr.Error; otherwise (tabs) as a final `Failed` event and a toast, so the page shows one
    message instead of an error mark on every output."""

    def events():
        task = make_task()
        engine = backend.molmo.get()
        with backend.stop_switch(request) as stop:
            yield from run(
                task, engine, backend.work_dir(), tracker=backend.tracker, cancel=stop, model_info=backend.model_info()
            )

    if raise_errors:
        return backend.guarded(events())
    return _as_failed(backend.guarded(events()))


def _as_failed(events: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from events
    except gr.Error as err:
        gr.Warning(err.message, title=err.title or "Cannot answer")
        yield Failed(err.message)


def chat_messages(turns: list[list[str]]) -> list[dict[str, str]]:
    """Chatbot messages of earlier (question, raw answer) turns, answers shown with their elements as labels."""
    from inference.grounding import parse

    messages = []
    for question, answer in turns:
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": parse(answer).text or answer})
    return messages


class Drafts:
    """Pictures drawn before the answer's own files exist (the upload as loaded, marks while the answer streams),
    written as JPEG (fast to encode, even at 12 MP) into one work folder per handler call."""

    def __init__(self, backend: Backend):
        self._backend, self._folder, self._count = backend, None, 0

    def save(self, picture) -> Path:
        if self._folder is None:
            self._folder = self._backend.work_dir()
        self._count += 1
        path = self._folder / f"draft_{self._count}.jpg"
        picture.convert("RGB").save(path, quality=90)
        return path

    def clear(self) -> None:
        """Remove the drafts once the answer's own files are shown (Gradio serves its copies of what it showed)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
