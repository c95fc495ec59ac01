"""Image tab: a multi-turn chat about one image; points and counts drawn on it while the answer streams, optional
SAM 2 masks, follow-up questions that reuse the image's cached prefix."""

from __future__ import annotations

import html

import gradio as gr

from inference.media import MediaError, load_image
from pipeline import Answer, Loaded, Partial, Progress, Task
from ui.answering import Drafts, Failed, chat_messages, run_events
from ui.backend import Backend, gpu, gpu_seconds
from ui.examples import IMAGE_EXAMPLES, official_buttons
from ui.results import answer_updates, failed_updates, results_panel, status_line, streaming_updates
from ui.settings import SettingsPanel
from visualization import marks
from visualization.overlay import legend_html, overlay_images
from visualization.picture import picture_value, picture_view

EMPTY = "Your image appears here; the answer is drawn on it (hover over or tap a marker for its coordinates)."
QUICK = ["Point to the ", "Count the ", "How many ", "Describe this image."]


def image_tab(backend: Backend, panel: SettingsPanel) -> list[gr.Button]:
    with gr.Tab("Image", id="image", elem_id="tab-image"):
        history = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                # A file input: our loader checks the upload and says what is wrong (gr.Image would fail silently).
                image = gr.File(label="Image (JPEG, PNG, WebP, GIF, BMP, TIFF)", file_types=["image"], height=140,
                                elem_id="image-input")  # fmt: skip
                masks = gr.Checkbox(value=False, label="SAM 2 masks for the pointed objects")
                upload_note = gr.HTML("", elem_id="image-upload-note")
            with gr.Column(scale=2):
                overlay = picture_view(picture_value([], empty=EMPTY), elem_id="image-overlay")
                legend = gr.HTML("")
        chat = gr.Chatbot(label="Conversation", height=260, elem_id="image-chat")
        with gr.Row():
            question = gr.Textbox(placeholder="Ask about the image, e.g. “Point to the red discs.”", show_label=False,
                                  scale=5, elem_id="image-question")  # fmt: skip
            ask = gr.Button("Ask", variant="primary", scale=1, elem_id="image-ask")
            stop = gr.Button("Stop", scale=1)
            new = gr.Button("New conversation", scale=1)
        gr.Examples(IMAGE_EXAMPLES, [image, question], label="Examples")
        with gr.Row():
            official = official_buttons("image", image, question)
        results = results_panel()

    @gpu(duration=lambda data, request=None: gpu_seconds("image", panel.read(data, masks=data[masks])))
    def answer(data: dict, request: gr.Request):
        image_path, text, turns = data[image], data[question], data[history]

        def task():
            return Task("image", (image_path,) if image_path else (), text, history=tuple(map(tuple, turns)),
                        settings=panel.read(data, masks=data[masks]))  # fmt: skip

        chat_now = [*chat_messages(turns), {"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        picture, drafts, drawn_points = None, Drafts(backend), 0
        for event in run_events(backend, task, request):
            if isinstance(event, Loaded):
                picture = event.images[0]
            elif isinstance(event, Progress):
                yield chat_now, gr.skip(), gr.skip(), gr.skip(), gr.skip(), status_line(event.message), *[gr.skip()] * 5
            elif isinstance(event, Partial):
                chat_now[-1]["content"] = event.grounding.text or event.text
                fresh = event.points > drawn_points  # redraw only when new points arrived (partials come every 0.15 s)
                drawn_points = event.points
                drawn = overlay_images([picture], event.grounding)[0] if fresh else None
                shown = picture_value([drafts.save(drawn.image)], event.grounding) if drawn else gr.skip()
                yield (chat_now, shown, legend_html(drawn.legend) if drawn else gr.skip(),
                       gr.skip(), gr.skip(), *streaming_updates(event.text, "Molmo2 is answering…"))  # fmt: skip
            elif isinstance(event, Failed):  # the conversation stays as it was before this question
                yield chat_messages(turns), *[gr.skip()] * 4, *failed_updates(event.message)
            elif isinstance(event, Answer):
                drafts.clear()
                chat_now[-1]["content"] = event.grounding.text or event.text
                drawn_legend = marks.legend(marks.image_points(event.display).get(1, ()))
                turns_now = [*turns, [text, event.text]]
                yield (chat_now, picture_value(event.overlays, event.display), legend_html(drawn_legend), turns_now,
                       "", *answer_updates(event))  # fmt: skip

    outputs = [chat, overlay, legend, history, question, *results.outputs()]
    inputs = {image, question, history, masks, *panel.inputs()}
    run = gr.on([ask.click, question.submit], answer, inputs, outputs, concurrency_id="gpu", api_visibility="private")
    stop.click(backend.stop, None, None, cancels=[run], queue=False, api_visibility="private")

    def reset():
        return [], [], picture_value([], empty=EMPTY), "", *[None] * 6

    new.click(reset, None, [history, chat, overlay, legend, *results.outputs()], queue=False, api_visibility="private")

    def uploaded(path):
        """A new image: a fresh conversation, and the picture as the model will see it (upright, RGB)."""
        cleared = reset()
        if not path:
            return *cleared, ""
        try:
            loaded = load_image(path)
        except MediaError as err:
            gr.Warning(str(err), title="Cannot use this image")
            return *cleared, f'<div class="upload-note error">{html.escape(str(err))}</div>'
        notes = "".join(f'<div class="upload-note">{html.escape(n)}</div>' for n in loaded.notes)
        return *cleared[:2], picture_value([Drafts(backend).save(loaded.image)]), *cleared[3:], notes

    image.change(uploaded, image, [history, chat, overlay, legend, *results.outputs(), upload_note],
                 api_visibility="private")  # fmt: skip
    return official
