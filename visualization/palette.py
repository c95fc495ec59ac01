"""The one id palette: every overlay, player, MP4 and chart colours ids through `id_colour`.

Okabe & Ito's colour-blind-safe set without its black (invisible on dark video); ids beyond seven colours wrap
around, and every mark also carries its id as text, so colour never has to tell two ids apart on its own.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

_OKABE_ITO: tuple[RGB, ...] = (
    (230, 159, 0),  # orange
    (86, 180, 233),  # sky blue
    (0, 158, 115),  # bluish green
    (240, 228, 66),  # yellow
    (0, 114, 178),  # blue
    (213, 94, 0),  # vermillion
    (204, 121, 167),  # reddish purple
)


def id_colour(slot: int) -> RGB:
    """Colour of a colour slot (a track id, or a label's index for pointing answers; see marks.colour_slot)."""
    return _OKABE_ITO[slot % len(_OKABE_ITO)]


def hex_colour(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def ink(rgb: RGB) -> RGB:
    """Black or white text for a mark filled with `rgb`: whichever has the higher WCAG contrast ratio."""
    linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # Contrast with black (L + 0.05) / 0.05 beats contrast with white 1.05 / (L + 0.05) above L = 0.179.
    return (0, 0, 0) if luminance > 0.179 else (255, 255, 255)
