"""Prefill latency and decode speed: our engine vs transformers 5.23 on the same random weights and inputs.

    .venv/bin/python bench/engine.py [--size small|tiny] [--repeats 3] [--new-tokens 64]
    .venv/bin/python bench/engine.py --gpu   # full 4B shape, bf16, 128-frame video prompt (needs CUDA)

CPU cases: an image prompt and a 16-frame video prompt. Prefill = vision encoder + connector + prompt forward
(preprocessing excluded on both sides); decode = tokens/s over the new tokens after the first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from inference.engine import Molmo2Engine  # noqa: E402
from inference.request import Request  # noqa: E402
from inference.tiny import write_checkpoint  # noqa: E402


def cases():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
    video = rng.integers(0, 256, (16, 360, 640, 3), dtype=np.uint8)
    times = [0.5 * k for k in range(16)]
    return {
        "image 640x480": ([_user({"type": "image", "image": image}, "Describe this image.")], None),
        "video 16 frames": (
            [_user({"type": "video", "video": video, "timestamps": times}, "What happens?")],
            (video, times),
        ),
    }


def _user(*parts):
    return {"role": "user", "content": [p if isinstance(p, dict) else {"type": "text", "text": p} for p in parts]}


class _Clock:
    """A transformers streamer that records when each new token arrives."""

    def __init__(self):
        self.times: list[float] = []

    def put(self, value):
        self.times.append(time.perf_counter())

    def end(self):
        pass


def bench_cpu(size: str, repeats: int, new_tokens: int) -> None:
    from reference import load_reference, reference_inputs

    with tempfile.TemporaryDirectory() as tmp:
        path = write_checkpoint(Path(tmp) / size, variant="qwen3", size=size, seed=0)
        ours = Molmo2Engine.load(path)
        model, processor = load_reference(path)
        params = sum(p.numel() for p in ours.model.parameters())
        print(f"checkpoint: {size} ({params / 1e6:.0f} M parameters, float32), torch threads {torch.get_num_threads()}")
        floor = _decode_floor(ours)
        print(f"decode floor: one matrix-vector product per decode weight takes {floor * 1e3:.1f} ms/token here "
              f"({1 / floor:.1f} tok/s): no float32 decoder reads its weights faster")  # fmt: skip
        print(f"{'case':18} {'':9} {'prefill ms':>11} {'decode tok/s':>13}")
        for name, (messages, video) in cases().items():
            request = Request(messages=messages, max_new_tokens=new_tokens)
            inputs = reference_inputs(processor, messages, video=video)
            ref_prefill, ref_decode, our_prefill, our_decode = [], [], [], []
            for _ in range(repeats):
                with torch.no_grad():
                    start = time.perf_counter()
                    model(**inputs)
                    ref_prefill.append(time.perf_counter() - start)
                    clock = _Clock()
                    model.generate(
                        **inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, streamer=clock
                    )
                # clock.times[0] is the prompt; [1] the first new token (after prefill).
                ref_decode.append((len(clock.times) - 2) / (clock.times[-1] - clock.times[1]))
                ours.prefixes.entries.clear()
                result = _generate_exactly(ours, request, new_tokens)
                our_prefill.append(result.timings["vision"] + result.timings["prefill"])
                our_decode.append((len(result.token_ids) - 1) / result.timings["decode"])
            rp, op = statistics.median(ref_prefill) * 1e3, statistics.median(our_prefill) * 1e3
            rd, od = statistics.median(ref_decode), statistics.median(our_decode)
            print(f"{name:18} {'reference':9} {rp:11.1f} {rd:13.1f}")
            print(f"{'':18} {'ours':9} {op:11.1f} {od:13.1f}")
            print(f"{'':18} {'ratio':9} {rp / op:10.2f}x {od / rd:12.2f}x   (prefill: ref/ours, decode: ours/ref)")
            print(f"{'':18} {'of floor':9} {'':11} {'':4}ref {rd * floor:.0%}, ours {od * floor:.0%}")


def _decode_floor(engine: Molmo2Engine, repeats: int = 20) -> float:
    """Seconds for one matrix-vector product with every weight matrix a decode step reads (decoder + lm_head):
    the memory-bandwidth limit of float32 decoding on this machine."""
    decoder = ("text.blocks", "lm_head")
    weights = [p for n, p in engine.model.named_parameters() if p.dim() == 2 and n.startswith(decoder)]
    inputs = [torch.randn(1, w.shape[1]) for w in weights]

    def once():
        for w, x in zip(weights, inputs):
            torch.nn.functional.linear(x, w)

    once()
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - start) / repeats


def _generate_exactly(engine: Molmo2Engine, request: Request, new_tokens: int):
    """Generate exactly `new_tokens` tokens: end-of-turn is ignored, as min_new_tokens does for the reference."""
    eos = engine.eos_ids
    engine.eos_ids = set()
    try:
        return engine.generate(request)
    finally:
        engine.eos_ids = eos


def bench_gpu(new_tokens: int, frames: int) -> None:
    """Full Molmo2-4B shape with random bf16 weights on CUDA: TTFT, decode tok/s vs the bandwidth limit, reuse."""
    from inference.engine import PrefixCache
    from inference.model import build
    from inference.tiny import _config

    with tempfile.TemporaryDirectory() as tmp:
        path = write_checkpoint(Path(tmp) / "tiny", size="tiny")  # tokenizer and processor files only
        engine = Molmo2Engine.load(path, device="cuda", dtype=torch.bfloat16)
    from inference.config import Molmo2Config

    # The real vocabulary size (lm_head cost), with the tiny tokenizer's <im_patch> id for the visual slots.
    cfg = Molmo2Config.from_dict(_config(_four_b_spec(), "qwen3"))
    cfg = replace(cfg, image_patch_id=engine.model.cfg.image_patch_id)
    model = build(cfg, "cuda", torch.bfloat16)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    engine.model = model
    engine.prefixes = PrefixCache(16 * 2**30)
    weight_bytes = sum(p.numel() * p.element_size() for n, p in model.named_parameters() if not n.startswith("vision"))
    x = torch.empty(2**30, dtype=torch.uint8, device="cuda")
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(10):
        x.clone()
    torch.cuda.synchronize()
    bandwidth = 2 * 10 * x.numel() / (time.perf_counter() - start)  # read + write per clone
    video = np.random.default_rng(0).integers(0, 256, (frames, 360, 640, 3), dtype=np.uint8)
    times = [0.5 * k for k in range(frames)]
    first = Request(messages=[_user({"type": "video", "video": video, "timestamps": times}, "Count the people.")],
                    max_new_tokens=new_tokens)  # fmt: skip
    follow = Request(messages=[_user({"type": "video", "video": video, "timestamps": times}, "What color is the car?")],
                     max_new_tokens=new_tokens)  # fmt: skip
    _generate_exactly(engine, first, 4)  # warm-up
    engine.prefixes.entries.clear()
    cold = _generate_exactly(engine, first, new_tokens)
    warm = _generate_exactly(engine, follow, new_tokens)
    limit = bandwidth / weight_bytes
    print(f"4B shape, bf16, {frames}-frame video prompt: {cold.prompt_tokens} tokens")
    print(f"  copy bandwidth {bandwidth / 1e12:.2f} TB/s, decode weights {weight_bytes / 1e9:.2f} GB"
          f" -> limit {limit:.0f} tok/s")  # fmt: skip
    for label, r in (("first question", cold), ("follow-up (prefix reuse)", warm)):
        tps = (len(r.token_ids) - 1) / r.timings["decode"]
        ms = {k: r.timings[k] * 1e3 for k in ("time_to_first_token", "vision", "prefill")}
        print(f"  {label:26} TTFT {ms['time_to_first_token']:8.1f} ms  vision {ms['vision']:7.1f} ms"
              f"  prefill {ms['prefill']:7.1f} ms  decode {tps:6.1f} tok/s ({tps / limit:.0%} of limit)"
              f"  reused {r.reused_tokens}")  # fmt: skip


def _four_b_spec():
    from inference.tiny import TinySpec

    return TinySpec(
        vocab_size=151936, text_hidden=2560, text_layers=36, text_heads=32, text_kv_heads=8, text_head_dim=128,
        text_intermediate=9728, vit_hidden=1152, vit_heads=16, vit_intermediate=4304, vit_declared_layers=27,
        vit_layers=(-3, -9), num_shards=1,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=["tiny", "small"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--frames", type=int, default=128)
    args = parser.parse_args()
    if args.gpu:
        bench_gpu(args.new_tokens, args.frames)
    else:
        bench_cpu(args.size, args.repeats, args.new_tokens)


if __name__ == "__main__":
    main()
