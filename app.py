"""Molmo2 grounding demo: start the web app (default) or answer one request headless.

    python app.py [--model REPO_ID_OR_DIR] [--device auto|cpu|cuda] [--dtype auto|float32|bfloat16|float16]
                  [--sam2 SIZE_REPO_OR_FILE] [--host HOST] [--port PORT] [--share]
    python app.py ask --model ... (--image P [--image P ...] | --video P) --prompt "..." [--sam2 SIZE] --out DIR
    python app.py rate (prepare SESSION.json | leaderboard SESSION_ID | export FILE | backup FILE)

Every serving option can also be set through an environment variable (MOLMO2_MODEL, MOLMO2_DEVICE, MOLMO2_DTYPE,
MOLMO2_SAM2, MOLMO2_HOST, MOLMO2_PORT, MOLMO2_SHARE); a command-line flag wins over the variable.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from inference.checkpoint import DEFAULT_MODEL, TINY_RANDOM

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Settings:
    model: str
    device: str  # resolved: "cpu" or "cuda"
    dtype: str  # resolved: "float32", "bfloat16" or "float16"
    sam2: str  # SAM 2.1 size, repo id or .pt file; "tiny-random" for random weights
    host: str
    port: int
    share: bool


def _model_options(parser: argparse.ArgumentParser, env: dict[str, str]) -> None:
    parser.add_argument("--model", default=env.get("MOLMO2_MODEL", DEFAULT_MODEL),
                        help="hub repo id, checkpoint directory or 'tiny-random' (env MOLMO2_MODEL)")  # fmt: skip
    parser.add_argument("--device", choices=DEVICES, default=env.get("MOLMO2_DEVICE", "auto"),
                        help="where the models run (env MOLMO2_DEVICE)")  # fmt: skip
    parser.add_argument("--dtype", choices=DTYPES, default=env.get("MOLMO2_DTYPE", "auto"),
                        help="weights dtype; auto = bfloat16 on cuda, float32 on cpu (env MOLMO2_DTYPE)")  # fmt: skip
    parser.add_argument("--sam2", default=env.get("MOLMO2_SAM2"),
                        help="SAM 2.1 size (tiny, small, base+, large), repo id or .pt file; default small, "
                             "random weights with --model tiny-random (env MOLMO2_SAM2)")  # fmt: skip


def _resolve(args) -> tuple[str, str, str]:
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if device == "cuda" else "float32")
    sam2 = args.sam2 or (TINY_RANDOM if args.model == TINY_RANDOM else "small")
    return device, dtype, sam2


def parse_settings(argv: list[str] | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    parser = argparse.ArgumentParser(description="Molmo2 grounding demo (web app); see also `app.py ask -h`.")
    _model_options(parser, env)
    parser.add_argument("--host", default=env.get("MOLMO2_HOST", env.get("GRADIO_SERVER_NAME", "127.0.0.1")),
                        help="address to listen on (env MOLMO2_HOST)")  # fmt: skip
    parser.add_argument("--port", type=int, default=int(env.get("MOLMO2_PORT", env.get("GRADIO_SERVER_PORT", 7860))),
                        help="port to listen on (env MOLMO2_PORT)")  # fmt: skip
    parser.add_argument("--share", action="store_true", default=env.get("MOLMO2_SHARE", "0") in ("1", "true"),
                        help="create a public gradio.live link (env MOLMO2_SHARE=1)")  # fmt: skip
    args = parser.parse_args(argv)
    device, dtype, sam2 = _resolve(args)
    return Settings(args.model, device, dtype, sam2, args.host, args.port, args.share)


def load_model(name: str, device: str, dtype: str, revision: str | None = None):
    """The Molmo2 engine for `name` (hub id, directory or tiny-random), weights on `device` in `dtype`."""
    from inference.engine import Molmo2Engine

    return Molmo2Engine.load(name, device=device, dtype=dtype, revision=revision)


def blocked_paths(extra: list[Path]) -> list[str]:
    """Home is off limits for files a handler could return, except the folders this app runs from."""
    home, here = Path.home().resolve(), Path.cwd().resolve()
    if here == home or home not in here.parents:
        blocked = [home] if home != here else []
    else:  # the app lives inside home: block every entry of home but the one leading to the app
        top = home / here.relative_to(home).parts[0]
        blocked = [p for p in home.iterdir() if p != top]
    return [str(p) for p in [*blocked, *extra]]


def limit_malloc_arenas(env: dict[str, str] | None = None) -> bool:
    """Cap glibc's heap arenas at MALLOC_ARENA_MAX (default 2) before any thread starts. glibc gives threads that
    allocate their own arena, up to 8 per core, and Gradio's worker threads then fragment memory: under
    bench/load.py the server grew from 415 to ~700 MB in 3 minutes and kept growing; with 2 arenas it levelled off
    near 500 MB. Returns whether the cap was applied (False off glibc)."""
    import ctypes

    env = os.environ if env is None else env
    try:
        arenas = int(env.get("MALLOC_ARENA_MAX", 2))
        if arenas < 1:  # glibc accepts and ignores these
            return False
        libc = ctypes.CDLL("libc.so.6")
        return libc.mallopt(-8, arenas) == 1  # -8 is M_ARENA_MAX in malloc.h
    except (OSError, AttributeError, ValueError):
        return False


def serve(settings: Settings) -> None:
    limit_malloc_arenas()  # first: before imports and threads
    from ui import CSS, build_demo
    from ui.backend import Backend
    from ui.examples import prefetch_official
    from ui.model_slot import ModelSlot

    slot = ModelSlot(settings.model, settings.device, settings.dtype, load_model).start()
    backend = Backend.create(slot, settings.sam2, settings.device)
    prefetch_official()
    store = ratings_store(backend.private_dir)
    demo = build_demo(slot, backend, store)
    signal.signal(signal.SIGTERM, _interrupt)  # docker stop, CI, systemd: close like Ctrl-C
    queue_size = int(os.environ.get("MOLMO2_QUEUE_SIZE", 16))
    demo.queue(max_size=queue_size, default_concurrency_limit=1)
    try:
        demo.launch(
            server_name=settings.host,
            server_port=settings.port,
            share=settings.share,
            show_error=False,
            max_file_size=os.environ.get("MOLMO2_MAX_UPLOAD", "200mb"),
            strict_cors=True,
            enable_monitoring=False,
            blocked_paths=blocked_paths([*store.files(), backend.private_dir / "ratings.salt"]),
            css=CSS,
        )
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    print("server stopped", flush=True)


def ratings_store(cache_dir: Path):
    """The rating sessions' database (MOLMO2_RATINGS_DB, default a SQLite file in the app's cache folder)."""
    import inference
    from ratings import open_store

    cache_dir.mkdir(parents=True, exist_ok=True)
    return open_store(inference.__version__, cache_dir)


def rate(argv: list[str]) -> None:
    """`python app.py rate`: prepare a rating session's battles, print its leaderboard, export votes, back up."""
    from ratings import leaderboards, load_session, prepare_battles

    parser = argparse.ArgumentParser(prog="app.py rate", description="Run blind rating sessions (README).")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="store a session and compute its answers ahead of time")
    prepare.add_argument("session", type=Path, help="the session's JSON file")
    prepare.add_argument("--pairs-per-input", type=int)
    prepare.add_argument("--device", choices=DEVICES, default="auto")
    prepare.add_argument("--dtype", choices=DTYPES, default="auto")
    board = commands.add_parser("leaderboard", help="print a session's leaderboard")
    board.add_argument("session_id")
    export = commands.add_parser("export", help="write all votes (of one session) as .jsonl or .csv")
    export.add_argument("out", type=Path)
    export.add_argument("--session-id")
    backup = commands.add_parser("backup", help="copy the database with SQLite's online backup API")
    backup.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    cache = Path(os.environ.get("MOLMO2_CACHE") or Path.home() / ".cache" / "molmo2-demo")
    store = ratings_store(cache)
    if args.command == "prepare":
        from pipeline.rating import SystemAnswers

        args.model, args.sam2 = "", None
        device, dtype, _ = _resolve(args)
        session = load_session(args.session)
        store.create_session(session)
        engines: dict = {}

        def engine_for(model: str, revision: str | None):
            if (model, revision) not in engines:
                engines.clear()  # one model in memory at a time
                engines[(model, revision)] = load_model(model, device, dtype, revision)
            return engines[(model, revision)]

        # Next to the session's media: served like them (the app's own cache folder is never served).
        work = Path(session.data_dir).parent / "answers"
        answers = SystemAnswers(session, work, engine_for, _tracker_loader("small", device))
        print(f"{prepare_battles(store, session, answers, pairs_per_input=args.pairs_per_input)} battles prepared")
    elif args.command == "leaderboard":
        session = store.session(args.session_id)
        for task, board_ in leaderboards(
            store.comparisons(session.id), {s.id: s.name for s in session.systems}
        ).items():
            print(f"== {task}: {board_.n_votes} votes")
            for s in board_.standings:
                print(f"  {s.name:24} {s.score:7.0f}  [{s.ci_low:.0f}, {s.ci_high:.0f}]  {s.votes} votes")
    elif args.command == "export":
        with args.out.open("w", newline="") as out:
            fmt = "csv" if args.out.suffix == ".csv" else "jsonl"
            print(f"{store.write_votes(out, fmt, session_id=args.session_id)} votes written to {args.out}")
    else:
        print(f"backup written to {store.backup(args.out)}")


