"""pipeline/: tasks, the event stream of one answer, the export bundle and manifest, the `ask` command line."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from inference.engine import Molmo2Engine
from inference.grounding import parse
from media_fixtures import SceneObject, scene_frames, write_video
from pipeline import Answer, Loaded, Partial, Progress, Settings, Task, TaskError, run, video_plan
from pipeline.run import browser_playable, shift_keys

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets" / "examples" / "discs.png"


@pytest.fixture(scope="module")
def engine(tiny_qwen3):
    return Molmo2Engine.load(tiny_qwen3)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    ball = SceneObject(1, (220, 50, 47), 12, x0=20, y0=60, x1=140, y1=60)
    return write_video(tmp_path_factory.mktemp("clip") / "ball.mp4", scene_frames(160, 120, 10, 3.0, [ball]), 10)


def test_task_checks_what_the_user_must_fix():
    with pytest.raises(TaskError, match="Type a question"):
        Task("image", ("a.png",), "  ")
    with pytest.raises(TaskError, match="2 to 8 images"):
        Task("multi_image", ("a.png",), "Count the cats.")
    with pytest.raises(TaskError, match="a video"):
        Task("tracking", (), "Track the dog.")


def test_request_puts_media_first_and_keeps_earlier_turns():
    task = Task("image", ("a.png",), "And now?", history=(("Point to the cat.", "<points>...</points>"),))
    request = task.request()
    roles = [m["role"] for m in request.messages]
    assert roles == ["user", "assistant", "user"]
    assert request.messages[0]["content"][0] == {"type": "image", "image": "a.png"}
    assert request.messages[0]["content"][1]["text"] == "Point to the cat."
    assert request.max_new_tokens == 512 and request.temperature == 0.0
    sampled = Task("tracking", ("v.mp4",), "Track it.", settings=Settings(sampling=True)).request()
    assert (sampled.temperature, sampled.top_p, sampled.frequency_penalty, sampled.max_new_tokens) == (
        0.7,
        0.95,
        0.1,
        2048,
    )


def test_image_answer_events_and_bundle(engine, tmp_path):
    task = Task("image", (str(IMAGE),), "Point to the red discs.", settings=Settings(max_new_tokens=12))
    events = list(run(task, engine, tmp_path, model_info={"name": "tiny"}))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "Progress" and kinds[-1] == "Answer" and "Loaded" in kinds and "Partial" in kinds
    loaded = next(e for e in events if isinstance(e, Loaded))
    assert loaded.images[0].shape == (400, 640, 3)
    answer = events[-1]
    assert isinstance(answer, Answer) and answer.result.finish_reason == "length"
    expected = {"raw", "grounding", "csv", "overlay_1", "manifest", "bundle"}
    assert expected <= set(answer.files)
    with zipfile.ZipFile(answer.files["bundle"]) as bundle:
        assert {p.name for k, p in answer.files.items() if k != "bundle"} == set(bundle.namelist())
    manifest = json.loads(answer.files["manifest"].read_text())
    assert manifest["model"] == {"name": "tiny"} and manifest["task"] == "image"
    assert manifest["media"][0]["sha256"] and manifest["request"]["max_new_tokens"] == 12
    assert manifest["result"]["new_tokens"] == 12 and manifest["app"]["version"]
    # A follow-up about the same image reuses its keys and values.
    follow = Task("image", (str(IMAGE),), "And the blue ones?", history=(("Point to the red discs.", answer.text),),
                  settings=Settings(max_new_tokens=4))  # fmt: skip
    again = next(e for e in run(follow, engine, tmp_path / "2") if isinstance(e, Answer))
    assert again.result.reused_tokens > 700


def test_video_answer_layout_and_plan(engine, clip, tmp_path):
    plan = video_plan(str(clip), 128, 2.0, None, None)
    assert plan["frames"] == 7 and plan["info"].duration == pytest.approx(3.0, abs=0.11)
    task = Task("video", (str(clip),), "Where is the ball?", settings=Settings(max_new_tokens=6, clip_start=1.0))
    answer = next(e for e in run(task, engine, tmp_path) if isinstance(e, Answer))
    assert answer.clip_start == pytest.approx(1.0, abs=0.1)
    assert answer.layout.frame_times[0] == 0.0  # prompt times start at the clip start ...
    assert answer.frame_times_in_video[0] == pytest.approx(answer.clip_start)  # ... the player's are whole-video
    assert answer.annotated_video is None  # H.264 plays in browsers as it is: no re-encode without masks
    assert browser_playable(answer.video)
    strip = json.loads(answer.files["manifest"].read_text())["frames"]["strip"]  # the frames seen, exported
    assert answer.files["frames"].name == strip["file"] == "frames_seen.jpg"
    with Image.open(answer.files["frames"]) as row:
        assert row.size == (strip["frame_width"] * len(answer.layout.frame_times), strip["frame_height"])
    assert strip["columns"] == len(answer.layout.frame_times)  # one row
    assert answer.film_strip.times == answer.frame_times_in_video == pytest.approx(tuple(strip["times"]))


def test_shifted_keys_move_video_points_only():
    grounding = parse('<points coords="0.5 1 100 200;1.0 2 300 400">ball</points>')
    shifted = shift_keys(grounding, 2.0)
    assert [p.key for p in shifted.objects[0].points] == [2.5, 3.0]
    assert [p.x for p in shifted.objects[0].points] == [0.1, 0.3]


def test_cancel_ends_with_a_stopped_answer(engine, tmp_path):
    import threading

    stop = threading.Event()
    task = Task("image", (str(IMAGE),), "Talk.", settings=Settings(max_new_tokens=400))
    for event in run(task, engine, tmp_path, cancel=stop):
        if isinstance(event, Partial):
            stop.set()
        if isinstance(event, Answer):
            assert event.result.finish_reason == "cancelled" and len(event.result.token_ids) < 400
        elif isinstance(event, Progress):
            assert event.stage in ("media", "answer", "masks", "render", "export")


def test_ask_command_writes_the_bundle(tmp_path, clip):
    env = {"MOLMO2_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    out = tmp_path / "out"
    command = [sys.executable, "app.py", "ask", "--model", "tiny-random", "--image", str(IMAGE), "--prompt",
               "Point to the red discs.", "--max-new-tokens", "8", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["task"] == "image" and set(summary["files"]) >= {"bundle", "manifest", "grounding", "csv"}
    assert {p.name for p in out.iterdir()} >= {"answer.txt", "grounding.json", "points.csv", "manifest.json",
                                               "overlay_1.png", "molmo2_answer.zip"}  # fmt: skip
    bad = subprocess.run([*command[:5], "--image", str(ROOT / "README.md"), "--prompt", "x", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode != 0 and "error: not a supported image" in bad.stderr


def test_video_follow_up_reuses_the_clip(engine, clip, tmp_path):
    first = Task("video", (str(clip),), "Where is the ball?", settings=Settings(max_new_tokens=5))
    answer = next(e for e in run(first, engine, tmp_path / "1") if isinstance(e, Answer))
    follow = Task("video", (str(clip),), "And now?", history=(("Where is the ball?", answer.text),),
                  settings=Settings(max_new_tokens=5))  # fmt: skip
    again = next(e for e in run(follow, engine, tmp_path / "2") if isinstance(e, Answer))
    frames = len(answer.layout.frame_times)
    assert again.result.reused_tokens > 83 * frames  # every frame's visual tokens came from the cache
    assert again.timings["vision"] < answer.timings["vision"]
