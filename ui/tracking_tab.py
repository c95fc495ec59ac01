"""Tracking tab: "Track the ..." -> Molmo2's tracks -> SAM 2 masks per id (progress per frame, a Stop button) ->
the player with masks and id-coloured dots, lanes and trajectories, and the Molmo2-vs-SAM 2 count badge."""

from __future__ import annotations

import gradio as gr

from pipeline import Answer, Loaded, Partial, Progress, Task
from ui.answering import Failed, run_events
from ui.backend import Backend, gpu, gpu_seconds
from ui.examples import TRACKING_EXAMPLES, official_buttons
from ui.results import answer_updates, failed_updates, results_panel, status_line, streaming_updates
from ui.settings import SettingsPanel
from ui.video_view import count_badge, evidence, plan_html, player_update
from visualization.charts import lanes_chart, trajectory_chart
from visualization.player import video_player


def tracking_tab(backend: Backend, panel: SettingsPanel) -> list[gr.Button]:
    with gr.Tab("Tracking", id="tracking", elem_id="tab-tracking"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                video = gr.Video(label="Video", sources=["upload"], height=300, elem_id="tracking-input")
                plan = gr.HTML(plan_html(None, 128, 2))
                with gr.Row():
                    question = gr.Textbox(value="Track the ", show_label=False, scale=4, elem_id="tracking-question",
                                          placeholder="e.g. “Track the player who is dunking.”")  # fmt: skip
                    ask = gr.Button("Track", variant="primary", scale=1, elem_id="tracking-ask")
                    stop = gr.Button("Stop", scale=1)
                progress = gr.HTML("", elem_id="tracking-progress")
            with gr.Column(scale=3):
                player = video_player(elem_id="tracking-player", elem_classes=["tracking-player"])
                badge = gr.HTML("", elem_id="tracking-badge")
        with gr.Row():
            lanes = gr.Plot(label="Track lanes")
            trajectories = gr.Plot(label="Trajectories")
        gr.Examples(TRACKING_EXAMPLES, [video, question], label="Examples")
        with gr.Row():
            official = official_buttons("tracking", video, question)
        results = results_panel()

    @gpu(duration=lambda data, request=None: gpu_seconds("tracking", panel.read(data, masks=True)))
    def answer(data: dict, request: gr.Request):
        path, text = data[video], data[question]

        def task():
            return Task("tracking", (path,) if path else (), text, settings=panel.read(data, masks=True))

        info = times = None
        skips = [gr.skip()] * 5
        for event in run_events(backend, task, request):
            if isinstance(event, Loaded):
                info, times = event.video, event.frame_times
            elif isinstance(event, Progress):
                bar = _bar(event) if event.stage == "masks" else status_line(event.message)
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), bar, status_line(event.message), *skips
            elif isinstance(event, Partial):
                value = player_update(path, event.grounding, info, times) if event.points else gr.skip()
                yield (
                    value,
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                    *streaming_updates(event.text, "Molmo2 is tracking…"),
                )
            elif isinstance(event, Failed):
                yield *[gr.skip()] * 5, *failed_updates(event.message)
            elif isinstance(event, Answer):
                times = event.frame_times_in_video
                coco = event.masks.to_coco() if event.masks is not None else None
                value = player_update(path, event.display, event.video, times, masks=coco,
                                      mask_video=event.annotated_video, strip=event.film_strip)  # fmt: skip
                marks = evidence(event.display, times)
                size = (event.video.width, event.video.height)
                yield (value, count_badge(event), lanes_chart(marks, event.video.duration, size),
                       trajectory_chart(marks, size), "", *answer_updates(event))  # fmt: skip

    outputs = [player, badge, lanes, trajectories, progress, *results.outputs()]
    inputs = {video, question, *panel.inputs()}
    run = gr.on([ask.click, question.submit], answer, inputs, outputs, concurrency_id="gpu", api_visibility="private")
    stop.click(backend.stop, None, None, cancels=[run], queue=False, api_visibility="private")
    gr.on([video.change, panel.max_frames.change, panel.max_fps.change], plan_html,
          [video, panel.max_frames, panel.max_fps], plan, api_visibility="private")  # fmt: skip
    return official


def _bar(event: Progress) -> str:
    share = 100 * event.done / max(event.total, 1)
    return (
        f'<div class="progress"><div class="progress-fill" style="width:{share:.0f}%"></div>'
        f'<span class="progress-text">{event.message}</span></div>'
    )
