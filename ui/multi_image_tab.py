"""Multi-image tab: 2 to 8 images answered together ("Image k" indexing); one overlay per image with its own count,
and the total."""

from __future__ import annotations

import html

import gradio as gr

from pipeline import Answer, Loaded, Partial, Progress, Task
from ui.answering import Drafts, Failed, chat_messages, run_events
from ui.backend import Backend, gpu, gpu_seconds
from ui.examples import MULTI_IMAGE_EXAMPLES
from ui.results import answer_updates, failed_updates, results_panel, status_line, streaming_updates
from ui.settings import SettingsPanel
from visualization import marks
from visualization.overlay import legend_html, overlay_images
from visualization.picture import picture_value, picture_view

EMPTY = "The answer is drawn on each image here, with its own count (hover over or tap a marker for its coordinates)."


def multi_image_tab(backend: Backend, panel: SettingsPanel) -> None:
    with gr.Tab("Multi-image", id="multi_image", elem_id="tab-multi_image"):
        history = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                files = gr.File(
                    label="Images (2 to 8)",
                    file_count="multiple",
                    file_types=["image"],
                    height=160,
                    elem_id="multi-files",
                )
                preview = gr.Gallery(
                    object_fit="contain", label="Your images", columns=4, height=220, interactive=False
                )
            with gr.Column(scale=2):
                drawn_view = picture_view(picture_value([], empty=EMPTY), elem_id="multi-overlays")
                total = gr.HTML("", elem_id="multi-total")
        chat = gr.Chatbot(label="Conversation", height=220)
        with gr.Row():
            hint = "e.g. “Count the boats in all images.” or “Point to the cats in image_1, image_3.”"
            question = gr.Textbox(placeholder=hint, show_label=False, scale=5, elem_id="multi-question")
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="multi-ask")
            stop = gr.Button("Stop", scale=1)
        gr.Examples(MULTI_IMAGE_EXAMPLES, [files, question], label="Examples")
        results = results_panel()

    @gpu(duration=lambda data, request=None: gpu_seconds("multi_image", panel.read(data)))
    def answer(data: dict, request: gr.Request):
        paths, text, turns = [str(p) for p in data[files] or []], data[question], data[history]

        def task():
            return Task("multi_image", tuple(paths), text, history=tuple(map(tuple, turns)), settings=panel.read(data))

        chat_now = [*chat_messages(turns), {"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        pictures, drafts, drawn_points = [], Drafts(backend), 0
        skips = [gr.skip()] * 5
        for event in run_events(backend, task, request):
            if isinstance(event, Loaded):
                pictures = list(event.images)
            elif isinstance(event, Progress):
                yield chat_now, gr.skip(), gr.skip(), gr.skip(), gr.skip(), status_line(event.message), *skips
            elif isinstance(event, Partial):
                chat_now[-1]["content"] = event.grounding.text or event.text
                fresh = event.points > drawn_points  # redraw only when new points arrived (partials come every 0.15 s)
                drawn_points = event.points
                drawn = _drafts(drafts, pictures, event.grounding) if fresh else gr.skip()
                yield chat_now, drawn, gr.skip(), gr.skip(), gr.skip(), *streaming_updates(event.text, "Answering…")
            elif isinstance(event, Failed):  # the conversation stays as it was before this question
                yield chat_messages(turns), *[gr.skip()] * 4, *failed_updates(event.message)
            elif isinstance(event, Answer):
                drafts.clear()
                chat_now[-1]["content"] = event.grounding.text or event.text
                shown = picture_value(event.overlays, event.display, captions=True)
                yield (chat_now, shown, _total(event, shown), [*turns, [text, event.text]], "",
                       *answer_updates(event))  # fmt: skip

    outputs = [chat, drawn_view, total, history, question, *results.outputs()]
    inputs = {files, question, history, *panel.inputs()}
    run = gr.on([ask.click, question.submit], answer, inputs, outputs, concurrency_id="gpu", api_visibility="private")
    stop.click(backend.stop, None, None, cancels=[run], queue=False, api_visibility="private")

    def uploaded(paths):
        return [str(p) for p in paths or []], [], [], picture_value([], empty=EMPTY), ""

    files.change(uploaded, files, [preview, history, chat, drawn_view, total], queue=False, api_visibility="private")


def _drafts(drafts: Drafts, pictures, grounding) -> dict:
    drawn = [drafts.save(o.image) for o in overlay_images(pictures, grounding)]
    return picture_value(drawn, grounding, captions=True)


def _total(answer, shown: dict) -> str:
    counts = [len({p["id"] for p in picture["points"]}) for picture in shown["pictures"]]
    per_image = " + ".join(map(str, counts))
    stated = answer.grounding.stated_count
    said = f" · the answer states {stated}" if stated is not None and stated != sum(counts) else ""
    legend = legend_html(marks.legend([p for points in marks.image_points(answer.display).values() for p in points]))
    return (f'<div class="count-total">Total: <b>{sum(counts)}</b> ({html.escape(per_image)})'
            f"{html.escape(said)}</div>{legend}")  # fmt: skip
