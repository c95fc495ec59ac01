"""Regenerate the example media in assets/examples/ (committed; run after changing the scenes).

    .venv/bin/python assets/make_examples.py

Synthetic scenes a model can be asked to count and track: coloured discs at known places, one entering late
and one leaving and coming back. Built with the same scene generator the tests use.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from media_fixtures import SceneObject, scene_frame, scene_frames, write_video  # noqa: E402

OUT = ROOT / "assets" / "examples"
RED, BLUE, YELLOW, GREEN = (220, 50, 47), (38, 110, 220), (240, 200, 40), (60, 170, 90)


def still(path: Path, counts: dict, seed: int, size=(640, 400)) -> None:
    """Non-overlapping discs, `counts[colour]` of each colour, at random places."""
    rng = np.random.default_rng(seed)
    width, height = size
    objects: list[SceneObject] = []
    for colour, count in counts.items():
        placed = 0
        while placed < count:
            x, y = rng.uniform(40, width - 40), rng.uniform(40, height - 40)
            if all((x - o.x0) ** 2 + (y - o.y0) ** 2 > 60**2 for o in objects):
                objects.append(SceneObject(len(objects) + 1, colour, 22, x, y, x, y))
                placed += 1
    Image.fromarray(scene_frame(width, height, objects, 0.0, 1.0)).save(path, optimize=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    still(OUT / "discs.png", {RED: 7, BLUE: 4, YELLOW: 2}, seed=1)
    for k, (reds, seed) in enumerate([(3, 2), (5, 3), (2, 4)], start=1):
        still(OUT / f"set_{k}.png", {RED: reds, BLUE: 2}, seed=seed)
    w, h, fps = 640, 360, 15
    # Counting: balls roll in one after another.
    arrivals = [
        SceneObject(i + 1, RED, 18, x0=-20, y0=80 + 60 * i, x1=120 + 110 * i, y1=80 + 60 * i, appear=0.8 * i)
        for i in range(5)
    ]
    write_video(OUT / "balls_count.mp4", scene_frames(w, h, fps, 6.0, arrivals), fps, options={"crf": "28"})
    # Tracking: one crosses, one enters late, one leaves and comes back.
    track = [
        SceneObject(1, RED, 24, 40, 180, 600, 200),
        SceneObject(2, BLUE, 20, 320, 40, 320, 330, appear=2.0),
        SceneObject(3, GREEN, 20, 100, 300, 400, 60, disappear=2.5),
        SceneObject(4, GREEN, 20, 400, 60, 560, 300, appear=4.0),
    ]
    write_video(OUT / "balls_track.mp4", scene_frames(w, h, fps, 6.0, track), fps, options={"crf": "28"})


if __name__ == "__main__":
    main()
