"""Video tab: questions and counting about a clip; timestamped points over the playing original video with the
evidence timeline, a count-over-time chart, and fast follow-up questions (the clip's prefix is reused)."""

from __future__ import annotations

import time

import gradio as gr

from pipeline import Answer, Loaded, Partial, Progress, Task
from ui.answering import Failed, chat_messages, run_events
from ui.backend import Backend, gpu, gpu_seconds
from ui.examples import VIDEO_EXAMPLES, official_buttons
from ui.results import answer_updates, failed_updates, results_panel, status_line, streaming_updates
from ui.settings import SettingsPanel
from ui.video_view import evidence, plan_html, player_update
from visualization.charts import count_chart
from visualization.player import video_player

PLAYER_EVERY = 0.5  # seconds between player rebuilds while points stream in


def video_tab(backend: Backend, panel: SettingsPanel) -> list[gr.Button]:
    with gr.Tab("Video", id="video", elem_id="tab-video"):
        history = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                video = gr.Video(label="Video", sources=["upload"], height=300, elem_id="video-input")
                plan = gr.HTML(plan_html(None, 128, 2), elem_id="video-plan")
            with gr.Column(scale=3):
                player = video_player(elem_id="video-player", elem_classes=["video-player"])
        chart = gr.Plot(label="Count over time", visible=True)
        chat = gr.Chatbot(label="Conversation", height=220)
        with gr.Row():
            question = gr.Textbox(placeholder="e.g. “How many red balls appear?” or “Point to the penguins.”",
                                  show_label=False, scale=5, elem_id="video-question")  # fmt: skip
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="video-ask")
            stop = gr.Button("Stop", scale=1)
        gr.Examples(VIDEO_EXAMPLES, [video, question], label="Examples")
        with gr.Row():
            official = official_buttons("video", video, question)
        results = results_panel()

    @gpu(duration=lambda data, request=None: gpu_seconds("video", panel.read(data)))
    def answer(data: dict, request: gr.Request):
        path, text, turns = data[video], data[question], data[history]

        def task():
            turns_before = tuple(map(tuple, turns))
            return Task("video", (path,) if path else (), text, history=turns_before, settings=panel.read(data))

        chat_now = [*chat_messages(turns), {"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        info = times = None
        shown = 0.0
        skips = [gr.skip()] * 5
        for event in run_events(backend, task, request):
            if isinstance(event, Loaded):
                info, times = event.video, event.frame_times
            elif isinstance(event, Progress):
                yield chat_now, gr.skip(), gr.skip(), gr.skip(), gr.skip(), status_line(event.message), *skips
            elif isinstance(event, Partial):
                chat_now[-1]["content"] = event.grounding.text or event.text
                redraw = event.points and time.monotonic() - shown > PLAYER_EVERY
                shown = time.monotonic() if redraw else shown
                value = player_update(path, event.grounding, info, times) if redraw else gr.skip()
                yield chat_now, value, gr.skip(), gr.skip(), gr.skip(), *streaming_updates(event.text, "Answering…")
            elif isinstance(event, Failed):  # the conversation stays as it was before this question
                yield chat_messages(turns), *[gr.skip()] * 4, *failed_updates(event.message)
            elif isinstance(event, Answer):
                chat_now[-1]["content"] = event.grounding.text or event.text
                times = event.frame_times_in_video
                value = player_update(path, event.display, event.video, times, mask_video=event.annotated_video,
                                      strip=event.film_strip)  # fmt: skip
                figure = count_chart(evidence(event.display, times), event.video.duration,
                                     size=(event.video.width, event.video.height))  # fmt: skip
                yield chat_now, value, figure, [*turns, [text, event.text]], "", *answer_updates(event)

    outputs = [chat, player, chart, history, question, *results.outputs()]
    inputs = {video, question, history, *panel.inputs()}
    run = gr.on([ask.click, question.submit], answer, inputs, outputs, concurrency_id="gpu", api_visibility="private")
    stop.click(backend.stop, None, None, cancels=[run], queue=False, api_visibility="private")
    gr.on([video.change, panel.max_frames.change, panel.max_fps.change], plan_html,
          [video, panel.max_frames, panel.max_fps], plan, api_visibility="private")  # fmt: skip
    video.change(lambda: ([], [], None, None), None, [history, chat, player, chart], queue=False,
                 api_visibility="private")  # fmt: skip
    return official
