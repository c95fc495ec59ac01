"""Named API endpoints, one per task, for gradio_client: media + prompt + settings in, structured JSON and the
export files out. They run the same pipeline as the tabs, in the same GPU queue.

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    result, files = client.predict(handle_file("photo.jpg"), "Point to the boats.", {"max_crops": 24},
                                   api_name="/image")
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import gradio as gr

from pipeline import Answer, Settings, Task
from pipeline.bundle import summary
from pipeline.task import TaskError
from ui.answering import run_events
from ui.backend import Backend, gpu, gpu_seconds

SETTING_NAMES = {f.name for f in fields(Settings)}


def api_endpoints(backend: Backend) -> None:
    with gr.Column(visible=False):
        prompt, options = gr.Textbox(label="prompt"), gr.JSON(label="settings")
        result, files = gr.JSON(label="result"), gr.File(label="files", file_count="multiple")
        image = gr.File(label="image", file_types=["image"])
        images = gr.File(label="images", file_count="multiple", file_types=["image"])
        video = gr.File(label="video", file_types=["video"])
        buttons = {name: gr.Button(name) for name in ("image", "multi_image", "video", "tracking")}

    def endpoint(kind: str):
        def seconds(media, text, settings_json, request=None) -> int:
            try:
                return gpu_seconds(kind, parse_settings(settings_json, kind))
            except TaskError:
                return 60  # the call itself reports the bad settings

        @gpu(duration=seconds)
        def call(media, text, settings_json, request: gr.Request):
            def task():
                paths = [str(m) for m in media] if isinstance(media, list) else ([str(media)] if media else [])
                return Task(kind, tuple(paths), text or "", settings=parse_settings(settings_json, kind))

            answer = None
            for event in run_events(backend, task, request, raise_errors=True):
                answer = event
            assert isinstance(answer, Answer)
            return summary(answer), [str(answer.files["bundle"]), *(str(p) for k, p in answer.files.items()
                                                                        if k != "bundle")]  # fmt: skip

        return call

    for kind, media in (("image", image), ("multi_image", images), ("video", video), ("tracking", video)):
        buttons[kind].click(endpoint(kind), [media, prompt, options], [result, files], api_name=kind,
                            concurrency_id="gpu")  # fmt: skip


def parse_settings(raw: Any, kind: str) -> Settings:
    """Settings from the API's JSON object; unknown names and wrong types are the caller's error."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise TaskError("settings must be a JSON object")
    unknown = set(raw) - SETTING_NAMES
    if unknown:
        raise TaskError(f"unknown settings {sorted(unknown)}; known: {sorted(SETTING_NAMES)}")
    if kind == "tracking" and raw.get("sam2", "small") == "off":
        raise TaskError("tracking always uses SAM 2; choose a size: tiny, small, base+ or large")
    try:
        return Settings(**{"sam2": "small" if kind == "tracking" else "off", **raw})
    except TypeError as err:
        raise TaskError(f"bad settings: {err}") from err
