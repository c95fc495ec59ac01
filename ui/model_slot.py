"""One model loaded in a background thread while the UI already serves; reports loading, ready or failed."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOADING, READY, FAILED = "loading", "ready", "failed"


class ModelNotReady(Exception):
    """Raised to a request that needs the model before it has loaded (or after loading failed)."""


@dataclass(frozen=True)
class ModelStatus:
    name: str
    device: str
    dtype: str
    state: str  # LOADING, READY or FAILED
    detail: str  # why it failed, or what is being loaded
    random_weights: bool
    seconds: float  # time spent loading so far (or in total once done)


class ModelSlot:
    """Holds the loaded model; `loader(name, device, dtype)` runs once in a daemon thread."""

    def __init__(self, name: str, device: str, dtype: str, loader: Callable[[str, str, str], Any]):
        self.name, self.device, self.dtype = name, device, dtype
        self._loader = loader
        self._lock = threading.Lock()
        self._state, self._detail, self._model = LOADING, "starting", None
        self._started = self._finished = time.monotonic()

    def start(self) -> ModelSlot:
        self._started = time.monotonic()
        threading.Thread(target=self._load, name=f"load {self.name}", daemon=True).start()
        return self

    def switch(self, name: str) -> None:
        """Load another model in the background; the current one is released first (one GPU holds one model)."""
        with self._lock:
            if name == self.name and self._state != FAILED:
                return
            self.name, self._state, self._detail, self._model = name, LOADING, "starting", None
        _release_memory()
        self.start()

    def status(self) -> ModelStatus:
        with self._lock:
            end = time.monotonic() if self._state == LOADING else self._finished
            return ModelStatus(
                name=self.name,
                device=self.device,
                dtype=self.dtype,
                state=self._state,
                detail=self._detail,
                random_weights=bool(getattr(self._model, "random_weights", False)) or self.name == "tiny-random",
                seconds=end - self._started,
            )

    def get(self) -> Any:
        """The loaded model, or ModelNotReady with a message for the user."""
        with self._lock:
            if self._state == READY:
                return self._model
            if self._state == FAILED:
                raise ModelNotReady(f"The model could not be loaded: {self._detail}")
        raise ModelNotReady(f"The model {self.name} is still loading; try again in a moment.")

    def _load(self) -> None:
        with self._lock:
            self._detail = f"loading {self.name}"
            name = self.name
        try:
            model = self._loader(name, self.device, self.dtype)
        except Exception as err:  # any failure is reported in the UI instead of killing the server
            with self._lock:
                if name != self.name:
                    return
                self._state, self._detail, self._finished = (
                    FAILED,
                    str(err) or type(err).__name__,
                    time.monotonic(),
                )
                detail = self._detail
            _log(f"model {name} failed to load: {detail}")
            return
        with self._lock:
            if name != self.name:  # switched again while this one loaded: drop it
                return
            self._state, self._detail, self._model, self._finished = READY, "", model, time.monotonic()
            seconds = self._finished - self._started
        _log(f"model {name} ready on {self.device} ({self.dtype}) after {seconds:.1f} s")


def _log(line: str) -> None:
    """Server logs (a Space's log tab, a terminal) say what the UI's status line says."""
    print(line, file=sys.stderr, flush=True)


def _release_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
