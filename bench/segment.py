"""Benchmark: SAM 2 propagation speed and peak memory, our tracker next to sam2's predictor called the plain way
(init_state on a JPEG folder, add_new_points_or_box on the same clicks, propagate_in_video forward then reverse,
as sam2's README shows), on the same generated frames, with random weights of the same architecture.

Two scenes: every object visible all clip long, and objects entering one after another (our tracker works on
each object only inside its life; the plain way tracks every object on every frame). Each measurement runs in its
own process so that its peak memory is its own.

Run from the repository root:
  .venv/bin/python bench/segment.py                                  # CPU, 512 px, 2 and 8 objects
  .venv/bin/python bench/segment.py --device cuda --image-size 1024  # GPU
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource  # ru_maxrss: kilobytes on Linux
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

WIDTH, HEIGHT, FPS = 640, 360, 8.0
MOLMO2_FPS = 2.0  # the prompt frames Molmo2 saw, and so where its track points are


def scene(objects: int, seconds: float, staggered: bool) -> list:
    from media_fixtures import SceneObject

    out = []
    for i in range(objects):
        row, col = divmod(i, 4)
        x, y = 80 + 160 * col, 90 + 180 * row
        appear = seconds * i / objects if staggered else 0.0
        out.append(SceneObject(i + 1, ((60 * i) % 256, 200 - 20 * i, 90), 30, x, y, x + 40, y + 20, appear=appear))
    return out


def answer(objects: list, seconds: float):
    """Molmo2's tracking answer for the scene: each object's centre on the prompt frames where it is visible."""
    from inference.grounding import parse

    groups = []
    for k in range(int(seconds * MOLMO2_FPS)):
        t = k / MOLMO2_FPS
        visible = [(o.id, o.position(t, seconds)) for o in objects if o.position(t, seconds) is not None]
        points = " ".join(f"{id} {x / WIDTH * 1000:03.0f} {y / HEIGHT * 1000:03.0f}" for id, (x, y) in visible)
        if points:
            groups.append(f"{t:.1f} {points}")
    return parse(f'<tracks coords="{";".join(groups)}">discs</tracks>')


def measure(args: argparse.Namespace, objects: int, staggered: bool, plain: bool) -> dict:
    """Best of `args.repeat` runs in this process (the first one warms up), and the process's peak memory."""
    import numpy as np
    import torch

    from inference.segment import Sam2Tracker
    from inference.track_plan import Frames, plan_video
    from media_fixtures import scene_frames

    tracker = Sam2Tracker.load(args.model, random_weights=True, image_size=args.image_size, device=args.device)
    things = scene(objects, args.seconds, staggered)
    images = [np.ascontiguousarray(f) for f in scene_frames(WIDTH, HEIGHT, FPS, args.seconds, things)]
    n = len(images)
    frames = Frames(tuple(images), tuple(range(n)), tuple(i / FPS for i in range(n)), (WIDTH, HEIGHT), FPS)
    grounding = answer(things, args.seconds)
    plan = plan_video(grounding, frames, None, tracker.limits)
    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    runs = []
    for _ in range(args.repeat):
        if plain:
            # The same clicks as our tracker's: every track's keyframes, from the same plan.
            clicks = sorted((k.position, o.id, k.x, k.y) for o in plan.objects for k in o.keyframes)
            runs.append(plain_run(tracker.predictor, images, clicks, cuda))
        else:
            start = time.perf_counter()
            tracker.track(frames, grounding)
            steps = sum(s.end - s.start + 1 for o in plan.objects for s in o.spans)
            runs.append({"seconds": time.perf_counter() - start, "steps": steps})
    best = min(runs, key=lambda r: r["seconds"])
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {**best, "frames": n, "peak_mb": peak / 2**20}


def plain_run(predictor, images: list, clicks: list, cuda: bool) -> dict:
    """sam2's predictor as its README runs it: frames from a JPEG folder, clicks, propagation forward then back."""
    import torch
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        for i, image in enumerate(images):
            Image.fromarray(image).save(f"{folder}/{i:05d}.jpg", quality=95)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
        with torch.inference_mode(), autocast:
            start = time.perf_counter()
            state = predictor.init_state(folder, offload_video_to_cpu=not cuda)
            load = time.perf_counter() - start
            start = time.perf_counter()
            for position, id, x, y in clicks:
                predictor.add_new_points_or_box(state, position, id, points=[[x, y]], labels=[1])
            steps = 0
            for reverse in (False, True):
                for _, ids, _ in predictor.propagate_in_video(state, reverse=reverse):
                    steps += len(ids)
            seconds = time.perf_counter() - start
    return {"seconds": seconds, "load_seconds": load, "steps": steps}


def in_child(args: argparse.Namespace, objects: int, staggered: bool, plain: bool) -> dict:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(measure, (args, objects, staggered, plain))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="SAM 2.1 size (random weights): tiny, small, base+, large")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=3.0, help=f"clip length at {FPS:g} fps")
    parser.add_argument("--objects", default="2,8")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the best is kept")
    args = parser.parse_args()
    print(
        f"SAM 2.1 hiera-{args.model} (random weights), {args.image_size} px, {args.device}; "
        f"{int(args.seconds * FPS)} frames of {WIDTH}x{HEIGHT}, Molmo2 track points at {MOLMO2_FPS:g} fps"
    )
    memory = "GPU peak MB" if args.device == "cuda" else "process peak RSS MB"
    print(f"{'scene':18s} {'objects':>7s} {'ours fps':>9s} {'plain fps':>9s} {'speed-up':>8s}  {memory} ours/plain")
    for staggered in (False, True):
        for objects in map(int, args.objects.split(",")):
            ours = in_child(args, objects, staggered, plain=False)
            plain = in_child(args, objects, staggered, plain=True)
            name = "staggered entries" if staggered else "all visible"
            ours_fps, plain_fps = ours["frames"] / ours["seconds"], plain["frames"] / plain["seconds"]
            print(
                f"{name:18s} {objects:7d} {ours_fps:9.2f} {plain_fps:9.2f} {ours_fps / plain_fps:7.2f}x  "
                f"{ours['peak_mb']:8.0f} / {plain['peak_mb']:.0f}   (plain JPEG loading {plain['load_seconds']:.1f} s "
                f"not counted; object-frames {ours['steps']} / {plain['steps']})"
            )


if __name__ == "__main__":
    main()
