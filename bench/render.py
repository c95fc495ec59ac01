"""Annotated-MP4 rendering speed: a 30 s 1280x720 30 fps clip with 5 tracked objects, with and without masks.

    .venv/bin/python bench/render.py [--seconds 30]

Prints frames per second (real time = the clip's 30 fps) and the peak memory the render adds. The clip and its
masks are generated first (not timed) under bench/out/. Frames come from inference.video when it exists, else
from a plain PyAV decode standing in for it.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from media_fixtures import SceneObject, scene_frames, write_video  # noqa: E402
from visualization import render_annotated_video  # noqa: E402

WIDTH, HEIGHT, FPS, OBJECTS = 1280, 720, 30, 5
OUT = Path(__file__).resolve().parent / "out"


def scene(seconds: float) -> list[SceneObject]:
    colours = [(220, 60, 60), (60, 200, 90), (70, 90, 230), (230, 210, 60), (200, 80, 200)]
    return [
        SceneObject(i + 1, colours[i], 40, x0=100 + 60 * i, y0=120 + 110 * i, x1=1180 - 80 * i, y1=600 - 90 * i)
        for i in range(OBJECTS)
    ]


def answer(objects: list[SceneObject], seconds: float) -> dict:
    """Tracks with a keyframe every 0.5 s (Molmo2's 2 fps sampling)."""
    keys = [0.5 * k for k in range(int(seconds * 2))]
    points = [
        {"key": t, "id": o.id, "x": o.position(t, seconds)[0] / WIDTH, "y": o.position(t, seconds)[1] / HEIGHT}
        for o in objects
        for t in keys
    ]
    return {"objects": [{"kind": "tracks", "label": "ball", "alt": None, "points": points}], "count": OBJECTS}


def masks(objects: list[SceneObject], seconds: float) -> dict:
    """A disc mask per object on every frame, as SAM 2 would export it (COCO RLE)."""
    n = round(seconds * FPS)
    export = {"info": {"width": WIDTH, "height": HEIGHT, "frame_times": [i / FPS for i in range(n)]}, "objects": {}}
    for o in objects:
        r = round(1.5 * o.radius)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        disc = xx**2 + yy**2 <= r**2
        frames = {}
        for i in range(n):
            x, y = (round(c) for c in o.position(i / FPS, seconds))
            mask = np.zeros((HEIGHT + 2 * r, WIDTH + 2 * r), np.uint8, order="F")  # padded: discs may cross edges
            mask[y : y + 2 * r + 1, x : x + 2 * r + 1] = disc
            rle = mask_utils.encode(np.asfortranarray(mask[r:-r, r:-r]))
            frames[str(i)] = {"rle": {"size": [HEIGHT, WIDTH], "counts": rle["counts"].decode()}}
        export["objects"][str(o.id)] = {"label": "ball", "frames": frames}
    return export


def frames(path: Path):
    try:
        from inference.video import iter_frames
    except ImportError:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                yield i, float(frame.time), frame.to_ndarray(format="rgb24")
        return
    for frame in iter_frames(path):
        yield frame.index, frame.time, frame.image


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def measure(label: str, run) -> None:
    baseline, peak, done = rss_mib(), [0.0], threading.Event()

    def sample():
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss_mib())

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    n = run()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    print(f"{label:<34} {n / elapsed:7.1f} fps  ({n / elapsed / FPS:.2f}x real time, {elapsed:5.1f} s)  "
          f"peak memory +{max(peak[0], rss_mib()) - baseline:5.0f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    seconds = parser.parse_args().seconds
    OUT.mkdir(exist_ok=True)
    objects = scene(seconds)
    clip = OUT / f"clip-{WIDTH}x{HEIGHT}-{seconds:g}s.mp4"
    if not clip.exists():
        write_video(clip, scene_frames(WIDTH, HEIGHT, FPS, seconds, objects), FPS)
    grounding, export = answer(objects, seconds), masks(objects, seconds)
    frame_times = [0.5 * k for k in range(int(seconds * 2) + 1)]
    n = round(seconds * FPS)
    print(f"{WIDTH}x{HEIGHT}, {FPS} fps, {seconds:g} s ({n} frames), {OBJECTS} tracks; real time = {FPS} fps")
    measure("decode only", lambda: sum(1 for _ in frames(clip)))
    measure("tracks, no masks", lambda: _render(clip, grounding, None, frame_times, "tracks.mp4"))
    measure(f"tracks + masks ({OBJECTS} objects)", lambda: _render(clip, grounding, export, frame_times, "masks.mp4"))


def _render(clip: Path, grounding: dict, export: dict | None, frame_times: list[float], name: str) -> int:
    """Render and return how many frames the output holds."""
    out = render_annotated_video(frames(clip), grounding, export, out=OUT / name, frame_times=frame_times, fps=FPS)
    import av

    with av.open(str(out)) as container:
        return container.streams.video[0].frames


if __name__ == "__main__":
    main()
