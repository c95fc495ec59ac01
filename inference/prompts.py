"""User prompts in the phrasings Molmo2 was trained on for pointing, counting and tracking (molmo2-inference.md §11.4).

Other wordings work zero-shot too; these are the ones whose answer format (§11.1) is the most predictable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from inference.grounding import GroundedObject, Grounding, Point, format_grounding


class PromptError(ValueError):
    """A prompt the user has to fix (empty label, no image chosen); the message says what to change."""


def point_prompt(label: str) -> str:
    return f"Point to {_label(label)}"


def count_prompt(label: str, media: Literal["image", "video"] = "image") -> str:
    # Only a point-and-count template: "How many ... are there?" is also a count-only one and may get a bare number.
    # Video templates are the image ones with "picture" replaced by "video".
    return f"Point to and count the {_label(label)} in the {'video' if media == 'video' else 'picture'}."


def track_prompt(label: str, fps: float | None = None) -> str:
    label = _label(label)
    return f"Track {label}." if fps is None else f"Track {label} in {_fps(fps)} FPS."


def point_in_images_prompt(label: str, images: Sequence[int] | None = None) -> str:
    """Pointing in a set of images, named image_k (1-based) as in training; None asks about all images."""
    if images is None:
        where = "all images"
    elif not images or min(images) < 1:
        raise PromptError("Choose at least one image to point in (images are numbered from 1).")
    else:
        where = ", ".join(f"image_{k}" for k in images)
    return f"Point to {_label(label)} in {where}."


def first_last_prompt(label: str) -> str:
    return (
        f"For each '{_label(label)}' in this video, identify only its first and last appearances with precise "
        "coordinates."
    )


def track_points_prompt(label: str, points: Sequence[Point], fps: float) -> str:
    """Track objects from given start points (keys in seconds), written in Molmo2's own `<points>` format."""
    if not points:
        raise PromptError("Click at least one point on the video to track from.")
    element = format_grounding(Grounding((GroundedObject("points", _label(label), None, tuple(points)),)))
    return f"Track {element} in {_fps(fps)} FPS."


def _label(label: str) -> str:
    text = " ".join(label.split())
    if not text:
        raise PromptError("Say what to look for: the object's name is empty.")
    return text


def _fps(fps: float) -> str:
    if not fps > 0:
        raise PromptError("The tracking rate must be a positive number of frames per second.")
    return f"{fps:g}"
