"""Gradio front end: the page layout; each tab lives in its own module."""

from __future__ import annotations

import gradio as gr

from ui.model_slot import LOADING, ModelSlot
from ui.status import STATUS_CSS, status_html

CSS = STATUS_CSS


def build_demo(slot: ModelSlot) -> gr.Blocks:
    with gr.Blocks(title="Molmo2 grounding demo", delete_cache=(3600, 7200)) as demo:
        gr.Markdown("# Molmo2: see the grounded answer")
        status = gr.HTML(status_html(slot.status()), elem_id="model-status")
        timer = gr.Timer(1.0)

        def refresh():
            current = slot.status()
            return status_html(current), gr.Timer(active=current.state == LOADING)

        timer.tick(refresh, outputs=[status, timer], api_visibility="private", queue=False)
        demo.load(refresh, outputs=[status, timer], api_visibility="private", queue=False)
    return demo
