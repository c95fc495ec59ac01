"""Prompt helpers: the exact training phrasings of §11.4, and user-facing errors for unusable arguments."""

from __future__ import annotations

import pytest

from inference.grounding import Point, parse
from inference.prompts import (
    PromptError,
    count_prompt,
    first_last_prompt,
    point_in_images_prompt,
    point_prompt,
    track_points_prompt,
    track_prompt,
)


def test_phrasings_match_training_templates():
    assert point_prompt("penguins") == "Point to penguins"
    assert count_prompt("boats") == "Point to and count the boats in the picture."
    assert count_prompt("boats", media="video") == "Point to and count the boats in the video."
    assert track_prompt("the player who is dunking") == "Track the player who is dunking."
    assert track_prompt("cars", fps=2) == "Track cars in 2 FPS."
    assert track_prompt("cars", fps=2.5) == "Track cars in 2.5 FPS."
    assert point_in_images_prompt("dogs", [1, 3]) == "Point to dogs in image_1, image_3."
    assert point_in_images_prompt("dogs") == "Point to dogs in all images."
    assert first_last_prompt("red car") == (
        "For each 'red car' in this video, identify only its first and last appearances with precise coordinates."
    )


def test_labels_are_tidied():
    assert point_prompt("  the \n small   boats ") == "Point to the small boats"


def test_track_points_prompt_uses_molmo2_points_format():
    points = (Point(1.5, 1, 0.25, 0.5), Point(1.5, 2, 0.75, 0.05))
    prompt = track_points_prompt("ball", points, fps=2)
    assert prompt == 'Track <points coords="1.5 1 250 500 2 750 050">ball</points> in 2 FPS.'
    assert parse(prompt).objects[0].points == points


@pytest.mark.parametrize(
    "call",
    [
        lambda: point_prompt("   "),
        lambda: count_prompt(""),
        lambda: point_in_images_prompt("dogs", []),
        lambda: point_in_images_prompt("dogs", [0, 2]),
        lambda: track_prompt("cars", fps=0),
        lambda: track_points_prompt("ball", [], fps=2),
    ],
)
def test_unusable_arguments_raise_prompt_error(call):
    with pytest.raises(PromptError):
        call()
