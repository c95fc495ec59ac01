"""The status line at the top of the app: which model, on which device, and whether it is ready."""

from __future__ import annotations

import html
import re

from ui.model_slot import FAILED, LOADING, ModelStatus

_BADGE = {LOADING: ("#b26b00", "loading"), FAILED: ("#b00020", "failed"), "ready": ("#1b7f3b", "ready")}


def status_html(status: ModelStatus) -> str:
    colour, word = _BADGE[status.state]
    parts = [
        f'<span class="status-badge" style="background:{colour}">{word}</span>',
        f"<b>{html.escape(status.name)}</b> on <b>{html.escape(status.device)}</b> ({html.escape(status.dtype)})",
    ]
    if status.state == LOADING:
        parts.append(f"{html.escape(status.detail)}, {status.seconds:.0f} s")
    elif status.state == FAILED:
        detail = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(status.detail))  # commands to copy
        parts.append(f'<span class="status-error">{detail}</span>')
    else:
        parts.append(f"loaded in {status.seconds:.1f} s")
    line = " · ".join(parts)
    if status.random_weights:
        line += (
            '<div class="status-warning">tiny-random: a tiny model with random weights, for trying the app. '
            "Its answers are meaningless.</div>"
        )
    return f'<div class="model-status" data-state="{status.state}">{line}</div>'


STATUS_CSS = """
.model-status { font-size: 0.95rem; line-height: 1.6; }
.status-badge { color: #fff; border-radius: 4px; padding: 1px 8px; font-weight: 600; }
.status-error { color: #b00020; }
.status-warning { margin-top: 4px; padding: 4px 8px; border-left: 4px solid #b26b00; background: #fff4e0;
                  color: #4a2d00; }
"""
