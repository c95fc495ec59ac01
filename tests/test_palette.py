"""visualization/palette.py: the one id palette stays distinguishable for colour-blind viewers and readable."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from visualization.palette import hex_colour, id_colour, ink

# Viénot, Brettel & Mollon (1999) dichromat simulation, applied to linear RGB.
SIMULATIONS = {
    "protanopia": np.array([[0.11238, 0.88762, 0.0], [0.11238, 0.88762, 0.0], [0.00401, -0.00401, 1.0]]),
    "deuteranopia": np.array([[0.29275, 0.70725, 0.0], [0.29275, 0.70725, 0.0], [-0.02234, 0.02234, 1.0]]),
}


def _linear(rgb) -> np.ndarray:
    c = np.asarray(rgb, dtype=float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0, 1)
    return 255 * np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def _closest_pair(colours, simulation: np.ndarray) -> float:
    seen = [_srgb(simulation @ _linear(c)) for c in colours]
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(seen, 2))


def _contrast(a, b) -> float:
    la, lb = (float(np.dot([0.2126, 0.7152, 0.0722], _linear(c))) for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def test_palette_cycles_through_seven_distinct_colours():
    colours = [id_colour(i) for i in range(7)]
    assert len(set(colours)) == 7
    assert id_colour(7) == id_colour(0) and id_colour(10) == id_colour(3)
    assert hex_colour(id_colour(0)) == "#e69f00"


# A red and a green that trichromats tell apart easily (about 140 apart) but each kind of dichromat cannot.
CONFUSABLE = {"protanopia": ((210, 60, 60), (70, 100, 60)), "deuteranopia": ((204, 68, 68), (102, 136, 68))}


@pytest.mark.parametrize("name", sorted(SIMULATIONS))
def test_colours_stay_apart_for_dichromats(name):
    colours = [id_colour(i) for i in range(7)]
    assert _closest_pair(colours, SIMULATIONS[name]) > 25
    assert _closest_pair(CONFUSABLE[name], np.eye(3)) > 100
    assert _closest_pair(CONFUSABLE[name], SIMULATIONS[name]) < 15  # the check can fail


def test_ink_is_readable_on_every_colour():
    for i in range(7):
        colour = id_colour(i)
        assert _contrast(colour, ink(colour)) >= 4.5, colour
    assert ink((240, 228, 66)) == (0, 0, 0) and ink((0, 114, 178)) == (255, 255, 255)
