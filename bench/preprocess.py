"""Media -> model inputs, end to end: ours vs the reference path, on the same inputs, with equal outputs.

    .venv/bin/python bench/preprocess.py [--repeats 3]

(a) a 60 s 1920x1080 H.264 clip at 30 fps (generated once into bench/out/) -> 128 sampled frames -> inputs.
    ours: our processor given the path (PyAV in a child process; each frame resized while the next decodes).
    reference: decord VideoReader.get_batch on the same frame indices (molmo-utils' default backend), then
    transformers 5.23 Molmo2Processor with those frames and their timestamps.
(b) a 4000x3000 JPEG -> inputs with max_crops 24.
    ours: inference.media.load_image + our processor. reference: PIL open + EXIF transpose + RGB (transformers'
    load_image), then Molmo2Processor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from decode import OUT, make_clip  # noqa: E402

from inference.preprocess import load_processor  # noqa: E402
from inference.request import Request  # noqa: E402
from inference.tiny import write_checkpoint  # noqa: E402
from reference import load_reference_processor, reference_inputs  # noqa: E402


def video_case(ours, reference, path: Path):
    def run_ours():  # the processor decodes the file itself, resizing each frame while the next one decodes
        batch = ours(Request(messages=_ask({"type": "video", "video": str(path)}), max_frames=128, max_fps=2.0))
        return batch, batch

    def run_reference(indices, times):
        import decord

        frames = decord.VideoReader(str(path), num_threads=0).get_batch(list(indices)).asnumpy()
        messages = _ask({"type": "video", "video": frames, "timestamps": list(times)})
        return reference_inputs(reference, messages, video=(frames, list(times)))

    return run_ours, run_reference


def image_case(ours, reference, path: Path):
    def run_ours():
        return ours(Request(messages=_ask({"type": "image", "image": str(path)}), max_crops=24)), None

    def run_reference(*_):
        image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        return reference_inputs(reference, _ask({"type": "image", "image": image}), max_crops=24)

    return run_ours, run_reference


def _ask(part):
    return [{"role": "user", "content": [part, {"type": "text", "text": "Count the moving blocks."}]}]


def measure(name: str, run_ours, run_reference, repeats: int) -> None:
    ours_s, ref_s = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        batch, clip = run_ours()
        ours_s.append(time.perf_counter() - t)
        args = (clip.frame_indices, clip.frame_times) if clip is not None else ()
        t = time.perf_counter()
        ref = run_reference(*args)
        ref_s.append(time.perf_counter() - t)
    pixels = ref["pixel_values_videos"] if "pixel_values_videos" in ref else ref["pixel_values"]
    equal = torch.equal(batch.input_ids, ref["input_ids"][0]) and torch.equal(batch.pixel_values, pixels)
    o, r = statistics.median(ours_s) * 1e3, statistics.median(ref_s) * 1e3
    print(f"{name:34} reference {r:8.0f} ms   ours {o:8.0f} ms   ratio {r / o:5.2f}x   outputs equal: {equal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = write_checkpoint(Path(tmp) / "tiny", size="tiny")
        ours, reference = load_processor(checkpoint), load_reference_processor(checkpoint)
        clip = make_clip(OUT / "decode-60s-1080p30-g250.mp4", keyint=250)  # shared with bench/decode.py
        rng = np.random.default_rng(0)
        photo = Path(tmp) / "photo.jpg"
        texture = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)
        Image.fromarray(texture).resize((4000, 3000), Image.BICUBIC).save(photo, quality=90)
        print(f"torch threads {torch.get_num_threads()}, median of {args.repeats}")
        measure("(a) 60 s 1080p H.264 -> 128 frames", *video_case(ours, reference, clip), args.repeats)
        measure("(b) 4000x3000 JPEG, max_crops 24", *image_case(ours, reference, photo), args.repeats)


if __name__ == "__main__":
    main()
