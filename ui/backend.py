"""What every tab shares: the loaded models, one stop switch per browser session, and the answers' work folders.

Errors users should read become `gr.Error` here, in one place; anything else is logged and reported as an
unexpected failure, never as a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ui.model_slot import ModelNotReady, ModelSlot

log = logging.getLogger("molmo2.ui")
WORK_MAX_AGE = 6 * 3600  # seconds an answer's files stay on disk (longer than any queue wait plus job time)


class Backend:
    def __init__(self, molmo: ModelSlot, sam2_name: str, device: str, work_root: Path, time_limit: float):
        self.molmo = molmo
        self.sam2_name = sam2_name  # a SAM 2.1 size / repo id / file, or "tiny-random"
        self.device = device
        self.work_root = work_root
        self.time_limit = time_limit
        self._tracker = None
        self._tracker_lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}

    @property
    def private_dir(self) -> Path:
        """The app's own files: tiny-random checkpoint, ratings database and salt (the last two never served)."""
        return Path(os.environ.get("MOLMO2_CACHE") or Path.home() / ".cache" / "molmo2-demo")

    @classmethod
    def create(cls, molmo: ModelSlot, sam2_name: str, device: str) -> Backend:
        root = Path(os.environ.get("MOLMO2_WORK_DIR") or Path(tempfile.gettempdir()) / "molmo2-demo")
        root.mkdir(parents=True, exist_ok=True)
        return cls(molmo, sam2_name, device, root, float(os.environ.get("MOLMO2_TIME_LIMIT", 900)))

    def tracker(self):
        """The SAM 2 tracker, loaded on first use (tiny-random: random weights at a small input size)."""
        with self._tracker_lock:
            if self._tracker is None:
                from inference.segment import Sam2Tracker

                if self.sam2_name == "tiny-random":
                    self._tracker = Sam2Tracker.load("tiny", random_weights=True, image_size=256, device=self.device)
                else:
                    self._tracker = Sam2Tracker.load(self.sam2_name, device=self.device)
            return self._tracker

    def model_info(self) -> dict[str, Any]:
        engine = self.molmo.get()
        status = self.molmo.status()
        checkpoint = engine.checkpoint
        return {
            "name": checkpoint.name,
            "revision": checkpoint.revision,
            "path": checkpoint.path.name,
            "random_weights": checkpoint.random_weights,
            "device": status.device,
            "dtype": status.dtype,
            "sam2": self.sam2_name,
        }

    def work_dir(self) -> Path:
        """A fresh folder for one answer; folders older than WORK_MAX_AGE are removed first (bounded disk)."""
        now = time.time()
        self.work_root.mkdir(parents=True, exist_ok=True)
        for old in self.work_root.iterdir():
            try:
                if now - old.stat().st_mtime > WORK_MAX_AGE:
                    shutil.rmtree(old, ignore_errors=True)
            except FileNotFoundError:
                pass
        path = self.work_root / uuid.uuid4().hex
        path.mkdir()
        return path

    @contextlib.contextmanager
    def stop_switch(self, request: gr.Request | None) -> Iterator[threading.Event]:
        """A stop switch for one job of this session: the Stop button sets it, and so does the time limit. The
        timer and the switch go away with the job (hundreds of finished jobs leave nothing behind)."""
        key, event = _session(request), threading.Event()
        timer = threading.Timer(self.time_limit, event.set)
        timer.daemon = True
        self._stops[key] = event
        timer.start()
        try:
            yield event
        finally:
            timer.cancel()
            if self._stops.get(key) is event:
                del self._stops[key]

    def stop(self, request: gr.Request | None = None) -> None:
        event = self._stops.get(_session(request))
        if event is not None:
            event.set()

    def guarded(self, events: Iterator[Any]) -> Iterator[Any]:
        """Pass events through; turn the failures a user can act on into gr.Error with their message."""
        try:
            yield from events
        except gr.Error:
            raise
        except ModelNotReady as err:
            raise gr.Error(str(err), title="Model not ready") from err
        except Exception as err:
            message = user_message(err)
            if message is None:
                log.exception("request failed")
                raise gr.Error("Something went wrong while answering; the error was logged. Try again.") from err
            raise gr.Error(message, title="Cannot answer") from err


def user_message(err: Exception) -> str | None:
    """The one-line message of an error the user caused or can fix, or None for a bug."""
    from inference.engine import OutOfMemory, PromptTooLong
    from inference.media import MediaError
    from inference.request import InvalidRequest
    from pipeline.task import TaskError

    known: tuple[type[Exception], ...] = (MediaError, TaskError, InvalidRequest, PromptTooLong, OutOfMemory)
    try:
        from inference.segment import SegmentError

        known += (SegmentError,)
    except ImportError:
        pass
    return str(err) if isinstance(err, known) else None


def gpu_seconds(kind: str, settings) -> int:
    """A ZeroGPU time budget for one request: model work grows with the answer length and the video frames,
    tracking adds SAM 2 over the clip. Generous, since running out mid-answer loses the answer."""
    from pipeline.task import DEFAULT_NEW_TOKENS

    tokens = settings.max_new_tokens or DEFAULT_NEW_TOKENS[kind]
    seconds = 30 + tokens // 20
    if kind in ("video", "tracking"):
        seconds += settings.max_frames // 2
    if kind == "tracking" or settings.sam2 != "off":
        seconds += 240
    return min(seconds, 1200)


def gpu(duration: Callable[..., int] | int = 120):
    """ZeroGPU (Hugging Face Spaces): run the decorated function inside `spaces.GPU` when the package is present;
    elsewhere the function is returned unchanged."""

    def wrap(fn):
        try:
            import spaces  # only on Spaces
        except ImportError:
            return fn
        return spaces.GPU(duration=duration)(fn)

    return wrap


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"
