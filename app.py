"""Molmo2 grounding demo: start the web app (default) or run one request headless.

    python app.py [--model REPO_ID_OR_DIR] [--device auto|cpu|cuda] [--dtype auto|float32|bfloat16|float16]
                  [--host HOST] [--port PORT] [--share]

Every option can also be set through an environment variable (MOLMO2_MODEL, MOLMO2_DEVICE, MOLMO2_DTYPE,
MOLMO2_HOST, MOLMO2_PORT, MOLMO2_SHARE); a command-line flag wins over the variable.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import dataclass

from inference.checkpoint import DEFAULT_MODEL

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Settings:
    model: str
    device: str  # resolved: "cpu" or "cuda"
    dtype: str  # resolved: "float32", "bfloat16" or "float16"
    host: str
    port: int
    share: bool


def parse_settings(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    parser = argparse.ArgumentParser(description="Molmo2 grounding demo (web app).")
    parser.add_argument("--model", default=env.get("MOLMO2_MODEL", DEFAULT_MODEL),
                        help="hub repo id, checkpoint directory or 'tiny-random' (env MOLMO2_MODEL)")  # fmt: skip
    parser.add_argument("--device", choices=DEVICES, default=env.get("MOLMO2_DEVICE", "auto"),
                        help="where the models run (env MOLMO2_DEVICE)")  # fmt: skip
    parser.add_argument("--dtype", choices=DTYPES, default=env.get("MOLMO2_DTYPE", "auto"),
                        help="weights dtype; auto = bfloat16 on cuda, float32 on cpu (env MOLMO2_DTYPE)")  # fmt: skip
    parser.add_argument("--host", default=env.get("MOLMO2_HOST", env.get("GRADIO_SERVER_NAME", "127.0.0.1")),
                        help="address to listen on (env MOLMO2_HOST)")  # fmt: skip
    parser.add_argument("--port", type=int, default=int(env.get("MOLMO2_PORT", env.get("GRADIO_SERVER_PORT", 7860))),
                        help="port to listen on (env MOLMO2_PORT)")  # fmt: skip
    parser.add_argument("--share", action="store_true", default=env.get("MOLMO2_SHARE", "0") in ("1", "true"),
                        help="create a public gradio.live link (env MOLMO2_SHARE=1)")  # fmt: skip
    args = parser.parse_args(argv)
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if device == "cuda" else "float32")
    return Settings(args.model, device, dtype, args.host, args.port, args.share)


def load_model(name: str, device: str, dtype: str):
    """The Molmo2 engine for `name` (hub id, directory or tiny-random), weights on `device` in `dtype`."""
    from inference.engine import Molmo2Engine

    return Molmo2Engine.load(name, device=device, dtype=dtype)


def serve(settings: Settings) -> None:
    from ui import CSS, build_demo
    from ui.model_slot import ModelSlot

    slot = ModelSlot(settings.model, settings.device, settings.dtype, load_model).start()
    demo = build_demo(slot)
    # SIGTERM (docker stop, CI, systemd) closes the server like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    demo.queue(max_size=32, default_concurrency_limit=1)
    try:
        demo.launch(
            server_name=settings.host,
            server_port=settings.port,
            share=settings.share,
            show_error=False,
            max_file_size="200mb",
            strict_cors=True,
            enable_monitoring=False,
            blocked_paths=[os.path.expanduser("~")],
            css=CSS,
        )
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    print("server stopped", flush=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    serve(parse_settings(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
