"""Molmo2 inference: checkpoints, preprocessing, the model and its decoding, output grammar, SAM 2.

from inference import load_processor, Request, Molmo2Engine
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "Request": "inference.request",
    "load_processor": "inference.preprocess",
    "Batch": "inference.preprocess",
    "Molmo2Engine": "inference.engine",
    "GenerationResult": "inference.engine",
}


def __getattr__(name: str):
    # Lazy, so that light modules (grounding, prompts) import without torch.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'inference' has no attribute {name!r}")
