"""Decode time per backend on the sampling pattern (a 60 s 1920x1080 H.264 clip at 30 fps -> 128 frames), and the
start-up cost of the ways to run a decoder in a child process.

    python bench/decode.py [--keyint 250] [--repeats 3]

The clip is generated on the first run (bench/out/, about a minute) and reused.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import torch  # stands in for the app's __main__, which imports torch: spawn and forkserver children re-import it

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from inference.video import load_clip, probe_video

OUT = Path(__file__).resolve().parent / "out"


def make_clip(path: Path, *, seconds: int = 60, fps: int = 30, keyint: int = 250) -> Path:
    """A moving textured scene (so the encoder has real work), x264 `veryfast` with the given keyframe interval."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:1080, 0:1920].astype(np.float32)
    texture = (np.sin(x / 23.0) * np.cos(y / 17.0) * 60).astype(np.float32)
    with av.open(str(path.with_suffix(".part.mp4")), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(keyint), "crf": "23"}
        for i in range(seconds * fps):
            shift = 4 * i
            grey = 128 + np.roll(texture, (shift // 3, shift), axis=(0, 1))
            grey[200:400, (shift * 2) % 1700 : (shift * 2) % 1700 + 200] = 240  # a moving block
            rgb = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
            rgb[..., 0] = (rgb[..., 0].astype(np.int32) + i) % 256  # colour drifts with time
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    path.with_suffix(".part.mp4").rename(path)
    return path


def time_backends(path: Path, repeats: int) -> None:
    probe_s = [_timed(lambda: probe_video(path))[0] for _ in range(repeats)]
    print(f"probe_video (child start, open, packet index): median {statistics.median(probe_s):.2f} s")
    clips = {}
    for backend in ("pyav", "decord"):
        seconds = []
        for _ in range(repeats):
            elapsed, clips[backend] = _timed(lambda b=backend: load_clip(path, max_frames=128, backend=b))
            seconds.append(elapsed)
        print(
            f"load_clip 128 frames, {backend:6s}: median {statistics.median(seconds):.2f} s "
            f"(min {min(seconds):.2f}, max {max(seconds):.2f}) over {repeats} runs"
        )
    a, b = clips["pyav"], clips["decord"]
    assert a.frame_indices == b.frame_indices
    diff = np.abs(a.frames.astype(np.int16) - b.frames.astype(np.int16))
    print(f"same frames from both: indices equal, pixel difference max {diff.max()}, mean {diff.mean():.3f}")


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _child_job(connection) -> None:
    connection.send(av.__version__)
    connection.close()


def time_child_start(repeats: int) -> None:
    """Start a child, import PyAV there, answer: fork / forkserver / spawn (multiprocessing) vs a fresh interpreter
    (what inference.video does). The parent has torch imported with its thread pool running, like the app."""
    torch.ones(512, 512) @ torch.ones(512, 512)  # start torch's intra-op threads
    for method in ("fork", "forkserver", "spawn"):
        context = multiprocessing.get_context(method)
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_child_job, args=(sender,))
            process.start()
            sender.close()
            receiver.recv()
            process.join()
            seconds.append(time.perf_counter() - started)
        print(f"child start via multiprocessing {method:10s}: median {statistics.median(seconds) * 1000:.0f} ms")
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import av, numpy"], check=True)
        seconds.append(time.perf_counter() - started)
    print(f"child start via fresh interpreter     : median {statistics.median(seconds) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keyint", type=int, default=250, help="keyframe interval of the generated clip (x264: 250)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    path = make_clip(OUT / f"decode-60s-1080p30-g{args.keyint}.mp4", keyint=args.keyint)
    print(f"clip {path.name} ready in {time.perf_counter() - started:.0f} s ({path.stat().st_size / 2**20:.0f} MB)")
    time_backends(path, args.repeats)
    time_child_start(args.repeats)


if __name__ == "__main__":
    main()
