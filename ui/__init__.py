"""Gradio front end: the page (status line, settings, one tab per task, the API endpoints); each tab is a module."""

from __future__ import annotations

import gradio as gr

from ui.backend import Backend
from ui.model_slot import LOADING, ModelSlot
from ui.status import STATUS_CSS, status_html

CSS = (
    STATUS_CSS
    + """
.answer-status-line { font-size: 0.95rem; padding: 4px 0; }
.answer-status-line.done { color: #1b7f3b; }
.answer-status-line.error, .upload-note.error { color: #b00020; font-weight: 600; }
.answer-notes ul { margin: 4px 0 0 1.2em; font-size: 0.9rem; }
.answer-notes li.warning { color: #8a5300; }
.timings { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.video-plan { font-size: 0.9rem; }
.video-plan.error, .count-badge.disagree { color: #b00020; }
.count-badge { font-size: 1rem; padding: 6px 10px; border-radius: 6px; background: var(--block-background-fill); }
.count-badge.agree { color: #1b7f3b; }
.count-total { font-size: 1.05rem; margin: 4px 0; }
.progress { position: relative; height: 24px; border-radius: 6px; background: var(--block-background-fill);
            overflow: hidden; border: 1px solid var(--border-color-primary); }
.progress-fill { height: 100%; background: #56b4e9; transition: width 0.2s; }
.progress-text { position: absolute; inset: 0; display: flex; align-items: center; padding-left: 8px;
                 font-size: 0.85rem; }
.rate-question { font-size: 1.1rem; padding: 6px 0; }
.rate-task { font-size: 0.8rem; text-transform: uppercase; background: var(--block-background-fill);
             border-radius: 4px; padding: 1px 6px; margin-right: 6px; }
.rate-reveal { font-size: 1.05rem; color: #1b7f3b; }
.rate-message { font-size: 1rem; color: #8a5300; }
.rate-message.error { color: #b00020; }
"""
)


def build_demo(slot: ModelSlot, backend: Backend | None = None, ratings=None) -> gr.Blocks:
    """The page; `ratings` (a ratings.Store) adds the Compare & rate tab."""
    from ui.api import api_endpoints
    from ui.examples import show_official
    from ui.image_tab import image_tab
    from ui.multi_image_tab import multi_image_tab
    from ui.settings import settings_panel
    from ui.tracking_tab import tracking_tab
    from ui.video_tab import video_tab

    with gr.Blocks(title="Molmo2 grounding demo", delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown("# Molmo2: see the grounded answer")
        status = gr.HTML(status_html(slot.status()), elem_id="model-status")
        timer = gr.Timer(1.0)
        if backend is not None:
            panel = settings_panel(slot.name, backend.sam2_name)
            with gr.Tabs():
                official_image = image_tab(backend, panel)
                multi_image_tab(backend, panel)
                official_video = video_tab(backend, panel)
                official_tracking = tracking_tab(backend, panel)
                if ratings is not None:
                    from ui.rating_tab import rating_tab

                    rating_tab(ratings, backend)
            api_endpoints(backend)

            def switch(name):
                slot.switch(name)
                return status_html(slot.status()), gr.Timer(active=True)

            panel.model.change(switch, panel.model, [status, timer], api_visibility="private", concurrency_id="gpu")
            demo.load(lambda: show_official("image"), None, official_image, api_visibility="private")
            demo.load(lambda: show_official("video"), None, official_video, api_visibility="private")
            demo.load(lambda: show_official("tracking"), None, official_tracking, api_visibility="private")

        def refresh():
            current = slot.status()
            return status_html(current), gr.Timer(active=current.state == LOADING)

        timer.tick(refresh, outputs=[status, timer], api_visibility="private", queue=False)
        demo.load(refresh, outputs=[status, timer], api_visibility="private", queue=False)
    return demo
