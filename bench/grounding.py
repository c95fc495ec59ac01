"""Benchmark: parsing grounded answers, adversarial and real-sized, next to the model card's coords regex (§11.2).

Run from the repository root: .venv/bin/python bench/grounding.py   (about 10 s on one core)
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from inference.grounding import StreamingParser, parse  # noqa: E402
from test_grounding import adversarial_answers  # noqa: E402

# The reference's coords regex: from every unclosed tag its lazy ".*?" scans the rest of the answer.
REFERENCE_COORDS = re.compile(r'<(?:points|tracks).*? coords="([0-9\t:;, .]+)"/?>')


def best_ms(fn, arg, repeat: int = 5) -> tuple[float, float]:
    """Best wall-clock and best CPU milliseconds over `repeat` runs."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn(arg)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall) * 1000, min(cpu) * 1000


def track_answer(frames: int = 384, objects: int = 20) -> str:
    groups = []
    for f in range(frames):
        points = " ".join(f"{i} {(37 * i + f) % 1000:03d} {(53 * i + 2 * f) % 1000:03d}" for i in range(1, objects + 1))
        groups.append(f"{f / 2:.1f} {points}")
    return f'<tracks coords="{";".join(groups)}">players</tracks>'


def stream(text: str, step: int = 3) -> None:
    parser = StreamingParser()
    for i in range(0, len(text), step):
        parser.feed(text[i : i + step])
    parser.result()


def main() -> None:
    print("1 MiB adversarial answers                parse wall ms   parse CPU ms")
    worst = 0.0
    for name, text in adversarial_answers().items():
        wall, cpu = best_ms(parse, text)
        worst = max(worst, wall)
        print(f"  {name:38s} {wall:13.1f} {cpu:14.1f}")
    print(f"  worst wall time: {worst:.1f} ms (target: under 100 ms)")

    image = '<points coords="1 ' + " ".join(f"{i} {10 * i:03d} {500 + i:03d}" for i in range(1, 31)) + '">cars</points>'
    track = track_answer()
    points = sum(len(o.points) for o in parse(track).objects)
    print("\nreal-sized answers                        size     parse ms   streamed in 3-char pieces ms")
    for name, text in [("image, 30 points", image), (f"384 frames x 20 tracks ({points} points)", track)]:
        wall, _ = best_ms(parse, text)
        streamed, _ = best_ms(stream, text, repeat=3)
        print(f"  {name:38s} {len(text) / 1024:6.0f} KiB {wall:8.2f} {streamed:12.1f}")

    print("\nunclosed '<points coords=\"1 1 500 500 ' tags: reference regex vs ours (ms)")
    for size in (8_192, 16_384, 32_768):
        text = '<points coords="1 1 500 500 ' * (size // 28)
        reference, _ = best_ms(lambda t: REFERENCE_COORDS.findall(t), text, repeat=1)
        ours, _ = best_ms(parse, text)
        print(f"  {size // 1024:3d} KiB   reference {reference:9.1f}   ours {ours:6.2f}")


if __name__ == "__main__":
    main()
