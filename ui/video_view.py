"""Pieces the Video and Tracking tabs share: the cost line shown before a run, the player's value, the badge."""

from __future__ import annotations

import html

from pipeline import video_plan
from ui.backend import user_message
from visualization.marks import video_evidence
from visualization.player import player_value


def plan_html(path: str | None, max_frames: float, max_fps: float) -> str:
    """What the question will cost: frames Molmo2 sees and prompt tokens (or why the video cannot be used)."""
    if not path:
        return '<div class="video-plan">Upload a video (MP4, WebM, MOV, MKV; up to 10 minutes, 4K).</div>'
    try:
        plan = video_plan(path, int(max_frames), float(max_fps), None, None)
    except Exception as err:
        message = user_message(err)
        if message is None:
            raise
        return f'<div class="video-plan error">{html.escape(message)}</div>'
    info = plan["info"]
    every = plan["last"] / max(plan["frames"] - 1, 1)
    notes = "".join(f"<br>{html.escape(n)}" for n in info.notes)
    return (
        f'<div class="video-plan">{info.width}×{info.height}, {info.duration:.1f} s at {info.fps:.1f} fps '
        f"({html.escape(info.codec)}). Molmo2 will see <b>{plan['frames']} frames</b> (one every {every:.2f} s) "
        f"≈ <b>{plan['tokens'] / 1000:.1f}k prompt tokens</b>.{notes}</div>"
    )


def player_update(video: str, answer_or_grounding, info, frame_times, masks=None, mask_video=None, strip=None):
    return player_value(
        video,
        answer_or_grounding,
        frame_times=frame_times,
        duration=info.duration if info is not None else None,
        masks=masks,
        mask_video=mask_video,
        strip=strip,
        size=(info.width, info.height) if info is not None else None,
    )


def evidence(grounding, frame_times):
    return video_evidence(grounding, frame_times)


def count_badge(answer) -> str:
    """Molmo2's count next to the number of objects SAM 2 followed, flagged when they disagree."""
    if answer.masks is None:
        return ""
    summary = answer.masks.to_coco()["summary"]
    molmo, sam2 = summary.get("molmo2_count"), summary.get("sam2_objects")
    agree = summary.get("agree")
    mark, css = ("✓ agree", "agree") if agree else ("⚠ disagree", "disagree")
    return (
        f'<div class="count-badge {css}">Molmo2 counted <b>{molmo if molmo is not None else "—"}</b> · '
        f"SAM 2 followed <b>{sam2}</b> objects · {mark}</div>"
    )