def ask(argv: list[str], env: dict[str, str] | None = None) -> dict:
    """`python app.py ask`: the web app's pipeline for one request, writing the same export bundle to --out."""
    from pipeline import Answer, Progress, Task, run
    from pipeline import Settings as TaskSettings
    from pipeline.bundle import summary

    env = dict(os.environ if env is None else env)
    parser = argparse.ArgumentParser(prog="app.py ask", description="Answer one request and write its export bundle.")
    _model_options(parser, env)
    media = parser.add_mutually_exclusive_group(required=True)
    media.add_argument("--image", action="append", help="an image (repeat for 2-8 images)")
    media.add_argument("--video", help="a video")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--track", action="store_true", help="video: the tracking task (SAM 2 masks per id)")
    parser.add_argument("--masks", action="store_true", help="images or video: add SAM 2 masks for the points")
    parser.add_argument("--out", required=True, type=Path, help="folder for the export bundle")
    parser.add_argument("--max-new-tokens", type=int, default=0)
    parser.add_argument("--max-crops", type=int, default=8)
    parser.add_argument("--max-frames", type=int, default=128)
    parser.add_argument("--max-fps", type=float, default=2.0)
    parser.add_argument("--sample", action="store_true", help="sample (temperature, top-p) instead of greedy")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    device, dtype, sam2 = _resolve(args)
    if args.video:
        kind, files = ("tracking" if args.track else "video"), (args.video,)
    else:
        kind, files = ("image" if len(args.image) == 1 else "multi_image"), tuple(args.image)
    wants_masks = args.masks or args.track or bool(args.sam2)
    options = TaskSettings(
        max_new_tokens=args.max_new_tokens or None, sampling=args.sample, temperature=args.temperature,
        top_p=args.top_p, seed=args.seed, max_crops=args.max_crops, max_frames=args.max_frames,
        max_fps=args.max_fps, sam2=_sam2_size(sam2) if wants_masks else "off",
    )  # fmt: skip
    task = Task(kind, files, args.prompt, settings=options)
    engine = load_model(args.model, device, dtype)
    tracker = _tracker_loader(sam2, device)
    model = {"name": args.model, "revision": engine.checkpoint.revision, "random_weights": engine.random_weights,
             "device": device, "dtype": dtype, "sam2": sam2}  # fmt: skip
    answer = None
    for event in run(task, engine, args.out, tracker=tracker, model_info=model):
        if isinstance(event, Progress):
            print(f"[{event.stage}] {event.message}", file=sys.stderr, flush=True)
        answer = event
    assert isinstance(answer, Answer)
    result = summary(answer)
    print(json.dumps(result, indent=2))
    return result


def _sam2_size(name: str) -> str:
    return name if name in ("tiny", "small", "base+", "large") else "small"


def _tracker_loader(name: str, device: str):
    def load():
        from inference.segment import Sam2Tracker

        if name == TINY_RANDOM:
            return Sam2Tracker.load("tiny", random_weights=True, image_size=256, device=device)
        return Sam2Tracker.load(name, device=device)

    return load


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["rate"]:
        from ratings import RatingsError

        try:
            rate(argv[1:])
        except RatingsError as err:
            sys.exit(f"error: {err}")
        return
    if argv[:1] == ["ask"]:
        from inference.media import MediaError
        from pipeline.task import TaskError

        try:
            ask(argv[1:])
        except (MediaError, TaskError, ValueError) as err:
            sys.exit(f"error: {err}")
        return
    serve(parse_settings(argv))


if __name__ == "__main__":
    main()
