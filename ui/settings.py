"""The settings panel shared by every tab (defaults from product.md), and its values as `pipeline.Settings`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from inference.checkpoint import PUBLISHED_MODELS
from pipeline.task import DEFAULT_NEW_TOKENS, Settings

SAM2_CHOICES = ["tiny", "small", "base+", "large"]


@dataclass
class SettingsPanel:
    model: gr.Dropdown
    max_new_tokens: gr.Slider
    sampling: gr.Checkbox
    temperature: gr.Slider
    top_p: gr.Slider
    max_frames: gr.Slider
    max_fps: gr.Slider
    max_crops: gr.Slider
    sam2_size: gr.Dropdown

    def inputs(self) -> set[gr.components.Component]:
        """The components `read` needs, for an event whose inputs are a set (the handler gets a dict)."""
        return {
            self.max_new_tokens, self.sampling, self.temperature, self.top_p, self.max_frames, self.max_fps,
            self.max_crops, self.sam2_size,
        }  # fmt: skip

    def read(self, data: dict, masks: bool = False) -> Settings:
        """`pipeline.Settings` from an event's input dict; `masks` asks for SAM 2 at the chosen size."""
        return Settings(
            max_new_tokens=int(data[self.max_new_tokens]) or None,
            sampling=bool(data[self.sampling]),
            temperature=float(data[self.temperature]),
            top_p=float(data[self.top_p]),
            max_frames=int(data[self.max_frames]),
            max_fps=float(data[self.max_fps]),
            max_crops=int(data[self.max_crops]),
            sam2=str(data[self.sam2_size]) if masks else "off",
        )


def settings_panel(model_name: str, sam2_size: str) -> SettingsPanel:
    choices = list(dict.fromkeys([model_name, *PUBLISHED_MODELS]))
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        with gr.Row():
            model = gr.Dropdown(choices, value=model_name, label="Model", allow_custom_value=True, scale=2,
                                info="Molmo2-4B by default; 8B and O-7B load on selection")  # fmt: skip
            sam2 = gr.Dropdown(SAM2_CHOICES, value=sam2_size if sam2_size in SAM2_CHOICES else "small",
                               label="SAM 2.1 size", info="for masks: tiny is fastest, large is best")  # fmt: skip
        with gr.Row():
            tokens = gr.Slider(0, 8192, value=0, step=64, label="Max new tokens",
                               info=f"0 = the task's default {DEFAULT_NEW_TOKENS}")  # fmt: skip
            crops = gr.Slider(1, 24, value=8, step=1, label="Image crops", info="8 default, 24 for fine detail")
        with gr.Row():
            frames = gr.Slider(2, 384, value=128, step=1, label="Video frames", info="at most; 128 default, 384 max")
            fps = gr.Slider(0.5, 8, value=2, step=0.5, label="Frames per second (cap)", info="2 default")
        with gr.Row():
            sampling = gr.Checkbox(value=False, label="Sample instead of greedy decoding")
            temperature = gr.Slider(0.05, 1.5, value=0.7, step=0.05, label="Temperature")
            top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p")
    return SettingsPanel(model, tokens, sampling, temperature, top_p, frames, fps, crops, sam2)
