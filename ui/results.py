"""What every answer shows: raw model text beside the parsed table, parse warnings, stage timings, and the export
bundle; built once per tab and filled from a `pipeline.Answer`."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

TABLE_HEADERS = ["object", "kind", "label", "id", "image / time", "frame", "x (0-1000)", "y (0-1000)", "x px", "y px"]
STAGES = [
    ("media_check", "media"),
    ("media_decode", "decode"),
    ("preprocess", "preprocess"),
    ("vision", "vision encoder"),
    ("prefill", "prefill"),
    ("decode", "generation"),
    ("sam2", "SAM 2"),
    ("render", "rendering"),
    ("total", "total"),
]


@dataclass
class ResultsPanel:
    status: gr.HTML
    raw: gr.Textbox
    table: gr.Dataframe
    notes: gr.HTML
    timings: gr.HTML
    files: gr.File

    def outputs(self) -> list[gr.components.Component]:
        return [self.status, self.raw, self.table, self.notes, self.timings, self.files]


def results_panel() -> ResultsPanel:
    status = gr.HTML("", elem_classes=["answer-status"])
    with gr.Accordion("Raw output, parsed points, timings and exports", open=True):
        with gr.Row(equal_height=False):
            raw = gr.Textbox(label="Raw model output", lines=10, max_lines=24, interactive=False, buttons=["copy"],
                             scale=1)  # fmt: skip
            table = gr.Dataframe(headers=TABLE_HEADERS, label="Parsed points", interactive=False, wrap=True,
                                 max_height=420, scale=2, elem_classes=["answer-table"])  # fmt: skip
        notes = gr.HTML("", elem_classes=["answer-notes"])
        timings = gr.HTML("", elem_classes=["answer-timings"])
        files = gr.File(label="Export bundle (zip, raw text, grounding JSON, CSV, masks, MP4, manifest)",
                        file_count="multiple", interactive=False, elem_classes=["answer-files"])  # fmt: skip
    return ResultsPanel(status, raw, table, notes, timings, files)


def status_line(message: str, kind: str = "info") -> str:
    return f'<div class="answer-status-line {kind}">{html.escape(message)}</div>'


def failed_updates(message: str) -> tuple:
    return status_line(message, "error"), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()


def streaming_updates(text: str, message: str) -> tuple:
    return status_line(message), text, gr.skip(), gr.skip(), gr.skip(), gr.skip()


def answer_updates(answer) -> tuple:
    """Final values for the panel's outputs (ResultsPanel.outputs() order)."""
    count = answer.grounding.count
    reason = {"stop": "", "length": " (stopped at the token limit)", "cancelled": " (stopped)"}[
        answer.result.finish_reason
    ]
    found = "no objects found" if not answer.grounding.objects else f"count {count}"
    summary = f"Done in {answer.timings.get('total', 0):.1f} s · {found}{reason}"
    files = [str(answer.files["bundle"]), *(str(p) for k, p in answer.files.items() if k != "bundle")]
    return (
        status_line(summary, "done"),
        answer.text,
        table_rows(answer),
        notes_html(answer),
        timings_html(answer),
        files,
    )


def table_rows(answer) -> list[list[Any]]:
    data = answer.display.to_dict(answer.display_layout)
    rows = []
    for number, obj in enumerate(data["objects"], start=1):
        for p in obj["points"]:
            rows.append([
                number, obj["kind"], obj["label"], p["id"], p["key"], p.get("frame", ""),
                round(p["x"] * 1000), round(p["y"] * 1000), _px(p.get("x_px")), _px(p.get("y_px")),
            ])  # fmt: skip
    return rows


def notes_html(answer) -> str:
    warnings = list(answer.display.to_dict(answer.display_layout)["warnings"])
    items = [f"<li>{html.escape(n)}</li>" for n in answer.notes]
    items += [f'<li class="warning">parse warning: {html.escape(w)}</li>' for w in warnings]
    if answer.result.reused_tokens:
        items.append(f"<li>reused {answer.result.reused_tokens} of {answer.result.prompt_tokens} prompt tokens "
                     "from the previous question (prefix cache)</li>")  # fmt: skip
    return f"<ul>{''.join(items)}</ul>" if items else ""


def timings_html(answer) -> str:
    t = answer.timings
    parts = [f"{label} {t[key]:.2f} s" for key, label in STAGES if key in t]
    if t.get("decode_tokens"):
        parts.insert(-1, f"{int(t['decode_tokens'])} tokens at {t['tokens_per_second']:.1f} tok/s")
    return '<div class="timings">Timings: ' + " · ".join(html.escape(p) for p in parts) + "</div>"


def _px(value) -> Any:
    return "" if value is None else round(value, 1)
